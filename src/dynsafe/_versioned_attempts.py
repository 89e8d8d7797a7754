"""What one versioned write learns across its attempts, and what its failures mean.

A versioned write is sent until it lands, or fails for a reason the caller must see:

- :class:`Attempts` is what the attempts of one logical write have learnt: its write
  token, the item as last seen, whether an answer was lost;
- :class:`LostResponseError` stands for a write whose answer was lost: sending it
  again is how to find out whether it landed. :func:`resendable` says which
  failures a write sends again as it is, :func:`retry_update` which ones an update
  answers by applying its mutations again;
- :func:`current_after` finds the item a failed condition met, and :func:`refine`
  says why the condition failed: a version conflict, an item that exists, the
  caller's own condition, or an outcome nobody can tell.

This module sends no writes (``versioned`` does); it reads an item again at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynsafe._table import Table
from dynsafe._versioning import Outcome, Versioning
from dynsafe.errors import (
    ConditionFailedError,
    DynsafeError,
    ItemExistsError,
    OutcomeUnknownError,
    ThrottledError,
    TransportError,
    VersionConflictError,
)

__all__ = [
    "Attempts",
    "LostResponseError",
    "current_after",
    "refine",
    "resendable",
    "retry_update",
]

Item = dict[str, Any]


class LostResponseError(DynsafeError):
    """A write was sent and its answer lost; sending it again is how to find out."""

    retryable = True


def resendable(error: BaseException) -> bool:
    """Whether a write that failed with ``error`` is sent again as it is."""
    return isinstance(error, (LostResponseError, ThrottledError, TransportError))


def retry_update(error: BaseException) -> bool:
    """Whether an update that failed with ``error`` applies its mutations again."""
    return isinstance(
        error,
        (VersionConflictError, LostResponseError, ThrottledError, TransportError),
    )


@dataclass
class Attempts:
    """What one logical write has learnt across its attempts."""

    token: str
    creating: bool = False
    current: Item | None = None
    read: bool = False
    lost_response: bool = False


def current_after(error: ConditionFailedError, table: Table, key: Item) -> Item | None:
    """The item as stored now: from the failed write's answer, or read again.

    Cost: a consistent ``GetItem`` on a server that returned no item with the failed
    condition; nothing otherwise.
    """
    if error.item_returned:
        return error.item
    return table.get(key)


def refine(
    error: ConditionFailedError,
    table: Table,
    versioning: Versioning,
    key: Item,
    expected: int | None,
    current: Item | None,
    state: Attempts,
) -> DynsafeError:
    """Say why a versioned write's condition failed.

    Args:
        error: The failed condition, as the table raised it.
        table: The table written.
        versioning: The table's versioning.
        key: The item's key.
        expected: The version the write expected; ``None`` for none stored.
        current: The item as stored now; ``None`` when there is none.
        state: What the write's attempts have learnt.

    Returns:
        The error the caller gets, with the table, key and current item.
    """
    actual = versioning.version_of(current)
    context: dict[str, Any] = {
        "table": table.name,
        "key": key,
        "code": error.code,
        "operation": error.operation,
        "item": current,
        "item_returned": current is not None,
    }
    if (
        state.lost_response
        and versioning.outcome(current, state.token, expected) is Outcome.UNKNOWN
    ):
        return OutcomeUnknownError(
            "the write's answer was lost and the item does not tell whether it landed",
            table=table.name,
            key=key,
        )
    if current is not None and actual == expected:
        # The version held, so the caller's own condition is what failed.
        return ConditionFailedError("the condition did not hold", **context)
    if current is None and expected is None:
        return ConditionFailedError("the condition did not hold", **context)
    if state.creating:
        return ItemExistsError("an item with this key exists", **context)
    return VersionConflictError(
        "the stored version is not the one read",
        expected_version=expected,
        actual_version=actual,
        **context,
    )
