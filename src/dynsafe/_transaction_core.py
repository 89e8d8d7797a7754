"""The :class:`Transaction` object: its actions, the checks on them, and its commit.

A :class:`Transaction` turns each action it is given into an entry of
``TransactItems`` with the builders of ``_transact``, refusing a bad one before
anything is sent, and commits them all in one ``TransactWriteItems``. After a
failed commit it explains the cancellation (which failed conditions were version
checks) and, after a lost answer, tells from the refused resend whether the first
attempt landed. Whether to send the commit again is the ``Runner``'s decision
(``_transaction_run``).

:class:`VersionedLike` is all the versioned actions need of a versioned table, so
this module imports nothing of ``versioned``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._table import Table, TableLike
from dynsafe._transact import (
    MAX_REQUEST_BYTES,
    Action,
    Batch,
    check_action,
    delete_action,
    delete_versioned_action,
    item_outcome,
    put_action,
    put_versioned_action,
    shown_key,
    stale_version,
    update_action,
    update_of,
    update_versioned_action,
)
from dynsafe._transaction_run import Runner
from dynsafe._versioning import Outcome, Versioning
from dynsafe.errors import (
    CancellationReason,
    OutcomeUnknownError,
    TransactionCanceledError,
    ValidationError,
)
from dynsafe.retry import DEFAULT_POLICY, RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["REPLAY_WINDOW", "Transaction", "VersionedLike"]

logger = logging.getLogger("dynsafe.transaction")

Item = dict[str, Any]

REPLAY_WINDOW = 9 * 60.0
"""Seconds after its first send during which a commit is resent with its token.

