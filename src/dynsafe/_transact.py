"""The actions of one transactional request, and the checks DynamoDB would make.

Each builder turns a caller's arguments into an :class:`Action`: its entry of
``TransactItems`` and what explains its failure later (kind, table, key, and for a
versioned action the version it expects). :class:`Batch` refuses, before anything
is sent, what DynamoDB would refuse of the whole request: too many items, two on
one item, a table reached through another region or endpoint.

Versioned actions are built from a table's :class:`~dynsafe._versioning.Versioning`
alone, so ``transaction`` needs nothing of ``versioned`` but its two attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._codec import item_size_of, serialize
from dynsafe._expressions import Update, all_of
from dynsafe._table import Table, TableLike
from dynsafe._versioning import Outcome, Versioning
from dynsafe.errors import ValidationError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = [
    "MAX_ACTIONS",
    "MAX_REQUEST_BYTES",
    "Action",
    "Batch",
    "check_action",
    "delete_action",
    "delete_versioned_action",
    "item_outcome",
    "put_action",
    "put_versioned_action",
    "shown_key",
    "stale_version",
    "update_action",
    "update_versioned_action",
]

Item = dict[str, Any]

MAX_ACTIONS = 100
"""DynamoDB's limit on the actions of one transaction, and on the items of one read."""

MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""DynamoDB's limit on the aggregate size of a transaction's items."""


@dataclass(frozen=True)
class Action:
    """One action as it goes into ``TransactItems``, with what explains its failure."""

    kind: str
    table: Table
    key: Item
    request: dict[str, Any]
    versioning: Versioning | None = None
    expected: int | None = None
    own_condition: bool = False

    @property
    def described(self) -> tuple[str, str, Item]:
        """``(kind, table, key)``, as cancellation reasons name the action."""
        return (self.kind, self.table.name, self.key)

    @property
    def size(self) -> int:
        """About the bytes DynamoDB counts for this action, erring high."""
        (body,) = self.request.values()
        size = item_size_of(body.get("Item") or body["Key"])
        size += item_size_of(body.get("ExpressionAttributeValues", {}))
        return size + sum(len(str(text)) for text in _expressions_of(body))


def _expressions_of(body: Mapping[str, Any]) -> Iterable[Any]:
    for name in ("UpdateExpression", "ConditionExpression"):
        yield body.get(name, "")
    yield from body.get("ExpressionAttributeNames", {}).values()


# -- plain actions -------------------------------------------------------------------


def put_action(
    table: Table, item: Mapping[str, Any], condition: ConditionBase | None
) -> Action:
    """A ``Put`` of a whole item."""
    key = table.key_of(item)
    params = table.write_params(key, item=item, condition=condition)
    return Action("put", table, key, {"Put": params})


def update_action(
    table: Table,
    key: Mapping[str, Any],
    change: Update,
    condition: ConditionBase | None,
) -> Action:
    """An ``Update`` of some attributes, never of a key attribute."""
    checked = table.check_key(key)
    refuse_changes(change, table.key_names)
    params = table.write_params(checked, update=change, condition=condition)
    return Action("update", table, checked, {"Update": params})


def delete_action(
    table: Table, key: Mapping[str, Any], condition: ConditionBase | None
) -> Action:
    """A ``Delete`` of one item."""
    checked = table.check_key(key)
    params = table.write_params(checked, condition=condition)
    return Action("delete", table, checked, {"Delete": params})


def check_action(
    table: Table, key: Mapping[str, Any], condition: ConditionBase | None
) -> Action:
    """A ``ConditionCheck`` of an item the transaction does not write."""
    checked = table.check_key(key)
    if condition is None:
        raise ValidationError("a check needs a condition")
    params = table.write_params(checked, condition=condition)
    return Action("check", table, checked, {"ConditionCheck": params})


def update_of(
    set: Mapping[str, Any] | None,
    add: Mapping[str, Any] | None,
    remove: Sequence[str],
) -> Update:
    """The caller's ``set``, ``add`` and ``remove`` as one update."""
    if isinstance(remove, str):
        raise ValidationError(
            f"remove takes a list of names, not the string {remove!r}"
        )
    return Update.of(set=set, add=add, remove=remove)


def refuse_changes(change: Update, refused: Sequence[str]) -> None:
    """Refuse an update of key attributes (DynamoDB's rule) or of managed ones."""
    touched = sorted(frozenset(change.names) & frozenset(refused))
    if touched:
        raise ValidationError(
            f"the update may not change {', '.join(touched)}: key attributes, the"
            " version and the write tokens are not the caller's to change"
        )


# -- versioned actions ---------------------------------------------------------------


def put_versioned_action(
    table: Table,
    versioning: Versioning,
    item: Mapping[str, Any],
    token: str,
    condition: ConditionBase | None,
) -> tuple[Action, Item]:
    """A ``Put`` of the item as read, changed, under its version; and what it stores."""
    key = table.key_of(item)
    expected = versioning.version_of(item)
    stored = versioning.stamp(item, token, expected, previous=item)
    # The stored item is still the one this writer read (absent, to create).
    version_check = versioning.expect(expected, table.key_names)
    params = table.write_params(
        key, item=stored, condition=all_of(version_check, condition)
    )
    action = Action(
        "put_versioned",
        table,
        key,
        {"Put": params},
        versioning=versioning,
        expected=expected,
        own_condition=condition is not None,
    )
    return action, stored


