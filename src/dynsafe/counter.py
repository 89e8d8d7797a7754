"""Atomic counters: one ``UpdateItem`` per add, bounds in its condition, exactly once.

Roles:

- :class:`AddRequest` is one add as data: the delta, the token, the bounds.
  ``Counter._request`` builds and validates it; ``Counter._send`` sends it and tells
  the caller what DynamoDB answered. Nothing is read before the write. The request,
  its exact arithmetic and its bounds condition live in ``_counter_requests``.
- ``_counter_tokens.Tokens`` keeps the recent tokens of one counter on its item,
  in two *generation* slots, so that an add resent after a lost response is
  recognised without a read, a ledger item or a transaction.
- :class:`Counter` is one number on one item; :class:`ShardedCounter` spreads one
  number over up to 100 items, past DynamoDB's write limit for one partition.

DynamoDB's ``ADD`` adds to the stored number inside the service, so two concurrent
adds never lose one another, as a read followed by a write of ``value + 1`` does.
"""

from __future__ import annotations

import logging
import random
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
    plus,
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
from dynsafe.retry import RetryPolicy

__all__ = ["AddRequest", "Counter", "Number", "ShardedCounter"]

logger = logging.getLogger("dynsafe.counter")

MAX_SHARDS = 100
"""The most shards a :class:`ShardedCounter` takes: one ``BatchGetItem`` reads them."""

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


def _check_attribute(table: Table, attribute: Any) -> str:
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
        self.attribute = _check_attribute(self.table, attribute)
        self.policy = policy if policy is not None else RetryPolicy()
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


# -- sharded counters ------------------------------------------------------------------


def _check_shards(shards: Any) -> int:
    if isinstance(shards, bool) or not isinstance(shards, int):
        raise ValidationError(f"shards is a whole number, not {shards!r}")
    if not 1 <= shards <= MAX_SHARDS:
        raise ValidationError(f"shards is from 1 to {MAX_SHARDS}, not {shards}")
    return shards


def _shard_keys(
    table: Table, key: Mapping[str, Any], shards: int
) -> list[dict[str, Any]]:
    partition = table.key_names[0]
    if not isinstance(key[partition], str):
        raise ValidationError(
            f"a ShardedCounter suffixes its partition key {partition!r}, which must be"
            f" a string, not {type(key[partition]).__name__}"
        )
    # Two digits whatever the count, so that raising shards keeps every key.
    return [
        {**key, partition: f"{key[partition]}#shard#{i:02d}"} for i in range(shards)
    ]


class ShardedCounter:
    """One number spread over several items, for more writes than one item takes.

    DynamoDB takes about 1000 write units a second on one partition; each add goes
    to one of ``shards`` items, chosen at random (or by its token, so that a resend
    reaches the same shard), whose keys suffix the partition key:
    ``likes#post1#shard#07``. Each add costs as :meth:`Counter.add`.

    :meth:`value` reads every shard in one ``BatchGetItem`` (up to 100 shards, plus
    one request per round of unprocessed keys): one read unit per shard per 4 KB if
    consistent, half that if not. The sum is not a snapshot: adds that run during the
    read may be partly counted, so it is exact only when no add runs meanwhile.

    Floors and ceilings cannot be kept across shards and are not offered. The
    number of shards may grow later, never shrink: shards past the count are not read.

    Safe to share between threads, and to use from many processes at once.

    Args:
        table: A boto3 ``Table`` resource or a :class:`dynsafe.Table`; its partition
            key must be a string.
        key: The counter's key, before the shard suffix.
        attribute: The counter's attribute on each shard.
        shards: How many items to spread over, 1 to 100.
        policy: As for :class:`Counter`.
        token_window: As for :class:`Counter`.
        clock: As for :class:`Counter`.

    Raises:
        ValidationError: ``shards``, the key or the attribute is invalid.
    """

    def __init__(
        self,
        table: TableLike,
        key: Mapping[str, Any],
        attribute: str,
        *,
        shards: int = 16,
        policy: RetryPolicy | None = None,
        token_window: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.table = Table.of(table)
        self.key = self.table.check_key(key)
        self.attribute = _check_attribute(self.table, attribute)
        keys = _shard_keys(self.table, self.key, _check_shards(shards))
        self.shards: tuple[Counter, ...] = tuple(
            Counter(
                self.table,
                shard,
                attribute,
                policy=policy,
                token_window=token_window,
                clock=clock,
            )
            for shard in keys
        )

    def __repr__(self) -> str:
        return (
            f"dynsafe.ShardedCounter({self.table.name!r}, {self.key!r},"
            f" {self.attribute!r}, shards={len(self.shards)})"
        )

    def add(self, delta: Number, *, token: str | None = None) -> None:
        """Add ``delta`` to one shard; the total is :meth:`value`.

        Raises:
            InvalidValueError: as :meth:`Counter.add`.
            OutcomeUnknownError: as :meth:`Counter.add`.
        """
        self._shard_for(token).add(delta, token=token)

    def value(self, *, consistent: bool = True) -> Number:
        """Return the sum over all shards; 0 when none exists.

        Raises:
            ValidationError: a shard's attribute is not a number.
        """
        items = self.table.batch_get(
            [shard.key for shard in self.shards], consistent=consistent
        )
        total: Number = 0
        for item in items:
            total = plus(total, value_in(item, self.attribute))
        return total

    def _shard_for(self, token: str | None) -> Counter:
        checked = check_token(token)
        if checked is None:
            return random.choice(self.shards)
        # The same token always reaches the same shard, whose tokens know it.
        index = int.from_bytes(digest(checked)[:4], "big") % len(self.shards)
        return self.shards[index]
