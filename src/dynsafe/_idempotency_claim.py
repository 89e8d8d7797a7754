"""A held claim on an idempotency key, as the running function sees it.

The store makes an :class:`IdempotencyClaim` when its conditional put wins the key,
and makes it the *current* claim (a context variable) while the function runs, so
the function can read its owner token, renew its lease, and add its own writes to
the transaction that completes the record.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dynsafe.errors import DynsafeError, IdempotencyOwnershipError, ValidationError
from dynsafe.transaction import Transaction

if TYPE_CHECKING:
    from dynsafe._idempotency_store import IdempotencyStore

__all__ = ["IdempotencyClaim", "current", "idempotency_context"]

logger = logging.getLogger("dynsafe.idempotency")

current: contextvars.ContextVar[IdempotencyClaim] = contextvars.ContextVar(
    "dynsafe_idempotency_claim"
)


class IdempotencyClaim:
    """The caller's claim on one idempotency key, while its function runs.

    Attributes:
        key: The idempotency key, without the prefix.
        token: The owner token: random, unique to this claim. Use it to fence your
            own downstream writes (store it, and refuse a write whose token is not
            the latest), since a holder that was taken over keeps running.
        lease_expires: When the lease ends, in the store clock's epoch seconds;
            another caller may take the key over after that.
        record_key: The record's key attributes, prefix included.
        payload_hash: The SHA-256 of the call's payload parts, in hex.

    One claim belongs to one call; share it with the function's own threads if they
    need it (a context variable does not follow into new threads). :meth:`renew` is
    safe from any thread; :attr:`transaction` is built by one thread, as any
    :class:`~dynsafe.Transaction`.
    """

    def __init__(
        self,
        store: IdempotencyStore,
        *,
        key: str,
        record_key: dict[str, Any],
        token: str,
        payload_hash: str,
        lease_expires: float,
    ) -> None:
        self.key = key
        self.record_key = record_key
        self.token = token
        self.payload_hash = payload_hash
        self.lease_expires = lease_expires
        self._store = store
        self._transaction: Transaction | None = None

    def __repr__(self) -> str:
        return f"IdempotencyClaim(key={self.key!r}, lease_expires={self.lease_expires})"

    @property
    def store(self) -> IdempotencyStore:
        """The store that holds the record."""
        return self._store

    @property
    def transaction(self) -> Transaction:
        """A transaction that commits with the completion record, or not at all.

        Add the function's own writes to it (``put``, ``update``, ``delete``,
        ``check``, the versioned forms) and return: the store adds the completed
        record, conditioned on still owning the claim, and commits all of them in
        one ``TransactWriteItems``. So the business writes and "completed" land
        together: a holder that was taken over writes nothing, and a failed
        condition of yours writes nothing and releases the claim. Do not commit it
        yourself. Made on first use, on the store's client; the tables must be on
        the same region and endpoint.
        """
        if self._transaction is None:
            self._transaction = Transaction(self._store.table.client)
        return self._transaction

    def _pending_transaction(self) -> Transaction | None:
        """The transaction to commit with the completion, if actions were added."""
        tx = self._transaction
        return tx if tx is not None and len(tx) and not tx.committed else None

    def renew(self, lease: float | None = None) -> float:
        """Extend the lease to ``lease`` seconds from now, the store's lease by default.

        One ``UpdateItem`` conditioned on still owning the claim: 1 WCU. Thread safe.

        Returns:
            The new :attr:`lease_expires`.

        Raises:
            IdempotencyOwnershipError: the lease ran out and another caller took the
                key over, or the record was deleted.
            ValidationError: ``lease`` is not a positive number of seconds.
        """
        if lease is not None and not lease > 0:
            raise ValidationError(f"a lease is a positive number of seconds: {lease!r}")
        self.lease_expires = self._store._renew(self, lease)
        return self.lease_expires

    @contextlib.contextmanager
    def heartbeat(self, interval: float | None = None) -> Iterator[IdempotencyClaim]:
        """Renew the lease from a background thread while the block runs.

        Args:
            interval: Seconds between renewals; a third of the lease by default,
                so that one lost renewal does not lose the claim.

        Raises:
            IdempotencyOwnershipError: on leaving the block, if a renewal found the
                claim taken over (the block's own exception wins if it raised).
            ValidationError: ``interval`` is not a positive number.

        Each renewal costs one ``UpdateItem`` (1 WCU). A renewal that fails for
        another reason (throttling, a timeout) is logged and tried at the next beat.
        """
        every = interval if interval is not None else self._store.lease / 3
        if not every > 0:
            raise ValidationError(f"an interval is a positive number: {every!r}")
        stop = threading.Event()
        lost: list[IdempotencyOwnershipError] = []
        beat = threading.Thread(
            target=self._beat,
            args=(every, stop, lost),
            name=f"dynsafe-heartbeat-{self.key}",
            daemon=True,
        )
        beat.start()
        try:
            yield self
        finally:
            stop.set()
            beat.join()
        if lost:
            raise lost[0]

    def _beat(
        self,
        every: float,
        stop: threading.Event,
        lost: list[IdempotencyOwnershipError],
    ) -> None:
        while not stop.wait(every):
            try:
                self.renew()
            except IdempotencyOwnershipError as error:
                lost.append(error)
                return
            except DynsafeError as error:
                logger.debug("lease renewal failed with %s", type(error).__name__)


def idempotency_context() -> IdempotencyClaim:
    """Return the claim of the idempotent function running now.

    Call it inside a function decorated with :func:`dynsafe.idempotent` (or run
    by :meth:`IdempotencyStore.run`), in its own thread or task.

    Raises:
        RuntimeError: no idempotent function is running in this context.
    """
    try:
        return current.get()
    except LookupError:
        raise RuntimeError(
            "idempotency_context() is only available while an idempotent function runs"
        ) from None
