"""The idempotency store: claim a key, run once, store the outcome, replay it.

The path of one call:

1. *claim*: one conditional ``PutItem`` writes an ``IN_PROGRESS`` record with a fresh
   owner token, on condition that no live record is there (absent, expired, or a
   claim whose lease ran out). When the condition fails, the item that made it fail
   comes back with the error (``ALL_OLD``) and tells what to do: replay a completed
   record, report a claim in progress, or refuse a different payload. A backend
   that sends no item back costs one consistent ``GetItem`` more;
2. the function runs, with the claim as the current :class:`IdempotencyClaim`;
3. *complete*: one ``PutItem`` replaces the claim with the ``COMPLETED`` record, on
   condition that the caller still owns it. When the function raised, a
   ``DeleteItem`` on the same condition releases the claim instead, so a retry can
   run. A holder that was taken over fails these conditions: it is fenced.

This module decides; :class:`~dynsafe._idempotency_writes.RecordRequests` sends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from dynsafe._idempotency_call import (
    Call,
    Replay,
    check_error_types,
    check_prefix,
    dumps_result,
    seconds_of,
    wait_policy,
)
from dynsafe._idempotency_claim import IdempotencyClaim, current
from dynsafe._idempotency_record import (
    IN_PROGRESS,
    IdempotencyRecord,
    RecordNames,
    claimable,
    encode_error,
    read_record,
)
from dynsafe._idempotency_values import JsonSerializer, Serializer, fingerprint
from dynsafe._idempotency_writes import RecordRequests
from dynsafe._table import Table, TableLike
from dynsafe._versioning import Versioning
from dynsafe.errors import (
    ConditionFailedError,
    DynsafeError,
    IdempotencyInProgressError,
    IdempotencyKeyMismatchError,
    IdempotencyOwnershipError,
    InvalidValueError,
    OutcomeUnknownError,
    TransactionCanceledError,
    ValidationError,
)
from dynsafe.retry import RetryPolicy

__all__ = ["IdempotencyStore"]

logger = logging.getLogger("dynsafe.idempotency")

_MAX_PARTITION_KEY_BYTES = 2048
_CLAIM_ROUNDS = 4
"""Claims tried in one attempt when the record changes between the put and a read."""


class IdempotencyStore:
    """Where idempotency records live: one table, one namespace, one clock.

    Args:
        table: A boto3 ``Table`` resource or a :class:`dynsafe.Table`. Its partition
            key must be a string; its name is read once with ``DescribeTable`` unless
            ``key_names`` gives it.
        ttl: How long a record lives, from its claim and again from its completion;
            a ``timedelta`` or seconds. Also written to the TTL attribute.
        lease: How long a claim holds the key before another caller may take it
            over, unless renewed; a ``timedelta`` or seconds, at most ``ttl``.
        prefix: The namespace: the partition key holds ``"{prefix}#{key}"``. It is
            fixed text, never the function's name, so renaming a function keeps its
            records.
        key_names: The table's key attribute names, partition key first, to skip
            ``DescribeTable``.
        sort_key_value: On a table with a sort key (single-table design), the sort
            key value of every record, such as ``"IDEMPOTENCY"``.
        serializer: How results are stored: :class:`JsonSerializer` by default.
        attribute_names: Renamed record attributes by role, such as
            ``{"expires_at": "ttl"}`` to match the table's TTL attribute. Roles:
            status, owner, lease_expires, expires_at, payload_hash, result, error.
        clock: Epoch seconds now, ``time.time`` by default. Leases and expiry are
            compared with it in code, since DynamoDB deletes expired items late.
        read_first: Read the record (one consistent ``GetItem``) before claiming,
            so that a replay costs a read instead of a failed write.

    Raises:
        ValidationError: an argument is out of range or names clash.

    Thread and process safe: every decision is a conditional write on the table. One
    store may be shared by threads; each process makes its own.

    Cost: no request to make one; one ``DescribeTable`` on first use unless
    ``key_names`` is given; each call as :meth:`run` says.
    """

    def __init__(
        self,
        table: TableLike,
        *,
        ttl: timedelta | float = timedelta(hours=24),
        lease: timedelta | float = timedelta(seconds=30),
        prefix: str = "idempotency",
        key_names: Sequence[str] | None = None,
        sort_key_value: str | None = None,
        serializer: Serializer | None = None,
        attribute_names: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        read_first: bool = False,
    ) -> None:
        self.ttl = seconds_of(ttl, "ttl")
        self.lease = seconds_of(lease, "lease")
        if self.lease > self.ttl:
            raise ValidationError("the lease must not be longer than the ttl")
        check_prefix(prefix)
        self.table = Table.of(table)
        self.prefix = prefix
        self.serializer: Serializer = serializer or JsonSerializer()
        self.names = RecordNames.of(attribute_names)
        self.clock = clock
        self.read_first = read_first
        self._requests = RecordRequests(
            self.table, self.names, clock, self.ttl, self.lease
        )
        self._given_key_names = tuple(key_names) if key_names is not None else None
        self._sort_key_value = sort_key_value
        self._schema: tuple[str, str | None] | None = None
        if key_names is not None:
            self._schema = self._check_schema(self._given_key_names or ())

    def __repr__(self) -> str:
        return f"IdempotencyStore({self.table.name!r}, prefix={self.prefix!r})"

    # -- keys ------------------------------------------------------------------------

    def _check_schema(self, key_names: Sequence[str]) -> tuple[str, str | None]:
        if not 1 <= len(key_names) <= 2:
            raise ValidationError(f"a key is one or two attribute names: {key_names!r}")
        self.names.check(key_names)
        sort_key = key_names[1] if len(key_names) == 2 else None
        if sort_key is not None and not isinstance(self._sort_key_value, str):
            raise ValidationError(
                f"table {self.table.name!r} has sort key {sort_key!r}: pass"
                " sort_key_value= (a string, such as 'IDEMPOTENCY')"
            )
        if sort_key is None and self._sort_key_value is not None:
            raise ValidationError(
                f"table {self.table.name!r} has no sort key; drop sort_key_value="
            )
        return key_names[0], sort_key

    def _key_schema(self) -> tuple[str, str | None]:
        if self._schema is None:
            self._schema = self._check_schema(self.table.key_names)
        return self._schema

    def record_key(self, key: str, *, prefix: str | None = None) -> dict[str, Any]:
        """Return the key attributes of the record for ``key``.

        No request, but one ``DescribeTable`` the first time if the key schema is not
        known yet.

        Raises:
            InvalidValueError: ``key`` is not a string (also a ``TypeError``).
            ValidationError: ``key`` is empty, or the partition key would be over
                DynamoDB's 2048 bytes.
        """
        if not isinstance(key, str):
            raise InvalidValueError(
                f"an idempotency key is a string, not {type(key).__name__}"
            )
        if not key:
            raise ValidationError("an idempotency key must not be empty")
        if prefix is not None:
            check_prefix(prefix)
        value = f"{prefix or self.prefix}#{key}"
        if len(value.encode("utf-8", "surrogatepass")) > _MAX_PARTITION_KEY_BYTES:
            raise ValidationError(
                f"the idempotency key is over {_MAX_PARTITION_KEY_BYTES} bytes"
                " with its prefix; hash it first"
            )
        partition_key, sort_key = self._key_schema()
        record_key: dict[str, Any] = {partition_key: value}
        if sort_key is not None:
            record_key[sort_key] = self._sort_key_value
        return record_key

    def _prepare(
        self,
        key: str,
        payload: Any,
        *,
        prefix: str | None = None,
        wait: bool | RetryPolicy = False,
        store_errors: Sequence[type[BaseException]] = (),
        serializer: Serializer | None = None,
    ) -> Call:
        policy, errors = self._check_options(prefix, wait, store_errors)
        return Call(
            key=key,
            record_key=self.record_key(key, prefix=prefix),
            payload_hash=fingerprint(payload),
            serializer=serializer or self.serializer,
            store_errors=errors,
            wait=policy,
        )

    def _check_options(
        self,
        prefix: str | None,
        wait: bool | RetryPolicy,
        store_errors: Sequence[type[BaseException]],
    ) -> tuple[RetryPolicy | None, tuple[type[BaseException], ...]]:
        if prefix is not None:
            check_prefix(prefix)
        return wait_policy(wait, self.lease), check_error_types(store_errors)

    # -- running a call --------------------------------------------------------------

    def run(
        self,
        key: str,
        fn: Callable[[], Any],
        *,
        payload: Any = None,
        prefix: str | None = None,
        wait: bool | RetryPolicy = False,
        store_errors: Sequence[type[BaseException]] = (),
        serializer: Serializer | None = None,
    ) -> Any:
        """Run ``fn()`` once for ``key``, or return (or raise) its stored outcome.

        :func:`dynsafe.idempotent` is this, as a decorator.

        Args:
            key: The idempotency key.
            fn: The work, without arguments (use a lambda or ``functools.partial``).
            payload: The parts of the request that must match on a retry; only their
                SHA-256 is stored.
            prefix: The namespace for this call, instead of the store's.
            wait: Wait for a holder to finish instead of raising
                :class:`IdempotencyInProgressError`: ``True`` polls for up to one
                lease and five seconds, or give a :class:`RetryPolicy`.
            store_errors: Exception types whose raising is stored and raised again
                on a retry, instead of releasing the claim.
            serializer: The result serializer for this call, instead of the store's.

        Returns:
            ``fn()``'s result, or the stored result of an earlier call.

        Raises:
            IdempotencyInProgressError: another caller holds the key; its
                ``retry_after`` says when its lease ends.
            IdempotencyKeyMismatchError: the key was used with another payload.
            IdempotencyOwnershipError: the lease ran out while ``fn`` ran and another
                caller took over; this call's result was not stored.
            ItemTooLargeError: the record with the result would be over 400 KB; the
                claim is released and nothing is stored.
            InvalidValueError: the key is not a string, the payload or result cannot
                be serialized (the claim is released).
            Exception: whatever ``fn`` raised, unchanged, after releasing the claim.

        Costs: a first call is two writes (the claim, the completion: 1 WCU each
        for a small record, more for a large result). A replay is one failed
        conditional write (WCUs for the stored record's size), plus one consistent
        read on a backend that sends no item back; with ``read_first`` it is one
        consistent read instead.
        """
        call = self._prepare(
            key,
            payload,
            prefix=prefix,
            wait=wait,
            store_errors=store_errors,
            serializer=serializer,
        )
        return self._execute(call, fn)

    def _execute(self, call: Call, fn: Callable[[], Any]) -> Any:
        started = self._start(call)
        if isinstance(started, Replay):
            return started.value()
        reset = current.set(started)
        try:
            result = fn()
        except BaseException as error:
            self._fail(started, call, error)
            raise
        finally:
            current.reset(reset)
        self._finish(started, call, result)
        return result

    def _start(self, call: Call) -> IdempotencyClaim | Replay:
        token = Versioning.new_token()
        if call.wait is None:
            return self._claim(call, token)
        return call.wait.call(self._claim, call, token)

    # -- the claim -------------------------------------------------------------------

    def _claim(self, call: Call, token: str) -> IdempotencyClaim | Replay:
        for _ in range(_CLAIM_ROUNDS):
            now = self.clock()
            settled = self._claim_round(call, token, now)
            if settled is not None:
                return settled
        raise IdempotencyInProgressError(
            "the idempotency record kept changing; try again",
            retry_after=0.0,
            table=self.table.name,
            key=call.record_key,
        )

    def _claim_round(
        self, call: Call, token: str, now: float
    ) -> IdempotencyClaim | Replay | None:
        if self.read_first:
            found = self._read(call, now)
            if found is not None and not claimable(found, now, call.payload_hash):
                return self._settle(found, call, token, now)
        try:
            return self._put_claim(call, token, now)
        except ConditionFailedError as error:
            record = self._failed_claim_record(error, call, now)
        except OutcomeUnknownError:
            # The claim may have landed: the record's owner token says.
            record = self._read(call, now)
        return self._settle(record, call, token, now)

    def _put_claim(self, call: Call, token: str, now: float) -> IdempotencyClaim:
        lease_expires = self._requests.put_claim(
            call.record_key, token, call.payload_hash, now
        )
        logger.debug("claimed idempotency key %s", call.key)
        return self._held(call, token, lease_expires)

    def _held(self, call: Call, token: str, lease_expires: float) -> IdempotencyClaim:
        return IdempotencyClaim(
            self,
            key=call.key,
            record_key=call.record_key,
            token=token,
            payload_hash=call.payload_hash,
            lease_expires=lease_expires,
        )

    def _failed_claim_record(
        self, error: ConditionFailedError, call: Call, now: float
    ) -> IdempotencyRecord | None:
        if error.item_returned and error.item is not None:
            # The item that failed the condition came back: no read needed.
            return read_record(error.item, call.key, self.names, now)
        return self._read(call, now)

    def _settle(
        self, record: IdempotencyRecord | None, call: Call, token: str, now: float
    ) -> IdempotencyClaim | Replay | None:
        """Decide from the record in the way: hold, replay, raise, or claim again."""
        own_lease = _own_lease(record, token)
        if own_lease is not None:
            # Our own claim, whose answer was lost on the way back.
            return self._held(call, token, own_lease)
        if record is None or claimable(record, now, call.payload_hash):
            # It was released or ran out between the put and the read.
            return None
        if record.payload_hash not in (None, call.payload_hash):
            raise IdempotencyKeyMismatchError(
                "the idempotency key was used with a different payload",
                table=self.table.name,
                key=call.record_key,
            )
        if record.completed:
            logger.debug("replaying idempotency key %s", call.key)
            return Replay(record, call)
        raise self._in_progress(record, call, now)

    def _in_progress(
        self, record: IdempotencyRecord, call: Call, now: float
    ) -> IdempotencyInProgressError:
        retry_after = max(0.0, (record.lease_expires or now) - now)
        logger.debug("idempotency key %s is in progress", call.key)
        return IdempotencyInProgressError(
            "another caller holds the idempotency key",
            retry_after=retry_after,
            table=self.table.name,
            key=call.record_key,
        )

    # -- completion, release, renewal ------------------------------------------------

    def _finish(self, claim: IdempotencyClaim, call: Call, result: Any) -> None:
        try:
            text = dumps_result(call.serializer, result)
            item = self._requests.completed_item(claim, self.names.result, text)
            tx = claim._pending_transaction()
            if tx is None:
                self._requests.complete(claim, item)
            else:
                self._requests.complete_with(tx, claim, item)
        except (ValidationError, TransactionCanceledError):
            # Nothing was stored (no completed record without its result, none of
            # the function's transaction), so a retry may run the function again.
            self._release_quietly(claim)
            raise

    def _fail(self, claim: IdempotencyClaim, call: Call, error: BaseException) -> None:
        if isinstance(error, call.store_errors):
            try:
                text = encode_error(error)
                item = self._requests.completed_item(claim, self.names.error, text)
                self._requests.complete(claim, item)
                return
            except IdempotencyOwnershipError:
                logger.warning("could not store the error of %s: fenced", call.key)
                return
            except DynsafeError as failure:
                logger.warning(
                    "could not store the error of %s: %s",
                    call.key,
                    type(failure).__name__,
                )
        self._release_quietly(claim)

    def _release_quietly(self, claim: IdempotencyClaim) -> None:
        try:
            self._requests.release(claim)
        except DynsafeError as error:
            # The caller sees its own exception; this one would otherwise be lost.
            logger.warning(
                "could not release the claim on %s: %s", claim.key, type(error).__name__
            )

    def _renew(self, claim: IdempotencyClaim, lease: float | None) -> float:
        return self._requests.renew(claim, lease)

    # -- reading and administration ---------------------------------------------------

    def _read(self, call: Call, now: float) -> IdempotencyRecord | None:
        return self._requests.read(call.record_key, call.key, now)

    def get_record(
        self, key: str, *, prefix: str | None = None
    ) -> IdempotencyRecord | None:
        """Return the record of ``key`` as stored, expired or not, or ``None``.

        One consistent ``GetItem`` (1 RCU per 4 KB).

        Raises:
            InvalidValueError, ValidationError: as :meth:`record_key`.
            DynsafeError: the item under that key is not an idempotency record.
        """
        record_key = self.record_key(key, prefix=prefix)
        return self._requests.read(record_key, key, self.clock())

    def delete_record(self, key: str, *, prefix: str | None = None) -> bool:
        """Delete the record of ``key``, whatever its state; return whether it existed.

        Deleting a claim in progress lets the next call run the function again; the
        holder's completion is then fenced. One ``DeleteItem`` (1 WCU per KB).

        Raises:
            InvalidValueError, ValidationError: as :meth:`record_key`.
        """
        return self._requests.delete(self.record_key(key, prefix=prefix))


def _own_lease(record: IdempotencyRecord | None, token: str) -> float | None:
    """The lease end of ``record`` if it is a claim in progress under ``token``."""
    if record is None or record.owner != token or record.status != IN_PROGRESS:
        return None
    return record.lease_expires
