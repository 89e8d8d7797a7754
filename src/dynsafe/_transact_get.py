"""A transactional read: up to 100 items, from one or more tables, as of one moment.

:func:`transact_get` checks every key and the whole request with the same
:class:`~dynsafe._transact.Batch` rules as a write (each item once, at most 100,
one region and endpoint) before anything is sent, then reads them all in one
``TransactGetItems``, sent again under the caller's retry policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dynsafe._codec import deserialize_item, serialize_item
from dynsafe._table import Table, TableLike
from dynsafe._transact import Batch, shown_key
from dynsafe.errors import ValidationError
from dynsafe.retry import DEFAULT_POLICY, RetryPolicy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["transact_get"]

Item = dict[str, Any]


def transact_get(
    items: Iterable[tuple[TableLike, Mapping[str, Any]]],
    *,
    client: DynamoDBClient | None = None,
    policy: RetryPolicy | None = None,
) -> list[Item | None]:
    """Read up to 100 items, from one or more tables, as of one moment.

    Args:
        items: ``(table, key)`` pairs; each key exactly the table's key attributes,
            each item once.
        client: The client to send with; by default the first table's.
        policy: When to read again: a conflict with a transaction writing one of
            the items, throttling, no answer.

    Returns:
        The items as Python values, in the order asked, ``None`` for a missing one.

    Raises:
        ValidationError: no item, more than 100, a bad or repeated key, or tables on
            clients for another region or endpoint; nothing is sent.
        TransactionCanceledError: conflicts outlasted the policy.
        DynsafeError: anything else DynamoDB refused, translated.

    Cost: one ``TransactGetItems`` per attempt; 2 read capacity units per 4 KB of
    each item (twice a consistent read). Safe from many threads.
    """
    batch = Batch(client, "TransactGetItems")
    gets, described = [], []
    for index, (table, key) in enumerate(items):
        target = batch.table(table)
        checked = _checked_read(batch, index, target, key)
        gets.append({"Get": {"TableName": target.name, "Key": serialize_item(checked)}})
        described.append(("get", target.name, checked))
    if batch.sender is None:
        raise ValidationError("transact_get needs at least one (table, key)")
    sender = batch.sender
    response = (policy or DEFAULT_POLICY).call(
        sender.send, "TransactGetItems", {"TransactItems": gets}, actions=described
    )
    return [_item_of(entry) for entry in response.get("Responses", [])]


def _checked_read(
    batch: Batch, index: int, table: Table, key: Mapping[str, Any]
) -> Item:
    try:
        checked = table.check_key(key)
        batch.admit(index, table, checked)
    except ValidationError as error:
        label = f"read #{index}: {error.message}"
        raise type(error)(label, table=table.name, key=shown_key(table, key)) from error
    return checked


def _item_of(entry: Mapping[str, Any]) -> Item | None:
    raw = entry.get("Item")
    return deserialize_item(raw) if raw is not None else None