DynamoDB honours a ``ClientRequestToken`` for 10 minutes; the minute left over
covers the backoff before the resend and the time the first request took.
"""

_TOKEN_LENGTH = range(1, 37)


class VersionedLike(Protocol):
    """What versioned actions need of a :class:`~dynsafe.VersionedTable`."""

    @property
    def table(self) -> Table:
        """The table the items live in."""

    @property
    def versioning(self) -> Versioning:
        """Where the items keep their version and write tokens."""


class Transaction:
    """Writes to several items, in one or more tables, that all land or none does.

    Add actions, then :meth:`commit`; or use :func:`transaction` to commit on a clean
    exit. Each action is checked as it is added, and a bad one is refused with an
    error naming it (``action #3 (update)``, its table and key) before anything is
    sent: more than 100 actions, two actions on one item, actions over DynamoDB's
    4 MB request limit, an item over 400 KB, a key with missing or extra attributes,
    an update of a key attribute, tables on clients for another region or endpoint.

    Args:
        client: The client to send the commit with; by default the first action's
            table's. Every table must be on a client for the same region and
            endpoint: the tables are named in that client's account.
        policy: When to send the commit again (see :meth:`commit`).
        token: This transaction's ``ClientRequestToken`` (1 to 36 characters), to
            make a commit idempotent across your own retries, or a fresh one.

    Attributes:
        token: The token of every attempt of the commit, and the write token the
            versioned actions record.
        policy: The retry policy of the commit.
        committed: Whether the commit succeeded.

    Not thread-safe: one thread builds and commits a transaction.

    Raises:
        ValidationError: the token is not 1 to 36 characters.

    Example:
        >>> tx = dynsafe.Transaction()
        >>> tx.update(accounts, {"pk": "a1"}, add={"balance": -10},
        ...           condition=Attr("balance").gte(10))
        >>> tx.update(accounts, {"pk": "a2"}, add={"balance": 10})
        >>> tx.commit()
    """

    def __init__(
        self,
        client: DynamoDBClient | None = None,
        *,
        policy: RetryPolicy | None = None,
        token: str | None = None,
    ) -> None:
        if token is not None and (
            not isinstance(token, str) or len(token) not in _TOKEN_LENGTH
        ):
            raise ValidationError(
                f"a client request token is 1 to 36 characters, not {token!r}"
            )
        self.token = token or Versioning.new_token()
        self.policy = policy or DEFAULT_POLICY
        self.committed = False
        self._batch = Batch(client, "TransactWriteItems")
        self._actions: list[Action] = []
        self._size = 0
        self._first_sent: float | None = None
        self._uncertain = False
        self._last_lost = False

    def __len__(self) -> int:
        return len(self._actions)

    def __repr__(self) -> str:
        return f"Transaction({len(self)} actions, committed={self.committed})"

    @property
    def actions(self) -> list[tuple[str, str, Item]]:
        """``(kind, table, key)`` of each action, in the order they were added."""
        return [action.described for action in self._actions]

    # -- actions -------------------------------------------------------------------

    def put(
        self,
        table: TableLike,
        item: Mapping[str, Any],
        *,
        condition: ConditionBase | None = None,
    ) -> None:
        """Write a whole item, replacing any stored under its key.

        Raises:
            ValidationError: the item lacks a key attribute, is over 400 KB
                (:class:`~dynsafe.ItemTooLargeError`), or breaks a rule of the
                transaction (see the class).
        """
        target = self._batch.table(table)
        with self._blame("put", target, item):
            self._add(put_action(target, item, condition))

    def update(
        self,
        table: TableLike,
        key: Mapping[str, Any],
        *,
        set: Mapping[str, Any] | None = None,
        add: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
        condition: ConditionBase | None = None,
    ) -> None:
        """Change some attributes of one item (creating it if absent, as DynamoDB does).

        Args:
            table: The item's table.
            key: The item's key, exactly its key attributes.
            set: Attributes to set to these values.
            add: Numbers to add (negative to subtract), or elements to add to sets.
            remove: Attributes to remove.
            condition: A boto3 condition the stored item must meet.

        Raises:
            ValidationError: no change, an attribute changed twice or a key attribute
                changed, a bad key, or a rule of the transaction broken.
        """
        target = self._batch.table(table)
        with self._blame("update", target, key):
            change = update_of(set, add, remove)
            self._add(update_action(target, key, change, condition))

    def delete(
        self,
        table: TableLike,
        key: Mapping[str, Any],
        *,
        condition: ConditionBase | None = None,
    ) -> None:
        """Delete one item (nothing happens if it is absent and no condition says so).

        Raises:
            ValidationError: a bad key, or a rule of the transaction broken.
        """
        target = self._batch.table(table)
        with self._blame("delete", target, key):
            self._add(delete_action(target, key, condition))

    def check(
        self, table: TableLike, key: Mapping[str, Any], condition: ConditionBase
    ) -> None:
        """Require ``condition`` of an item the transaction does not write.

        Raises:
            ValidationError: no condition, a bad key, or a rule of the transaction
                broken.
        """
        target = self._batch.table(table)
        with self._blame("check", target, key):
            self._add(check_action(target, key, condition))

    # -- versioned actions -----------------------------------------------------------

    def put_versioned(
        self,
        table: VersionedLike,
        item: Mapping[str, Any],
        *,
        condition: ConditionBase | None = None,
    ) -> Item:
        """Write ``item`` only if the stored item is still at the version it carries.

        ``item`` is the item as read, changed: its version (none for a create) is the
        one the write expects, and its token history goes on. A stale version fails
        the commit with a reason whose ``version_conflict`` is true.

        Returns:
            The item as it will be stored: the next version, this transaction's token
            added to the history.

        Raises:
            ValidationError: as :meth:`put`, or the stored version is not an int.
        """
        target, versioning = table.table, table.versioning
        with self._blame("put_versioned", target, item):
            action, stored = put_versioned_action(
                target, versioning, item, self.token, condition
            )
            self._add(action)
        return stored

    def update_versioned(
        self,
        table: VersionedLike,
        item: Mapping[str, Any],
        *,
        set: Mapping[str, Any] | None = None,
        add: Mapping[str, Any] | None = None,
        remove: Sequence[str] = (),
        condition: ConditionBase | None = None,
    ) -> int:
        """Change attributes of the item as read, if it is still at its version.

        ``item`` is the item as read (its key, version and token history are used);
        ``set``, ``add`` and ``remove`` are the change, as in :meth:`update`. A key
        with no version creates the item.

        Returns:
            The version the item will have.

        Raises:
            ValidationError: as :meth:`update`, or the change touches the version or
                the write tokens.
        """
        target, versioning = table.table, table.versioning
        with self._blame("update_versioned", target, item):
            change = update_of(set, add, remove)
            action, version = update_versioned_action(
                target, versioning, item, self.token, change, condition
            )
            self._add(action)
        return version

    def delete_versioned(
        self,
        table: VersionedLike,
        item: Mapping[str, Any],
        *,
        condition: ConditionBase | None = None,
    ) -> None:
        """Delete the item as read, if it is still at its version.

        Raises:
            ValidationError: ``item`` has no version, or as :meth:`delete`.
        """
        target, versioning = table.table, table.versioning
        with self._blame("delete_versioned", target, item):
            self._add(delete_versioned_action(target, versioning, item, condition))

    # -- checks --------------------------------------------------------------------

    @contextlib.contextmanager
    def _blame(self, kind: str, table: Table, key: Mapping[str, Any]) -> Iterator[None]:
        """Name the action being added in any error its checks raise."""
        if self.committed:
            raise ValidationError("the transaction is committed; start another")
        try:
            yield
        except ValidationError as error:
            label = f"action #{len(self._actions)} ({kind}): {error.message}"
            shown = shown_key(table, key)
            raise type(error)(label, table=table.name, key=shown) from error

    def _add(self, action: Action) -> None:
        size = self._size + action.size
        if size > MAX_REQUEST_BYTES:
            raise ValidationError(
                f"the transaction would be about {size} bytes, over DynamoDB's"
                f" limit of {MAX_REQUEST_BYTES}"
            )
        # Last, as it records the item: a refused action leaves no trace.
        self._batch.admit(len(self._actions), action.table, action.key)
        self._actions.append(action)
        self._size = size

    # -- committing ----------------------------------------------------------------

    def commit(self) -> None:
        """Send every action in one ``TransactWriteItems``: all land, or none does.

        Retried under the policy, always with the same token: when another
        transaction held an item (``TransactionConflict``), when DynamoDB throttled,
        while the same token is still in progress, and when the answer was lost
        (within :data:`REPLAY_WINDOW` of the first send, since DynamoDB applies a
        resent token once). A failed condition is not retried.

        Cost: one request per attempt; 2 write capacity units per KB of each item
        written or checked (twice a plain write).

        Raises:
            TransactionCanceledError: an action's condition failed (``reasons`` says
                which; ``version_conflicts`` for stale versions), or conflicts
                outlasted the policy.
            OutcomeUnknownError: the answer was lost and no resend could tell
                whether the transaction landed.
            IdempotentParameterMismatchError: the token was used with other actions.
            ValidationError: the transaction is empty or already committed.
            DynsafeError: anything else DynamoDB refused, translated.
        """
        Runner(self.policy, lambda: (self, None), rebuild=False).run()

    def _send_once(self) -> None:
        if not self._actions:
            raise ValidationError("a transaction needs at least one action")
        if self.committed:
            raise ValidationError("the transaction is committed already")
        if self._first_sent is None:
            self._first_sent = self.policy.clock()
        self._last_lost = False
        logger.debug("committing a transaction of %d actions", len(self._actions))
        try:
            self._send()
        except OutcomeUnknownError:
            self._uncertain = self._last_lost = True
            raise
        except TransactionCanceledError as error:
            error.reasons = self._explain(error.reasons)
            if not self._landed_before(error):
                raise
        self.committed = True

    def _send(self) -> None:
        assert self._batch.sender is not None  # set by the first action
        params = {
            "TransactItems": [action.request for action in self._actions],
            "ClientRequestToken": self.token,
        }
        described = [action.described for action in self._actions]
        self._batch.sender.send("TransactWriteItems", params, actions=described)

    def _may_resend(self) -> bool:
        """Whether the last answer was lost and the token is still honoured."""
        sent = self._first_sent
        elapsed = self.policy.clock() - sent if sent is not None else 0.0
        return self._last_lost and elapsed < REPLAY_WINDOW

    # -- explaining a cancellation -------------------------------------------------

    def _explain(self, reasons: list[CancellationReason]) -> list[CancellationReason]:
        """Mark the failed conditions of versioned actions that were version checks."""
        explained = []
        for action, reason in zip(self._actions, reasons, strict=False):
            if (
                action.versioning is not None
                and reason.code == "ConditionalCheckFailed"
            ):
                reason = dataclasses.replace(
                    reason, version_conflict=stale_version(action, reason.item)
                )
            explained.append(reason)
        return explained + reasons[len(explained) :]

    def _landed_before(self, error: TransactionCanceledError) -> bool:
        """After a lost answer, tell from the refused resend whether the first landed.

        Raises:
            OutcomeUnknownError: nothing returned can tell.
        """
        if not self._uncertain or error.retryable:
            return False
        outcome = self._outcome(error.reasons)
        logger.debug("resent transaction refused; first attempt %s", outcome.value)
        if outcome is Outcome.LANDED:
            return True
        if outcome is Outcome.NOT_LANDED:
            self._uncertain = False
            return False
        raise OutcomeUnknownError(
            "TransactWriteItems answer lost, and its resend was refused by a"
            " condition that does not say whether the first attempt landed",
            table=error.table,
            code=error.code,
            operation="TransactWriteItems",
        ) from error

    def _outcome(self, reasons: Sequence[CancellationReason]) -> Outcome:
        """What the items returned say; one item is enough, as the commit is atomic."""
        outcomes = [
            item_outcome(action, reason.item, self.token)
            for action, reason in zip(self._actions, reasons, strict=False)
            if reason.code == "ConditionalCheckFailed"
        ]
        for decisive in (Outcome.LANDED, Outcome.NOT_LANDED):
            if decisive in outcomes:
                return decisive
        return Outcome.UNKNOWN
