"""The dynsafe error tree and the one translator from botocore errors.

Every error dynsafe raises hangs from :class:`DynsafeError`::

    DynsafeError
    ├── ConflictError                  a write lost a race or its condition failed
    │   ├── VersionConflictError       the stored version is not the expected one
    │   ├── ItemExistsError            create on a key that already exists
    │   ├── ConditionFailedError       a condition the caller gave did not hold
    │   │   ├── BoundExceededError     a counter would pass its floor or ceiling
    │   │   └── NotOwnerError          the item belongs to another owner
    │   ├── TransactionCanceledError   a transaction was cancelled, with reasons
    │   ├── TransactionConflictError   another transaction held one of the items
    │   ├── TransactionInProgressError the same token is still being committed
    │   └── IdempotencyInProgressError another caller holds the idempotency key
    ├── ItemNotFoundError              the item does not exist (also a LookupError)
    ├── ThrottledError                 throttling left after botocore's own retries
    ├── TableNotFoundError             the table does not exist or is not active
    ├── OutcomeUnknownError            a write may or may not have been applied
    ├── TransportError                 a request got no answer (never a write)
    ├── ValidationError                a malformed request (also a ValueError)
    │   ├── InvalidValueError          a value DynamoDB cannot store (also a TypeError)
    │   ├── ItemTooLargeError          an item or request over DynamoDB's size limit
    │   └── IdempotentParameterMismatchError  a token reused with other parameters
    ├── IdempotencyKeyMismatchError    same idempotency key, different payload
    └── IdempotencyOwnershipError      a fenced idempotency owner lost its claim

Each class says whether another attempt can succeed (:attr:`DynsafeError.retryable`),
so retry policies never guess from the type. Errors carry structured fields, chain the
botocore error with ``from``, pickle, and their ``str()`` is one line that never
contains item contents.

:func:`translate` is the only place a botocore error becomes a dynsafe error; its
table of codes lives in ``_translate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "BoundExceededError",
    "CancellationReason",
    "ConditionFailedError",
    "ConflictError",
    "DynsafeError",
    "IdempotencyInProgressError",
    "IdempotencyKeyMismatchError",
    "IdempotencyOwnershipError",
    "IdempotentParameterMismatchError",
    "InvalidValueError",
    "ItemExistsError",
    "ItemNotFoundError",
    "ItemTooLargeError",
    "NotOwnerError",
    "OutcomeUnknownError",
    "TableNotFoundError",
    "ThrottledError",
    "TransactionCanceledError",
    "TransactionConflictError",
    "TransactionInProgressError",
    "TransportError",
    "ValidationError",
    "VersionConflictError",
    "translate",
]

Key = Mapping[str, Any]


def _rebuild(
    cls: type[DynsafeError], args: tuple[Any, ...], state: dict[str, Any]
) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class DynsafeError(Exception):
    """The root of every error dynsafe raises.

    Attributes:
        message: What happened, in one line, without item contents.
        table: The table the request went to, when known.
        key: The key of the item concerned, when known.
        code: The DynamoDB error code, when the error came from DynamoDB.
        operation: The DynamoDB operation, such as ``UpdateItem``.
        attempts: How many attempts a retry policy made before giving up, or 1.
    """

    retryable: ClassVar[bool] = False
    """Whether another attempt of the same request can succeed."""

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        key: Key | None = None,
        code: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.table = table
        self.key = dict(key) if key is not None else None
        self.code = code
        self.operation = operation
        self.attempts = 1

    def __str__(self) -> str:
        parts = [self.message]
        if self.table is not None:
            parts.append(f"table={self.table}")
        if self.key is not None:
            parts.append(f"key={_describe_key(self.key)}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.attempts > 1:
            parts.append(f"attempts={self.attempts}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors defeat Exception's default pickling.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _describe_key(key: Key) -> str:
    return "{" + ", ".join(f"{name}={key[name]!r}" for name in sorted(key)) + "}"


class ConflictError(DynsafeError):
    """A write lost a race with another writer, or its condition did not hold.

    Attributes:
        item: The item as stored when the write failed, as Python values, when
            DynamoDB returned it (``ReturnValuesOnConditionCheckFailure=ALL_OLD``).
            ``None`` when it did not come back or the item does not exist; see
            :attr:`item_returned` to tell the two apart.
        item_returned: Whether the server sent the current item back.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        item: dict[str, Any] | None = None,
        item_returned: bool = False,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.item = item
        self.item_returned = item_returned


