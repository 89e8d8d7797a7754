"""The requests on idempotency records, each write after the claim fenced.

:class:`RecordRequests` sends what the store decides: the claim's conditional put,
the completion (alone, or inside the function's transaction), the release, the
lease renewal, reads and deletes. Every write after the claim is conditioned on the
owner token and on the claim still running, so a holder that was taken over gets
:class:`~dynsafe.IdempotencyOwnershipError` instead of touching its successor's
record. A fenced write whose answer was lost is resolved by reading the record.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dynsafe._codec import deserialize_item, serialize_item
from dynsafe._expressions import Update
from dynsafe._idempotency_record import (
    COMPLETED,
    IN_PROGRESS,
    IdempotencyRecord,
    RecordNames,
    claim_condition,
    owner_condition,
    read_record,
)
from dynsafe._table import Table
from dynsafe.errors import (
    ConditionFailedError,
    DynsafeError,
    IdempotencyOwnershipError,
    ItemTooLargeError,
    OutcomeUnknownError,
    TransactionCanceledError,
)

if TYPE_CHECKING:
    from dynsafe._idempotency_claim import IdempotencyClaim
    from dynsafe.transaction import Transaction

__all__ = ["RecordRequests"]

logger = logging.getLogger("dynsafe.idempotency")

_RESENDS = 3
"""Fenced writes sent again after lost answers, before the outcome is unknown."""

Landed = Callable[[IdempotencyRecord | None], bool]
"""Whether the record, read after a lost answer, shows that the write landed."""


class RecordRequests:
    """The requests on one table's idempotency records; safe to share by threads."""

    def __init__(
        self,
        table: Table,
        names: RecordNames,
        clock: Callable[[], float],
        ttl: float,
        lease: float,
    ) -> None:
        self.table = table
        self.names = names
        self.clock = clock
        self.ttl = ttl
        self.lease = lease

    # -- reading -----------------------------------------------------------------------

    def read(
        self, record_key: dict[str, Any], key: str, now: float
    ) -> IdempotencyRecord | None:
        """The record as stored, read consistently. One ``GetItem``."""
        params = {
            "TableName": self.table.name,
            "Key": serialize_item(record_key),
            "ConsistentRead": True,
        }
        raw = self.table.send("GetItem", params, key=record_key).get("Item")
        if raw is None:
            return None
        return read_record(deserialize_item(raw), key, self.names, now)

    # -- claiming ----------------------------------------------------------------------

    def put_claim(
        self, record_key: dict[str, Any], token: str, payload_hash: str, now: float
    ) -> float:
        """Write the claim if no live record is there; return its lease end.

        Raises:
            ConditionFailedError: a live record is there (with it, when returned).
        """
        lease_expires = round(now + self.lease, 3)
        item = {
            **record_key,
            self.names.status: IN_PROGRESS,
            self.names.owner: token,
            self.names.lease_expires: lease_expires,
            self.names.expires_at: math.ceil(now + self.ttl),
            self.names.payload_hash: payload_hash,
        }
        partition_key = next(iter(record_key))
        condition = claim_condition(partition_key, self.names, now, payload_hash)
        params = self.table.write_params(record_key, item=item, condition=condition)
        self.table.send("PutItem", params, key=record_key)
        return lease_expires

    # -- completing --------------------------------------------------------------------

    def completed_item(
        self, claim: IdempotencyClaim, outcome: str, text: str
    ) -> dict[str, Any]:
        """The record of a finished call: ``outcome`` is the result or error role."""
        return {
            **claim.record_key,
            self.names.status: COMPLETED,
            self.names.owner: claim.token,
            self.names.expires_at: math.ceil(self.clock() + self.ttl),
            self.names.payload_hash: claim.payload_hash,
            outcome: text,
        }

    def complete(self, claim: IdempotencyClaim, item: dict[str, Any]) -> None:
        """Replace the claim with ``item`` if the caller still holds it.

        Raises:
            ItemTooLargeError: ``item`` is over 400 KB; nothing was sent.
            IdempotencyOwnershipError: the claim was taken over.
        """
        try:
            params = self.table.write_params(
                claim.record_key,
                item=item,
                condition=owner_condition(self.names, claim.token),
                return_old_on_failure=False,
            )
        except ItemTooLargeError as error:
            raise ItemTooLargeError(
                f"the completed idempotency record would be too large: {error.message}",
                table=self.table.name,
                key=claim.record_key,
            ) from error
        self._send_owned(claim, "PutItem", params, _completed_by(claim.token))
        logger.debug("completed idempotency key %s", claim.key)

    def complete_with(
        self, tx: Transaction, claim: IdempotencyClaim, item: dict[str, Any]
    ) -> None:
        """Commit ``tx`` with the completion as its last action.

        A commit whose answer was lost, and that the transaction could not resolve,
        is resolved from the record: completed under this claim's token means that
        every action landed.

        Raises:
            IdempotencyOwnershipError: the claim was taken over; nothing landed.
            TransactionCanceledError: one of the function's conditions failed.
            OutcomeUnknownError: the answer was lost and the record is still this
                claim's, in progress.
            ValidationError: the transaction broke one of DynamoDB's rules.
        """
        index = len(tx)
        tx.put(self.table, item, condition=owner_condition(self.names, claim.token))
        try:
            tx.commit()
        except TransactionCanceledError as error:
            if not _failed_condition(error, index):
                raise
            if not self._committed(claim):
                # Fenced: neither the completion nor the function's writes landed.
                raise self._fenced(claim, "TransactWriteItems") from error
        except OutcomeUnknownError:
            # The record is one action of the transaction, so its state is the
            # transaction's: completed under our token means everything landed.
            if not self._committed(claim):
                raise
        logger.debug("completed idempotency key %s in a transaction", claim.key)

    def _committed(self, claim: IdempotencyClaim) -> bool:
        record = self.read(claim.record_key, claim.key, self.clock())
        return _completed_by(claim.token)(record)

    # -- releasing and renewing --------------------------------------------------------

    def release(self, claim: IdempotencyClaim) -> None:
        """Delete the claim if the caller still holds it, so a retry can run.

        Raises:
            IdempotencyOwnershipError: the claim was taken over.
        """
        params = self.table.write_params(
            claim.record_key,
            condition=owner_condition(self.names, claim.token),
            return_old_on_failure=False,
        )
        self._send_owned(claim, "DeleteItem", params, _gone)
        logger.debug("released idempotency key %s", claim.key)

    def renew(self, claim: IdempotencyClaim, lease: float | None) -> float:
        """Move the lease end to ``lease`` seconds from now; return it.

        Raises:
            IdempotencyOwnershipError: the claim was taken over.
        """
        now = self.clock()
        seconds = lease if lease is not None else self.lease
        lease_expires = round(now + seconds, 3)
        update = Update().set(self.names.lease_expires, lease_expires)
        # The record must outlive the lease, or it would expire while still running.
        update.set(self.names.expires_at, math.ceil(now + max(self.ttl, seconds)))
        params = self.table.write_params(
            claim.record_key,
            update=update,
            condition=owner_condition(self.names, claim.token),
            return_old_on_failure=False,
        )
        renewed = _renewed_by(claim.token, lease_expires)
        self._send_owned(claim, "UpdateItem", params, renewed)
        return lease_expires

    def delete(self, record_key: dict[str, Any]) -> bool:
        """Delete a record whatever its state; return whether there was one."""
        params = self.table.write_params(record_key, return_old_on_failure=False)
        params["ReturnValues"] = "ALL_OLD"
        response = self.table.send("DeleteItem", params, key=record_key)
        return bool(response.get("Attributes"))

    # -- fencing -----------------------------------------------------------------------

    def _send_owned(
        self,
        claim: IdempotencyClaim,
        operation: str,
        params: dict[str, Any],
        landed: Landed,
    ) -> None:
        """Send a fenced write; after a lost answer, read to learn what happened."""
        for resend in range(_RESENDS + 1):
            try:
                self.table.send(operation, params, key=claim.record_key)
                return
            except ConditionFailedError as error:
                raise self._fenced(claim, operation) from error
            except OutcomeUnknownError as error:
                if self._landed(claim, operation, landed, error, resend == _RESENDS):
                    return

    def _landed(
        self,
        claim: IdempotencyClaim,
        operation: str,
        landed: Landed,
        error: OutcomeUnknownError,
        last: bool,
    ) -> bool:
        """Whether a write whose answer was lost landed; raise if it cannot go again."""
        record = self.read(claim.record_key, claim.key, self.clock())
        if landed(record):
            return True
        if record is None or record.owner != claim.token:
            raise self._fenced(claim, operation) from error
        if last:
            raise error
        # Still ours and unchanged: the write did not land, so it is sent again.
        return False

    def _fenced(self, claim: IdempotencyClaim, operation: str) -> DynsafeError:
        logger.debug("idempotency key %s was taken over", claim.key)
        return IdempotencyOwnershipError(
            "the claim's lease ran out and another caller took the key over",
            table=self.table.name,
            key=claim.record_key,
            operation=operation,
        )


def _failed_condition(error: TransactionCanceledError, index: int) -> bool:
    """Whether action ``index`` of a cancelled transaction failed its condition."""
    reasons = error.reasons
    return index < len(reasons) and reasons[index].code == "ConditionalCheckFailed"


def _completed_by(token: str) -> Landed:
    def landed(record: IdempotencyRecord | None) -> bool:
        return record is not None and record.owner == token and record.completed

    return landed


def _renewed_by(token: str, lease_expires: float) -> Landed:
    def landed(record: IdempotencyRecord | None) -> bool:
        return (
            record is not None
            and record.owner == token
            and record.lease_expires == lease_expires
        )

    return landed


def _gone(record: IdempotencyRecord | None) -> bool:
    return record is None
