"""Sharded counters: one number spread over several items, past one item's writes.

:class:`ShardedCounter` keeps one :class:`~dynsafe.counter.Counter` per shard. Each
add goes to one shard, chosen at random, or by its token so that a resend reaches
the shard whose tokens know it; the value is the sum over every shard, read in one
``BatchGetItem``. A shard's key suffixes the partition key with a two-digit index.

The public home of :class:`ShardedCounter` is ``dynsafe.counter``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from dynsafe._counter_requests import Number, plus, value_in
from dynsafe._counter_tokens import check_token, digest
from dynsafe._counter_writes import Counter, check_attribute
from dynsafe._table import Table, TableLike
from dynsafe.errors import ValidationError
from dynsafe.retry import RetryPolicy

__all__ = ["MAX_SHARDS", "ShardedCounter"]

MAX_SHARDS = 100
"""The most shards a :class:`ShardedCounter` takes: one ``BatchGetItem`` reads them."""


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
        self.attribute = check_attribute(self.table, attribute)
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