def update_versioned_action(
    table: Table,
    versioning: Versioning,
    item: Mapping[str, Any],
    token: str,
    change: Update,
    condition: ConditionBase | None,
) -> tuple[Action, int]:
    """An ``Update`` of the item as read, under its version; and the next version."""
    key = table.key_of(item)
    expected = versioning.version_of(item)
    refuse_changes(change, (*table.key_names, *versioning.managed))
    # The bump and the token history go on from the item as read.
    managed = versioning.stamp({}, token, expected, previous=item)
    for name, value in managed.items():
        change.set(name, value)
    # The stored item is still at the version this writer read.
    version_check = versioning.expect(expected, table.key_names)
    params = table.write_params(
        key, update=change, condition=all_of(version_check, condition)
    )
    action = Action(
        "update_versioned",
        table,
        key,
        {"Update": params},
        versioning=versioning,
        expected=expected,
        own_condition=condition is not None,
    )
    return action, int(managed[versioning.attribute])


def delete_versioned_action(
    table: Table,
    versioning: Versioning,
    item: Mapping[str, Any],
    condition: ConditionBase | None,
) -> Action:
    """A ``Delete`` of the item as read, under its version."""
    key = table.key_of(item)
    expected = versioning.version_of(item)
    if expected is None:
        raise ValidationError("delete_versioned needs the item as read, with a version")
    # Nobody wrote the item since this writer read it.
    version_check = versioning.expect(expected, table.key_names)
    params = table.write_params(key, condition=all_of(version_check, condition))
    return Action(
        "delete_versioned",
        table,
        key,
        {"Delete": params},
        versioning=versioning,
        expected=expected,
        own_condition=condition is not None,
    )


# -- explaining a failure ------------------------------------------------------------


def stale_version(action: Action, current: Item | None) -> bool:
    """Whether a versioned action's failed condition was its version check."""
    if not action.own_condition:
        return True
    # With the caller's condition in the same expression, only the stored item can
    # tell; the action asked for it (ALL_OLD), so no item means none is stored.
    assert action.versioning is not None
    return action.versioning.version_of(current) != action.expected


def item_outcome(action: Action, current: Item | None, token: str) -> Outcome:
    """What one item returned by a refused resend says of the first attempt."""
    versioning = action.versioning
    if versioning is None or action.kind == "delete_versioned" or current is None:
        # Plain items carry no token; a deleted item is gone or made anew.
        return Outcome.UNKNOWN
    version = versioning.version_of(current)
    if version is None or (action.expected is not None and version < action.expected):
        # The version went back: the item was deleted and made again since.
        return Outcome.UNKNOWN
    return versioning.outcome(current, token, action.expected)


# -- request-wide checks -------------------------------------------------------------


class Batch:
    """The checks of one request of several items: count, one endpoint, no twins.

    Args:
        client: The client to send with, or ``None`` for the first table's.
        operation: The request's operation, for messages.
    """

    def __init__(self, client: DynamoDBClient | None, operation: str) -> None:
        self._client = client
        self._operation = operation
        self._seen: dict[tuple[Any, ...], int] = {}
        self.tables: dict[int, tuple[TableLike, Table]] = {}
        self.sender: Table | None = None
        """The table whose client sends the request; set by the first item."""

    def table(self, table: TableLike) -> Table:
        """``table`` as a :class:`Table`, described at most once per request.

        Raises:
            TypeError: ``table`` is a versioned table, or not a table at all.
        """
        if isinstance(table, Table):
            return table
        if hasattr(table, "versioning"):
            # A plain write would not bump the version, and a concurrent
            # versioned writer would overwrite it unseen.
            raise TypeError("a versioned table takes the *_versioned actions")
        # The resource is kept with its Table, so its id is not reused meanwhile.
        cached = self.tables.get(id(table))
        if cached is None:
            cached = self.tables[id(table)] = (table, Table.of(table))
        return cached[1]

    def admit(self, index: int, table: Table, key: Mapping[str, Any]) -> None:
        """Refuse item ``index`` if it breaks one of DynamoDB's request-wide rules.

        Raises:
            ValidationError: one item too many, another endpoint, or an item twice.
        """
        if index >= MAX_ACTIONS:
            raise ValidationError(
                f"{self._operation} takes at most {MAX_ACTIONS} items"
            )
        self._check_endpoint(table)
        identity = (table.name, *(repr(serialize(key[n])) for n in table.key_names))
        first = self._seen.setdefault(identity, index)
        if first != index:
            raise ValidationError(
                f"the same item as #{first}: DynamoDB refuses two actions on one item"
                " in a transaction"
            )

    def _check_endpoint(self, table: Table) -> None:
        if self.sender is None:
            own = self._client is None or self._client is table.client
            client = self._client or table.client
            self.sender = table if own else Table(client, table.name)
        theirs, ours = _endpoint(table.client), _endpoint(self.sender.client)
        if theirs != ours:
            raise ValidationError(
                f"the table's client is for {theirs[0]} at {theirs[1]}, but this"
                f" {self._operation} is sent to {ours[0]} at {ours[1]}"
            )


def _endpoint(client: Any) -> tuple[Any, Any]:
    return (client.meta.region_name, client.meta.endpoint_url)


def shown_key(table: Table, key: object) -> Item | None:
    """The key attributes of ``key`` for an error message, never other contents."""
    if not isinstance(key, Mapping):
        return None
    return {name: key[name] for name in table.key_names if name in key}