class VersionConflictError(ConflictError):
    """The stored version is not the one the write expected.

    Attributes:
        expected_version: The version the write was conditioned on (``None`` for
            "absent").
        actual_version: The version stored, when the current item is known.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        expected_version: Any = None,
        actual_version: Any = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.expected_version = expected_version
        self.actual_version = actual_version

    def __str__(self) -> str:
        return (
            f"{super().__str__()} expected_version={self.expected_version!r}"
            f" actual_version={self.actual_version!r}"
        )


class ItemExistsError(ConflictError):
    """A create found an item already stored under the key."""

    retryable = False


class ConditionFailedError(ConflictError):
    """A condition the caller gave did not hold; never retried."""

    retryable = False


class BoundExceededError(ConditionFailedError):
    """A counter change would take the value past its floor or ceiling.

    Attributes:
        floor: The lowest value allowed, or ``None``.
        ceiling: The highest value allowed, or ``None``.
        delta: The change that was refused.
    """

    def __init__(
        self,
        message: str,
        *,
        floor: Any = None,
        ceiling: Any = None,
        delta: Any = None,
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.floor = floor
        self.ceiling = ceiling
        self.delta = delta


class NotOwnerError(ConditionFailedError):
    """The item belongs to another owner, so the caller may not change it.

    Attributes:
        owner: The identity the caller wrote as.
    """

    def __init__(self, message: str, *, owner: Any = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.owner = owner


@dataclass(frozen=True)
class CancellationReason:
    """Why one action of a cancelled transaction failed, or ``code=None`` if it did not.

    Attributes:
        index: The action's position, in the order the caller added the actions.
        action: The kind of action: ``put``, ``update``, ``delete``, ``check``, their
            versioned forms (``put_versioned``...), or ``get`` in a transactional read.
        table: The action's table.
        key: The action's key.
        code: The DynamoDB code, such as ``ConditionalCheckFailed``, or ``None``.
        message: DynamoDB's message for this action, if any.
        item: The current item as Python values, when DynamoDB returned it.
        version_conflict: Whether the failed condition was the version check a
            versioned action added, rather than a condition the caller gave.
    """

    index: int
    action: str | None = None
    table: str | None = None
    key: dict[str, Any] | None = None
    code: str | None = None
    message: str | None = None
    item: dict[str, Any] | None = field(default=None, repr=False)
    version_conflict: bool = False

    @property
    def failed(self) -> bool:
        """Whether this action is one of the causes of the cancellation."""
        return self.code not in (None, "None")

    @property
    def retryable(self) -> bool:
        """Whether this failure alone would pass on another attempt of the request."""
        return self.code in _RETRYABLE_CANCELLATIONS


_RETRYABLE_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
"""Cancellation codes caused by other requests or by load, not by the request."""


class TransactionCanceledError(ConflictError):
    """DynamoDB cancelled a transaction; nothing of it was written.

    Attributes:
        reasons: One :class:`CancellationReason` per action, in the order the
            caller added them.
    """

    def __init__(
        self,
        message: str,
        *,
        reasons: Sequence[CancellationReason] = (),
        **context: Any,
    ) -> None:
        super().__init__(message, **context)
        self.reasons = list(reasons)

    @property
    def failures(self) -> list[CancellationReason]:
        """The reasons of the actions that caused the cancellation."""
        return [reason for reason in self.reasons if reason.failed]

    @property
    def codes(self) -> list[str]:
        """The distinct failure codes, in action order."""
        seen: dict[str, None] = {}
        for reason in self.failures:
            seen.setdefault(str(reason.code), None)
        return list(seen)

    @property
    def conflicted(self) -> bool:
        """Whether every failure is a conflict with another transaction."""
        codes = self.codes
        return bool(codes) and all(code == "TransactionConflict" for code in codes)

    @property
    def version_conflicts(self) -> list[CancellationReason]:
        """The failed version checks of versioned actions."""
        return [reason for reason in self.failures if reason.version_conflict]

    @property
    def conditions_failed(self) -> list[CancellationReason]:
        """The failed conditions the caller gave, version checks left out."""
        return [
            reason
            for reason in self.failures
            if reason.code == "ConditionalCheckFailed" and not reason.version_conflict
        ]

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """Retry only when every failure came from other requests or from load."""
        failures = self.failures
        return bool(failures) and all(reason.retryable for reason in failures)

    def __str__(self) -> str:
        failed = ", ".join(
            f"#{reason.index} {reason.action or 'action'} {reason.code}"
            + (" (version)" if reason.version_conflict else "")
            for reason in self.failures
        )
        return f"{super().__str__()} failed=[{failed}]"


class TransactionConflictError(ConflictError):
    """Another transaction was writing one of the items at the same time."""

    retryable = True


class TransactionInProgressError(ConflictError):
    """A transaction with the same client request token is still being committed."""

    retryable = True


class IdempotencyInProgressError(ConflictError):
    """Another caller holds the idempotency key and has not finished.

    Attributes:
        retry_after: Seconds after which the claim may be finished or expired.
    """

    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, **context: Any
    ) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after


class ItemNotFoundError(DynsafeError, LookupError):
    """The item does not exist."""


class ThrottledError(DynsafeError):
    """DynamoDB still throttled the request after botocore's own retries."""

    retryable = True


