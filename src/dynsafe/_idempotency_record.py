"""The idempotency record: its attributes, its states and the conditions on them.

One item per idempotency key. Its partition key holds ``"{prefix}#{key}"``; on a
table with a sort key, the sort key holds a fixed value the store is given. Its other
attributes, by role (each name can be changed):

==================  ===============================================================
role                what it holds
==================  ===============================================================
``status``          ``IN_PROGRESS`` while a caller holds the claim, then
                    ``COMPLETED``
``owner``           the claim's owner token: random, one per claim
``lease_expires``   when the claim may be taken over, epoch seconds (while
                    ``IN_PROGRESS``)
``expires_at``      when the record expires, whole epoch seconds; also the table's
                    TTL attribute, so DynamoDB deletes it some time later
``payload_hash``    SHA-256 of the chosen payload parts, never the payload itself
``result``          the serialized result (``COMPLETED``)
``error``           a stored exception, type and arguments as JSON (``COMPLETED``)
==================  ===============================================================

This module knows items and conditions, not requests: the store sends them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._expressions import literal
from dynsafe._idempotency_values import decode, encode
from dynsafe.errors import DynsafeError, InvalidValueError, ValidationError

__all__ = ["COMPLETED", "IN_PROGRESS", "IdempotencyRecord", "RecordNames"]

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class RecordNames:
    """The attribute names of a record, by role."""

    status: str = "status"
    owner: str = "owner"
    lease_expires: str = "lease_expires"
    expires_at: str = "expires_at"
    payload_hash: str = "payload_hash"
    result: str = "result"
    error: str = "error"

    @classmethod
    def of(cls, renames: Mapping[str, str] | None) -> RecordNames:
        """Return the default names with some roles renamed.

        Raises:
            ValidationError: an unknown role, a name that is not a non-empty string,
                or two roles with one name.
        """
        roles = {item.name for item in fields(cls)}
        unknown = sorted(set(renames or {}) - roles)
        if unknown:
            raise ValidationError(
                f"unknown record attribute role(s) {', '.join(unknown)};"
                f" the roles are {', '.join(sorted(roles))}"
            )
        names = cls(**dict(renames or {}))
        names.check(())
        return names

    def all(self) -> tuple[str, ...]:
        """Every attribute name, in role order."""
        return tuple(getattr(self, item.name) for item in fields(self))

    def check(self, key_names: Sequence[str]) -> None:
        """Refuse names that are empty, repeated, or the same as a key attribute.

        Raises:
            ValidationError: they are.
        """
        names = self.all()
        for name in names:
            if not isinstance(name, str) or not name:
                raise ValidationError(
                    f"attribute names are non-empty strings: {name!r}"
                )
        clashes = sorted(
            {n for n in names if names.count(n) > 1} | (set(names) & set(key_names))
        )
        if clashes:
            raise ValidationError(
                f"record attribute name(s) {', '.join(clashes)} used twice or by the"
                " table's key; rename them with attribute_names="
            )


@dataclass(frozen=True)
class IdempotencyRecord:
    """An idempotency record as stored, for inspection.

    Attributes:
        key: The idempotency key, without the prefix.
        status: ``"IN_PROGRESS"`` or ``"COMPLETED"``.
        owner: The owner token of the claim that wrote the record.
        lease_expires: When an ``IN_PROGRESS`` claim may be taken over, epoch
            seconds; ``None`` once completed.
        expires_at: When the record expires, epoch seconds.
        payload_hash: The SHA-256 of the payload parts, in hex.
        expired: Whether the record had expired by the store's clock when it was read;
            DynamoDB deletes expired items lazily, so they can still be read.
        result_text: The serialized result, when completed with a result.
        error: The stored exception as ``{"type": ..., "args": [...]}``, when
            completed with one.
    """

    key: str
    status: str
    owner: str | None
    lease_expires: float | None
    expires_at: int | None
    payload_hash: str | None
    expired: bool
    result_text: str | None = field(default=None, repr=False)
    error: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def completed(self) -> bool:
        """Whether the call finished and its outcome is stored."""
        return self.status == COMPLETED


def _number(value: Any) -> float | None:
    return float(value) if value is not None else None


def read_record(
    item: Mapping[str, Any], key: str, names: RecordNames, now: float
) -> IdempotencyRecord:
    """Return the record stored in ``item``, as read at ``now``.

    Raises:
        DynsafeError: the item is not an idempotency record.
    """
    status = item.get(names.status)
    if status not in (IN_PROGRESS, COMPLETED):
        raise DynsafeError(
            f"the item under idempotency key {key!r} is not an idempotency record"
            f" (attribute {names.status!r} is not {IN_PROGRESS} or {COMPLETED})"
        )
    expires_at = item.get(names.expires_at)
    error_text = item.get(names.error)
    return IdempotencyRecord(
        key=key,
        status=str(status),
        owner=item.get(names.owner),
        lease_expires=_number(item.get(names.lease_expires)),
        expires_at=int(expires_at) if expires_at is not None else None,
        payload_hash=item.get(names.payload_hash),
        expired=expires_at is not None and expires_at < now,
        result_text=item.get(names.result),
        error=json.loads(error_text) if isinstance(error_text, str) else None,
    )


def claimable(record: IdempotencyRecord, now: float, payload_hash: str) -> bool:
    """Whether :func:`claim_condition` would let a new claim replace ``record``."""
    if record.expired:
        return True
    return (
        record.status == IN_PROGRESS
        and record.lease_expires is not None
        and record.lease_expires < now
        and record.payload_hash == payload_hash
    )


def claim_condition(
    partition_key: str, names: RecordNames, now: float, payload_hash: str
) -> ConditionBase:
    """The condition of a claim: no live record, or an abandoned one, is there."""
    # No record under this key yet.
    absent = literal(partition_key).not_exists()
    # The record outlived its TTL; DynamoDB deletes expired items late, if at all.
    expired = literal(names.expires_at).lt(now)
    # A claim whose holder stopped renewing its lease (crashed, paused, partitioned),
    # taken over only by a caller with the same payload.
    abandoned = (
        literal(names.status).eq(IN_PROGRESS)
        & literal(names.lease_expires).lt(now)
        & literal(names.payload_hash).eq(payload_hash)
    )
    return absent | expired | abandoned


def owner_condition(names: RecordNames, token: str) -> ConditionBase:
    """The fence of every later write of a claim: the caller still holds it."""
    # A takeover wrote another token, so a stale holder's write fails here.
    owned = literal(names.owner).eq(token)
    # Still running: a completed record is never overwritten or deleted.
    running = literal(names.status).eq(IN_PROGRESS)
    return owned & running


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def encode_error(error: BaseException) -> str:
    """Return an exception's type and arguments as JSON, to store and replay."""
    try:
        arguments = encode(list(error.args))
    except InvalidValueError:
        # Arguments JSON cannot hold are replayed as the message alone.
        arguments = [str(error)]
    document = {"type": _qualified_name(type(error)), "args": arguments}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


def _resolve(path: str) -> type[BaseException] | None:
    # Only classes already imported are resolved: data read from the table never
    # decides which module gets imported.
    module_name, _, qualname = path.partition(":")
    found: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    return None


def rebuild_error(
    document: Mapping[str, Any], allowed: Sequence[type[BaseException]]
) -> BaseException:
    """Return the stored exception, rebuilt as ``cls(*args)``.

    Raises:
        DynsafeError: its type is not one of ``allowed`` (or a subclass), or not
            imported in this process.
    """
    path = str(document.get("type"))
    cls = _resolve(path)
    if cls is None or not issubclass(cls, tuple(allowed)):
        raise DynsafeError(
            f"the stored exception {path} is not among the types this call replays"
        )
    arguments = decode(document.get("args") or [])
    try:
        return cls(*arguments)
    except Exception:
        # A constructor with other parameters: build it as BaseException does.
        error = cls.__new__(cls, *arguments)
        error.args = tuple(arguments)
        return error
