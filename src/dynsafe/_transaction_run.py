"""Running one logical transaction under a retry policy: send it again, or build anew.

A :class:`Runner` makes the attempts of one logical transaction and decides, after
each failure, what the next one is:

- a lost answer, a conflict with another transaction, throttling: send the *same*
  transaction again, with the same token, as it may have landed (a lost answer is
  resent only while DynamoDB still honours the token);
- a stale version, when the runner may rebuild: build a new transaction from fresh
  reads, with a new token;
- anything else: raise it.

:meth:`~dynsafe.transaction.Transaction.commit` runs its own transaction, which it
cannot rebuild; :func:`~dynsafe.transaction.run_transaction` runs the caller's
function, which builds one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import tenacity

from dynsafe.errors import DynsafeError, OutcomeUnknownError, TransactionCanceledError
from dynsafe.retry import RetryPolicy, is_retryable

if TYPE_CHECKING:
    from dynsafe._transaction_core import Transaction

__all__ = ["Runner"]

logger = logging.getLogger("dynsafe.transaction")

R = TypeVar("R")


def _stale(error: TransactionCanceledError) -> bool:
    """Whether building the transaction again from fresh reads could succeed."""
    failures = error.failures
    return bool(error.version_conflicts) and all(
        reason.version_conflict or reason.retryable for reason in failures
    )


class Runner(Generic[R]):
    """One logical transaction under a retry policy: send it again, or build anew.

    A lost answer or a conflict sends the *same* transaction again (same token): it
    may have landed, and building it again from fresh reads could apply it twice. A
    stale version builds a new one, when there is a function to build it.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        make: Callable[[], tuple[Transaction, R]],
        *,
        rebuild: bool,
    ) -> None:
        self._policy = policy
        self._make = make
        self._rebuild = rebuild
        self._built: tuple[Transaction, R] | None = None

    def run(self) -> R:
        retrying = self._policy.retrying().copy(
            retry=tenacity.retry_if_exception(self._worth_retry)
        )
        try:
            return retrying(self._attempt)
        except DynsafeError as error:
            error.attempts = retrying.statistics.get("attempt_number", 1)
            raise

    def _attempt(self) -> R:
        if self._built is None:
            self._built = self._make()
        tx, value = self._built
        if self._rebuild and not len(tx):
            return value  # the function decided that nothing is to be written
        try:
            tx._send_once()
        except TransactionCanceledError as error:
            if self._rebuild and _stale(error):
                logger.debug("transaction read a stale version; building it again")
                self._built = None
            raise
        return value

    def _worth_retry(self, error: BaseException) -> bool:
        if isinstance(error, TransactionCanceledError):
            return error.retryable or (self._rebuild and _stale(error))
        if isinstance(error, OutcomeUnknownError):
            return self._built is not None and self._built[0]._may_resend()
        return is_retryable(error)