class TableNotFoundError(DynsafeError, LookupError):
    """The table does not exist, or is not active yet."""


class OutcomeUnknownError(DynsafeError):
    """A write may or may not have been applied, and dynsafe could not tell which.

    Raised only when nothing on the item says whether the write landed. The caller
    must read the item before trying again.
    """


class TransportError(DynsafeError):
    """A read got no answer (timeout, connection reset); safe to send again."""

    retryable = True


class ValidationError(DynsafeError, ValueError):
    """A request is malformed: dynsafe refused it, or DynamoDB did.

    Nothing was written.
    """


class InvalidValueError(ValidationError, TypeError):
    """A value cannot be stored in DynamoDB as it is: NaN, an object, an empty set.

    Also a ``TypeError``, since it covers unsupported types as well as bad values.
    """


class ItemTooLargeError(ValidationError):
    """An item or a request is over DynamoDB's size limit."""


class IdempotentParameterMismatchError(ValidationError):
    """A client request token was reused with different parameters."""


class IdempotencyKeyMismatchError(DynsafeError):
    """The idempotency key was used before with a different payload."""


class IdempotencyOwnershipError(DynsafeError):
    """The caller's idempotency claim expired and another caller took it over."""


# -- translation ----------------------------------------------------------------------


def translate(
    error: BaseException,
    *,
    operation: str,
    table: str | None = None,
    key: Key | None = None,
    actions: Sequence[tuple[str, str, Key]] = (),
) -> DynsafeError:
    """Turn a botocore error into the matching dynsafe error.

    The caller raises the result ``from`` the botocore error.

    Args:
        error: What botocore raised.
        operation: The DynamoDB operation that was sent.
        table: The table, for the error's context.
        key: The item's key, for the error's context.
        actions: For a transaction, ``(kind, table, key)`` of each action in order,
            so that cancellation reasons name the caller's actions.

    Returns:
        The dynsafe error; an unknown code becomes a plain :class:`DynsafeError`.
    """
    # Imported here: the translator converts returned items with the codec, and
    # the codec raises errors of this module, so neither can load the other first.
    from dynsafe._translate import translate_error

    return translate_error(
        error, operation=operation, table=table, key=key, actions=actions
    )
