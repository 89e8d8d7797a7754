"""Transactions: several writes across items and tables that all land, or none does.

Roles:

- :class:`Transaction` collects actions (put, update, delete, check and their
  versioned forms), refuses a bad one as it is added, and commits them all in one
  ``TransactWriteItems`` request (``_transaction_core``; the actions are built in
  ``_transact``);
- :func:`transaction` is the context manager around it: a clean exit commits, an
  error sends nothing;
- :func:`run_transaction` builds a transaction from fresh reads with the caller's
  function, and builds it again when a version it read has gone stale;
- :func:`transact_get` reads up to 100 items as of one moment (``TransactGetItems``;
  ``_transact_get``).

One *token* names one logical transaction. It is the request's
``ClientRequestToken``, so DynamoDB applies a resent commit once for 10 minutes, and
it is the write token that versioned actions leave in each item's history, so a
resent commit refused by its own first landing is recognised as landed. A rebuilt
transaction has other parameters, hence a new token.

Whether a failed commit is sent again or built anew is decided in one place,
``_transaction_run``, for :meth:`Transaction.commit` and :func:`run_transaction`
alike.

A transaction is built and committed by one thread; the functions are safe to call
from many threads and processes at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from dynsafe._table import Table, TableLike
from dynsafe._transact import MAX_ACTIONS, MAX_REQUEST_BYTES
from dynsafe._transact_get import transact_get
from dynsafe._transaction_core import REPLAY_WINDOW, Transaction, VersionedLike
from dynsafe._transaction_run import Runner
from dynsafe.retry import DEFAULT_POLICY, RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = [
    "MAX_ACTIONS",
    "MAX_REQUEST_BYTES",
    "REPLAY_WINDOW",
    "Transaction",
    "VersionedLike",
    "run_transaction",
    "transact_get",
    "transaction",
]

R = TypeVar("R")


@contextlib.contextmanager
def transaction(
    client: DynamoDBClient | None = None,
    *,
    policy: RetryPolicy | None = None,
    token: str | None = None,
) -> Iterator[Transaction]:
    """Collect actions in a :class:`Transaction` and commit them on a clean exit.

    An error inside the block sends nothing. Arguments, cost, and what the commit
    raises are those of :class:`Transaction` and :meth:`Transaction.commit`; an
    empty block raises :class:`~dynsafe.ValidationError`.

    Example:
        >>> with dynsafe.transaction() as tx:
        ...     tx.update(accounts, {"pk": "a1"}, add={"balance": -10},
        ...               condition=Attr("balance").gte(10))
        ...     tx.update(accounts, {"pk": "a2"}, add={"balance": 10})
    """
    tx = Transaction(client, policy=policy, token=token)
    yield tx
    tx.commit()


def run_transaction(
    build: Callable[[Transaction], R],
    *,
    client: DynamoDBClient | None = None,
    policy: RetryPolicy | None = None,
) -> R:
    """Build a transaction with ``build(tx)`` from fresh reads, commit, and retry.

    For a read-modify-write over several items: ``build`` reads what it needs (with
    :func:`transact_get` or consistent reads) and adds versioned actions. When the
    commit fails only on stale versions (or on conflicts), ``build`` runs again on
    a new transaction, with a new token, and reads again. A lost answer is resent
    as it was, never rebuilt, since it may have landed. ``build`` must do nothing
    but read and add actions: it may run several times. If it adds no action,
    nothing is sent.

    Safe from many threads and processes: the version checks decide who wins.

    Returns:
        What the successful ``build`` returned.

    Raises:
        TransactionCanceledError: a condition the caller gave failed, or stale
            versions outlasted the policy.
        OutcomeUnknownError, DynsafeError: as :meth:`Transaction.commit`.
        Exception: whatever ``build`` raised, unless a retryable dynsafe error.

    Cost: per attempt, the reads ``build`` makes and one ``TransactWriteItems``.
    """
    chosen = policy or DEFAULT_POLICY
    tables: dict[int, tuple[TableLike, Table]] = {}

    def make() -> tuple[Transaction, R]:
        tx = Transaction(client, policy=chosen)
        tx._batch.tables = tables  # each boto3 resource is described once per call
        return tx, build(tx)

    return Runner(chosen, make, rebuild=True).run()
