"""One counter on one item and its writes: one ``UpdateItem`` per add.

Roles:

- :class:`Counter` validates an add into an
  :class:`~dynsafe._counter_requests.AddRequest` (``_request``), sends it under its
  retry policy (``_send``) and explains a failed condition: counted before under its
  token, out of bounds, or planned on a stale state (``_explain``);
- the token of an add is kept on the item by ``_counter_tokens.Tokens``, so that an
  add resent after a lost response is counted once;
- plain adds to one counter from threads of this process wait in one
  :class:`~dynsafe.combining.Combiner` queue and share one write where that refuses
  no add that would pass alone.

The public home of :class:`Counter` is ``dynsafe.counter``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._counter_requests import (
    AddRequest,
    Number,
    bounds_condition,
    check_number,
    merged,
    value_in,
    values_after_each,
)
from dynsafe._counter_tokens import Tokens, check_token, check_window, digest
from dynsafe._expressions import Update, all_of
from dynsafe._table import Table, TableLike
from dynsafe._versioning import Versioning
from dynsafe.combining import Combiner, Failed
from dynsafe.errors import (
    BoundExceededError,
    ConditionFailedError,
    ConflictError,
    DynsafeError,
    OutcomeUnknownError,
    ValidationError,
)
from dynsafe.retry import DEFAULT_POLICY, RetryPolicy

__all__ = ["Counter", "check_attribute"]

# Named for the public module, where callers look for it.
logger = logging.getLogger("dynsafe.counter")

_PLAN_ROUNDS = 4


class _LostResponseError(OutcomeUnknownError):
    """An add with a token lost its response: resending it is safe."""

    retryable = True


@dataclass
class _Call:
    """One call of ``Counter._send``: when it started, how many responses it lost."""

    started: float
    lost: int = 0


# -- the counter -----------------------------------------------------------------------


_COMBINER: Combiner[AddRequest] = Combiner(max_batch=64)
"""The queues of plain adds waiting to share a write, per counter, process-wide."""


def check_attribute(table: Table, attribute: Any) -> str:
    """Return ``attribute`` if it can be a counter on ``table``'s items.

    Raises:
        ValidationError: it is not a non-empty string, or it is a key attribute.
    """
    if not isinstance(attribute, str) or not attribute:
        raise ValidationError(
            f"a counter attribute is a non-empty string, not {attribute!r}"
        )
    if attribute in table.key_names:
        raise ValidationError(
            f"table {table.name!r}: {attribute!r} is a key attribute and cannot be"
            " a counter"
        )
    return attribute


def _versioning_of(
    bump_version: bool | Versioning, attribute: str
) -> Versioning | None:
    if bump_version is False:
        return None
    versioning = Versioning() if bump_version is True else bump_version
    if not isinstance(versioning, Versioning):
        raise ValidationError(
            f"bump_version is True, False or a Versioning, not {bump_version!r}"
        )
    if attribute in versioning.managed:
        raise ValidationError(
            f"{attribute!r} is managed by versioning and cannot be a counter"
        )
    return versioning


class Counter:
    """A number on one item that many writers add to at once without losing any add.

    Each :meth:`add` is one ``UpdateItem`` with ``ADD`` that returns ``UPDATED_NEW``;
    nothing is read first, and a floor or ceiling is the condition of that request.
    An absent item or attribute counts as 0 and is created by the first add. The
    counter writes its attribute and, with tokens, ``<attribute>#tokens#0``, ``#1``
    and ``#generation``; a versioned item's version and write tokens are left alone
    unless ``bump_version`` is given.

    **Exactly once.** An add with ``token=`` is counted once however often it is
    sent: the same request stores a 12-byte digest of the token on the item, on the
    condition that it is not there yet. A token is kept for more than
    ``token_window`` seconds and less than twice that, by the writers' clocks, and
    dynsafe resends an add only within half the window. Cost: still one request,
    but DynamoDB charges each write for the whole item, which carries about 12 bytes
    per tokened add of the last two windows (1 add/s with the default 300 s window:
    about 7 KB, so up to 7 more write units per add); at each new window, one more
    ``UpdateItem`` per ``Counter`` object. Without a token, an add whose response
    was lost may or may not have counted and is never resent by dynsafe: it raises
    :class:`OutcomeUnknownError`. See ``docs/counters.md`` for the details.

    Safe to share between threads, and to use from many processes and hosts at once.

    Args:
        table: A boto3 ``Table`` resource or a :class:`dynsafe.Table`.
        key: The item's key.
        attribute: The counter's attribute; not a key attribute.
        policy: When to resend after throttling or, with a token, a lost response;
            the default :class:`RetryPolicy` if ``None``.
        token_window: How long a token is remembered at least, in seconds.
        bump_version: ``True`` to also add 1 to the item's ``version`` attribute
            on each add (``start`` when absent), or a ``Versioning`` naming it.
        clock: The wall clock, in seconds, that picks token generations.

    Raises:
        ValidationError: the key, the attribute or an option is invalid. The first
            use of a table given without its key schema sends one ``DescribeTable``.

    Example:
        >>> views = dynsafe.Counter(table, {"pk": "page#home"}, "views")
        >>> views.add(1)
        1
    """

    def __init__(
        self,
        table: TableLike,
        key: Mapping[str, Any],
        attribute: str,
        *,
        policy: RetryPolicy | None = None,
        token_window: float = 300.0,
        bump_version: bool | Versioning = False,
        clock: Callable[[], float] = time.time,
        combine: bool = True,
    ) -> None:
        self.table = Table.of(table)
        self.key = self.table.check_key(key)
        self.attribute = check_attribute(self.table, attribute)
        self.policy = policy if policy is not None else DEFAULT_POLICY
        self._tokens = Tokens.of(attribute, check_window(token_window))
        self._versioning = _versioning_of(bump_version, attribute)
        self._clock = clock
        # The token generation last seen on the item: a hint, never trusted.
        self._seen: int | None = None
        # Plain adds to one counter from threads of this process share one write,
        # whichever Counter object each thread holds.
        self.combine = combine and self._versioning is None
        self._combining_key = (
            id(self.table.client),
            self.table.name,
            tuple(self.key[name] for name in self.table.key_names),
            self.attribute,
        )

    def __repr__(self) -> str:
        return f"dynsafe.Counter({self.table.name!r}, {self.key!r}, {self.attribute!r})"

    def add(
        self,
        delta: Number,
        *,
        token: str | None = None,
        floor: Number | None = None,
        ceiling: Number | None = None,
    ) -> Number:
        """Add ``delta`` and return the new value.

        Args:
            delta: An ``int`` or a ``Decimal``; negative to subtract.
            token: Names this add, so that it is counted once however often it is
                sent (within ``token_window``). Adding with a token seen before
                changes nothing and returns the current value.
            floor: Refuse the add if the value would end below this.
            ceiling: Refuse the add if the value would end above this.

        Returns:
            The value after the add: an ``int`` when whole, else a ``Decimal``.

        Raises:
            InvalidValueError: ``delta`` or a bound is not an int or a Decimal, or is
                not a number DynamoDB can store. Nothing is sent.
            ValidationError: ``floor`` is above ``ceiling``, or the stored attribute
                is not a number.
            BoundExceededError: the add would pass the floor or the ceiling; never
                retried. ``error.item`` is the stored item when it is known.
            OutcomeUnknownError: the response was lost and there is no token, or the
                retries with a token ran out.
            ThrottledError: throttling outlasted the retry policy.
            ConflictError: the item kept changing under every attempt (rare: only
                where a failed condition must be explained by a separate read).
        """
        request = self._request(delta, token=token, floor=floor, ceiling=ceiling)
        if self.combine and request.token is None:
            result: Number = _COMBINER.submit(
                self._combining_key, request, self._send_batch
            )
            return result
        return self._send(request)

    def value(self, *, consistent: bool = True) -> Number:
        """Return the counter's value; 0 when the item or the attribute is absent.

        One ``GetItem``, strongly consistent unless ``consistent=False`` (half the
        read units: one per 4 KB of item when consistent).

        Raises:
            ValidationError: the stored attribute is not a number.
        """
        return value_in(self.table.get(self.key, consistent=consistent), self.attribute)

    # -- combined adds ---------------------------------------------------------------

    def _send_batch(self, requests: Sequence[AddRequest]) -> list[Number | Failed]:
        """Send queued adds as one ``ADD`` where that refuses no one who would pass.

        Each caller gets the value after its own add, in arrival order. Adds whose
        bounds could refuse a different caller once merged are sent one by one.
        """
        combined = merged(requests)
        if combined is not None:
            try:
                total = self._send(combined)
            except BoundExceededError:
                pass  # some of them may still fit: ask one by one, in order
            except DynsafeError as error:
                return [Failed(error)] * len(requests)
            else:
                return list(values_after_each(total, requests))
        return [self._send_alone(request) for request in requests]

    def _send_alone(self, request: AddRequest) -> Number | Failed:
        try:
            return self._send(request)
        except DynsafeError as error:
            return Failed(error)

    # -- one add: build, then send and interpret ---------------------------------------

    def _request(
        self,
        delta: Any,
        *,
        token: Any = None,
        floor: Any = None,
        ceiling: Any = None,
    ) -> AddRequest:
        """Validate one add; nothing is sent."""
        checked = check_number(delta, "a counter delta")
        low = None if floor is None else check_number(floor, "a floor")
        high = None if ceiling is None else check_number(ceiling, "a ceiling")
        if low is not None and high is not None and low > high:
            raise ValidationError(f"floor {low} is above ceiling {high}")
        return AddRequest(checked, check_token(token), low, high)

    def _send(self, request: AddRequest) -> Number:
        """Send ``request`` under the policy; return the counter's new value.

        Raises:
            DynsafeError: as :meth:`add`.
        """
        call = _Call(self._clock())
        try:
            return self.policy.call(self._attempt, request, call)
        except DynsafeError as error:
            if call.lost == 0 or type(error) is OutcomeUnknownError:
                raise
            # An earlier attempt may have landed: whatever the last one said,
            # whether the add counted is unknown (and the token makes it safe to
            # send again).
            then = (
                ""
                if isinstance(error, _LostResponseError)
                else f", then failed with {type(error).__name__}"
            )
            unknown = OutcomeUnknownError(
                f"UpdateItem lost its response {call.lost} time(s){then}: the add"
                " was counted once or not at all; send it again with the same token"
                " within token_window to make sure",
                table=self.table.name,
                key=self.key,
                operation="UpdateItem",
            )
            unknown.attempts = error.attempts
            raise unknown from error

    def _attempt(self, request: AddRequest, call: _Call) -> Number:
        for _ in range(_PLAN_ROUNDS):
            value = self._try(request, call)
            if value is not None:
                return value
        raise ConflictError(
            f"counter {self.attribute!r} changed between each failed condition and"
            " the read that explained it",
            table=self.table.name,
            key=self.key,
        )

    def _try(self, request: AddRequest, call: _Call) -> Number | None:
        """Send one ``UpdateItem``; ``None`` when its plan was stale."""
        update, condition = self._plan(request)
        try:
            attributes = self.table.update(
                self.key,
                update,
                condition=condition,
                return_values="UPDATED_NEW",
                return_old_on_failure=condition is not None,
            )
        except ConditionFailedError as failure:
            return self._explain(request, failure)
        except OutcomeUnknownError as error:
            raise self._lost(request, error, call) from error
        except ValidationError as error:
            raise self._clarify(error) from error
        seen = self._tokens.stored_generation(attributes)
        if seen is not None:
            self._seen = seen
        return value_in(attributes, self.attribute)

    def _plan(self, request: AddRequest) -> tuple[Update, ConditionBase | None]:
        update = Update().add(self.attribute, request.delta)
        if self._versioning is not None:
            start = self._versioning.start - 1
            update.increment(self._versioning.attribute, 1, start=start)
        tokens = None
        if request.token is not None:
            now = self._tokens.generation(self._clock())
            token_digest = digest(request.token)
            label = self._tokens.record(update, token_digest, now, self._seen)
            tokens = label & self._tokens.absent(token_digest)
        return update, all_of(tokens, bounds_condition(self.attribute, request))

    def _explain(
        self, request: AddRequest, failure: ConditionFailedError
    ) -> Number | None:
        """Tell why the condition failed: counted before, out of bounds, or stale."""
        # DynamoDB sends the item back with a failed condition when it exists;
        # dynalite never does, and then one consistent read tells.
        item = failure.item if failure.item_returned else self.table.get(self.key)
        if request.token is not None and self._tokens.holds(
            item, digest(request.token)
        ):
            logger.debug("add to %s already counted under its token", self.attribute)
            return value_in(item, self.attribute)
        current = value_in(item, self.attribute)
        if request.bounded and not request.allows(current):
            raise self._bound_error(request, failure, item) from failure
        self._seen = self._tokens.stored_generation(item)
        logger.debug("add to %s planned on a stale state; again", self.attribute)
        return None

    def _bound_error(
        self,
        request: AddRequest,
        failure: ConditionFailedError,
        item: dict[str, Any] | None,
    ) -> BoundExceededError:
        bounds = [
            f"{name} {bound}"
            for name, bound in (("floor", request.floor), ("ceiling", request.ceiling))
            if bound is not None
        ]
        return BoundExceededError(
            f"adding {request.delta} to counter {self.attribute!r} would pass its"
            f" {' and '.join(bounds)}",
            floor=request.floor,
            ceiling=request.ceiling,
            delta=request.delta,
            item=item,
            item_returned=item is not None,
            table=self.table.name,
            key=self.key,
            code=failure.code,
            operation="UpdateItem",
        )

    def _lost(
        self, request: AddRequest, error: OutcomeUnknownError, call: _Call
    ) -> OutcomeUnknownError:
        context: dict[str, Any] = {
            "table": self.table.name,
            "key": self.key,
            "operation": "UpdateItem",
        }
        if request.token is None:
            return OutcomeUnknownError(
                f"UpdateItem on counter {self.attribute!r} got no answer: the add may"
                " or may not have been counted; pass token= to make it safe to retry",
                **context,
            )
        call.lost += 1
        if self._clock() - call.started > self._tokens.window / 2:
            return OutcomeUnknownError(
                "UpdateItem got no answer and half the token window has passed; a"
                " resend could no longer be recognised",
                **context,
            )
        logger.debug("add to %s lost its response; resending", self.attribute)
        return _LostResponseError("UpdateItem got no answer; resending", **context)

    def _clarify(self, error: ValidationError) -> ValidationError:
        if "incorrect data type" not in error.message:
            return error
        return ValidationError(
            f"counter attribute {self.attribute!r} (or its token attributes) on the"
            " stored item is not a number: DynamoDB cannot add to it",
            table=self.table.name,
            key=self.key,
            code=error.code,
            operation="UpdateItem",
        )
