"""Optimistic-versioned items: create, get, put, update and delete that lose nothing.

Every write is conditioned on the version the writer read and stores the next one, in
the same request, so of two writers that read version 3 only one stores version 4;
the other gets a conflict and, in :meth:`VersionedTable.update`, runs its mutation
again on the item that won. Each write also leaves a write token on the item, so a
write whose answer was lost is resolved instead of being applied twice
(see :mod:`dynsafe._versioning`).

The path of one update: read the item (consistent) → apply the mutation → write it
with the version check, the bump and a token → on a conflict, take the current item
from the failed write's response (or read it again where the server sends none) →
the retry policy decides whether to apply the mutation again.

:class:`VersionedTable` sends the requests; the steps between them live in private
modules: the mutations an update carries, the item they start from and the queues
that combine updates (``_versioned_batch``), what a write's attempts learn and why a
condition failed (``_versioned_attempts``), and the items kept for
``reuse_last_item`` (``_versioned_last_items``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._expressions import all_of
from dynsafe._stats import ContentionStats
from dynsafe._table import Table, TableLike
from dynsafe._versioned_attempts import (
    Attempts,
    LostResponseError,
    current_after,
    refine,
    resendable,
    retry_update,
)
from dynsafe._versioned_batch import (
    Batch,
    Default,
    Mutation,
    apply_all,
    combiner_for,
    refuse_managed,
    start_item,
)
from dynsafe._versioned_last_items import LastItems
from dynsafe._versioning import Outcome, Versioning
from dynsafe.combining import Failed
from dynsafe.errors import ConditionFailedError, OutcomeUnknownError, ValidationError
from dynsafe.retry import DEFAULT_POLICY, RetryPolicy

__all__ = ["Mutation", "VersionedTable", "versioned"]

logger = logging.getLogger("dynsafe.versioned")

Item = dict[str, Any]

R = TypeVar("R")


class VersionedTable:
    """A table whose items carry a version checked and bumped by every write.

    Args:
        table: A boto3 ``Table`` resource or a :class:`dynsafe.Table`.
        version_attribute: The version attribute.
        start_version: The version a created item gets.
        token_attribute: The attribute holding recent write tokens.
        token_history: How many recent write tokens an item keeps.
        key: The key attribute names, if the table was not given them.
        policy: The retry policy for conflicts and lost answers. Unless it is told
            otherwise (``adaptive=False``, or a backoff of its own), its backoff
            grows with each key's recent conflict rate.
        combine: Whether plain updates of one key from several threads of this
            process share one write (see :meth:`update`); tables of the same client,
            name and versioning share their queues.
        max_batch: The most updates one combined write carries.
        reuse_last_item: Whether an update starts from the item this table last
            stored or saw for the key, instead of reading it. A stale item costs
            one conflict, never correctness.

    Attributes:
        stats: Per-key attempts, conflicts and combined batch sizes.

    Instances are safe to share between threads; processes each make their own.

    Raises:
        ValidationError: a bad attribute name, start version or history size.
    """

    def __init__(
        self,
        table: TableLike,
        *,
        version_attribute: str = "version",
        start_version: int = 1,
        token_attribute: str = "dynsafe_tokens",
        token_history: int = 4,
        key: Sequence[str] | None = None,
        policy: RetryPolicy | None = None,
        combine: bool = True,
        max_batch: int = 32,
        reuse_last_item: bool = False,
    ) -> None:
        self.table = Table.of(table, key=key)
        self.versioning = Versioning(
            version_attribute, start_version, token_attribute, token_history
        )
        self.policy = policy or DEFAULT_POLICY
        self.combine = combine
        self.reuse_last_item = reuse_last_item
        self.stats = ContentionStats()
        # Tables of one client, name and versioning share their queues, so that
        # handlers making a VersionedTable (or a Repository) per request combine.
        self._table_identity = (id(self.table.client), self.table.name, self.versioning)
        self._combiner = combiner_for(max_batch)
        self._last = LastItems()

    def __repr__(self) -> str:
        version = self.versioning.attribute
        return f"VersionedTable({self.table.name!r}, version={version!r})"

    # -- reads ---------------------------------------------------------------------

    def get(self, key: Mapping[str, Any], *, consistent: bool = True) -> Item | None:
        """Read an item; ``None`` when absent.

        Cost: one ``GetItem``, 1 RCU per 4 KB (half for ``consistent=False``).

        Raises:
            ValidationError: ``key`` is not exactly the table's key.
        """
        return self.table.get(key, consistent=consistent)

    # -- whole-item writes -----------------------------------------------------------

    def create(
        self, item: Mapping[str, Any], *, condition: ConditionBase | None = None
    ) -> Item:
        """Store a new item at the start version; fail if the key exists.

        Cost: one ``PutItem`` (1 WCU per KB); another after a lost answer.

        Raises:
            ItemExistsError: an item with this key exists.
            ConditionFailedError: ``condition`` did not hold.
            OutcomeUnknownError: the answer was lost and the item does not tell.
            ValidationError: bad key, values, managed attributes or size.
        """
        refuse_managed(item, self.table, self.versioning)
        return self._write_whole(dict(item), None, condition)

    def put(
        self, item: Mapping[str, Any], *, condition: ConditionBase | None = None
    ) -> Item:
        """Store ``item`` if the stored version is still ``item``'s, bumping it.

        An item without a version is stored only if none is stored under its key.

        Cost: one ``PutItem`` (1 WCU per KB); a ``GetItem`` more after a conflict on
        a server that does not return the current item.

        Raises:
            VersionConflictError: the stored version is another.
            ConditionFailedError: ``condition`` did not hold.
            OutcomeUnknownError: the answer was lost and the item does not tell.
            ValidationError: bad key, values or size.
        """
        expected = self.versioning.version_of(item)
        return self._write_whole(dict(item), expected, condition)

    def _write_whole(
        self, item: Item, expected: int | None, condition: ConditionBase | None
    ) -> Item:
        key = self.table.key_of(item)
        state = Attempts(token=self.versioning.new_token(), creating=expected is None)
        stored = self.versioning.stamp(item, state.token, expected, previous=item)
        self.table.serialize_checked(stored)

        def attempt() -> Item:
            try:
                self._send_put(stored, expected, condition)
            except LostResponseError:
                state.lost_response = True
                raise
            except ConditionFailedError as error:
                current = current_after(error, self.table, key)
                if (
                    self.versioning.outcome(current, state.token, expected)
                    is Outcome.LANDED
                ):
                    return stored
                raise refine(
                    error, self.table, self.versioning, key, expected, current, state
                ) from error
            return stored

        return self._run(attempt, resendable)

    def _send_put(
        self, stored: Item, expected: int | None, condition: ConditionBase | None
    ) -> None:
        version_check = self.versioning.expect(expected, self.table.key_names)
        try:
            self.table.put(stored, condition=all_of(version_check, condition))
        except OutcomeUnknownError as error:
            raise LostResponseError(
                str(error.message), table=self.table.name
            ) from error

    # -- read-modify-write ---------------------------------------------------------

    def update(
        self,
        key: Mapping[str, Any],
        mutation: Mutation,
        *,
        default: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        condition: ConditionBase | None = None,
        policy: RetryPolicy | None = None,
    ) -> Item:
        """Read the item, apply ``mutation``, write it back; retry conflicts.

        The mutation must be pure: it may run several times, each time on the
        latest item. If it raises, nothing is written and its exception propagates
        unchanged; if it returns the item unchanged, nothing is written. It may not
        change key attributes, the version or the write tokens.

        Args:
            key: The item's key.
            mutation: The current item (a copy) to the new item.
            default: The item to apply the mutation to when none is stored (without
                key attributes, which come from ``key``); then the result is created.
            condition: A condition of the caller's, checked in the same write; a
                failure is never retried.
            policy: This call's retry policy instead of the table's.

        Returns:
            The item as stored, with its new version.

        Combining: when several threads of this process update the same key with
        no ``default``, ``condition`` or ``policy`` of their own, the first becomes
        the leader: it applies the queued mutations in arrival order, each to the
        result of the one before, and writes once. Each caller gets the item as it
        stood after its own mutation (at the version the write stored), or its own
        exception; the others' mutations still apply. A conflict re-applies the
        whole batch to the fresh item.

        Cost: one ``GetItem`` and one ``PutItem`` when nobody else writes the item.
        Each conflict costs one more ``PutItem``, plus one ``GetItem`` on servers that
        do not return the current item with a failed condition.

        Raises:
            ItemNotFoundError: no item and no ``default``.
            VersionConflictError: conflicts outlasted the retry policy.
            ConditionFailedError: ``condition`` did not hold.
            OutcomeUnknownError: an answer was lost and the item does not tell
                whether the write landed.
            ValidationError: the mutation returned something that is not an item,
                or changed a key or managed attribute.
        """
        key = self.table.check_key(key)
        if self.combine and default is None and condition is None and policy is None:
            # Plain updates of one key from several threads share one write.
            run = functools.partial(self._update_batch, key)
            queue = (self._table_identity, self._identity(key))
            result: Item = self._combiner.submit(queue, mutation, run)
            return result
        outcome = self._update_batch(key, [mutation], default, condition, policy)[0]
        if isinstance(outcome, Failed):
            raise outcome.error
        return outcome

    def _update_batch(
        self,
        key: Item,
        mutations: Sequence[Mutation],
        default: Default = None,
        condition: ConditionBase | None = None,
        policy: RetryPolicy | None = None,
    ) -> list[Item | Failed]:
        """Apply ``mutations`` in order and write the result once.

        Returns one outcome per mutation: the item after it, as stored, or
        ``Failed`` with what it raised.
        """
        identity = self._identity(key)
        state = Attempts(token=self.versioning.new_token())
        cached = self._last_item(identity)
        if cached is not None:
            state.current, state.read = cached, True
        if len(mutations) > 1:
            self.stats.batch(identity, len(mutations))
        chosen = (policy or self.policy).for_contention(
            lambda: self.stats.for_key(identity).conflict_rate
        )
        batch = Batch(key, identity, mutations, default, condition, state)
        return self._run(lambda: self._attempt_batch(batch), retry_update, chosen)

    def _attempt_batch(self, batch: Batch) -> list[Item | Failed]:
        state = batch.state
        if not state.read:
            state.current, state.read = self.table.get(batch.key), True
        base, expected = start_item(batch, self.table, self.versioning)
        outcomes, final = apply_all(batch, base, expected, self.table, self.versioning)
        if all(isinstance(outcome, Failed) for outcome in outcomes):
            return outcomes
        if state.current is not None and final == base:
            return [o if isinstance(o, Failed) else state.current for o in outcomes]
        stored = self.versioning.stamp(final, state.token, expected, state.current)
        try:
            self._send_put(stored, expected, batch.condition)
        except LostResponseError:
            state.lost_response = True
            self.stats.attempt(batch.identity, conflicted=False)
            raise
        except ConditionFailedError as error:
            self.stats.attempt(batch.identity, conflicted=True)
            current = current_after(error, self.table, batch.key)
            if (
                self.versioning.outcome(current, state.token, expected)
                is Outcome.LANDED
            ):
                return self._results(outcomes, stored, batch.identity)
            state.current = current
            self._remember(batch.identity, current)
            raise refine(
                error, self.table, self.versioning, batch.key, expected, current, state
            ) from error
        self.stats.attempt(batch.identity, conflicted=False)
        return self._results(outcomes, stored, batch.identity)

    def _results(
        self, outcomes: list[Item | Failed], stored: Item, identity: Hashable
    ) -> list[Item | Failed]:
        """Each caller's item as it stood after its own mutation, at the new version."""
        self._remember(identity, stored)
        managed = {name: stored[name] for name in self.versioning.managed}
        return [o if isinstance(o, Failed) else {**o, **managed} for o in outcomes]

    def _identity(self, key: Mapping[str, Any]) -> Hashable:
        return tuple(key[name] for name in self.table.key_names)

    def _last_item(self, identity: Hashable) -> Item | None:
        return self._last.get(identity) if self.reuse_last_item else None

    def _remember(self, identity: Hashable, item: Item | None) -> None:
        if self.reuse_last_item:
            self._last.remember(identity, item)

    # -- delete --------------------------------------------------------------------

    def delete(
        self,
        item: Mapping[str, Any],
        *,
        check_version: bool = True,
        condition: ConditionBase | None = None,
    ) -> None:
        """Delete an item, by default only if it is still at ``item``'s version.

        After a lost answer the delete is sent again; an item that is then gone
        counts as deleted.

        Cost: one ``DeleteItem`` (1 WCU per KB).

        Raises:
            VersionConflictError: the stored version is another, or no item exists.
            ConditionFailedError: ``condition`` did not hold.
            ValidationError: ``item`` lacks a key attribute, or a version to check.
        """
        key = self.table.key_of(item)
        expected = self.versioning.version_of(item) if check_version else None
        if check_version and expected is None:
            raise ValidationError(
                "delete checks the version: pass the item as read,"
                " or check_version=False",
                table=self.table.name,
                key=key,
            )
        version_check = (
            self.versioning.expect(expected, self.table.key_names)
            if check_version
            else None
        )
        state = Attempts(token="")

        def attempt() -> None:
            try:
                self.table.delete(key, condition=all_of(version_check, condition))
            except OutcomeUnknownError as error:
                state.lost_response = True
                raise LostResponseError(error.message, table=self.table.name) from error
            except ConditionFailedError as error:
                current = current_after(error, self.table, key)
                if current is None and state.lost_response:
                    return  # our first delete landed: the item is gone
                raise refine(
                    error, self.table, self.versioning, key, expected, current, state
                ) from error

        self._run(attempt, resendable)

    # -- shared steps ----------------------------------------------------------------

    def _run(
        self,
        attempt: Callable[[], R],
        retry_if: Callable[[BaseException], bool],
        policy: RetryPolicy | None = None,
    ) -> R:
        try:
            return (policy or self.policy).run(attempt, retry_if=retry_if)
        except LostResponseError as error:
            raise OutcomeUnknownError(
                "the write's answer was lost and retries ran out",
                table=self.table.name,
            ) from error


def versioned(
    table: VersionedTable,
    *,
    key: Callable[..., Mapping[str, Any]],
    default: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    policy: RetryPolicy | None = None,
) -> Callable[[Callable[..., Mapping[str, Any]]], Callable[..., Item]]:
    """Turn ``fn(item, *args)`` into a versioned read-modify-write of one item.

    The decorated function is called as ``fn(*args, **kwargs)`` without the item:
    ``key(*args, **kwargs)`` names the item, and ``fn(item, *args, **kwargs)``
    computes the new one, as a mutation of :meth:`VersionedTable.update`. It
    returns the stored item.

    Example:
        >>> @dynsafe.versioned(accounts, key=lambda account, amount: {"pk": account})
        ... def withdraw(item, account, amount):
        ...     return {**item, "balance": item["balance"] - amount}
        >>> withdraw("a1", 10)

    Raises:
        Whatever :meth:`VersionedTable.update` raises.
    """

    def decorate(fn: Callable[..., Mapping[str, Any]]) -> Callable[..., Item]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Item:
            def mutation(item: Item) -> Mapping[str, Any]:
                return fn(item, *args, **kwargs)

            return table.update(
                key(*args, **kwargs), mutation, default=default, policy=policy
            )

        return wrapper

    return decorate
