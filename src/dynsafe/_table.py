"""One table: the low-level client, its name and key schema, and every request.

This is the only module that sends requests to DynamoDB, so it is where request
counting (:class:`RequestStats`), hooks that see each request (fault injection,
metrics) and the translation of botocore errors into dynsafe errors attach.

Requests go through the low-level client, which is safe to share between threads and
about twice as fast as the resource layer; a boto3 ``Table`` resource is unwrapped to
its client and name.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from dynsafe._codec import deserialize_item, item_size_of, serialize, serialize_item
from dynsafe._expressions import Placeholders, Update, render_condition
from dynsafe._translate import translate_error
from dynsafe.errors import ItemTooLargeError, ValidationError

if TYPE_CHECKING:
    from boto3.dynamodb.conditions import ConditionBase
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["MAX_ITEM_BYTES", "RequestStats", "Table", "TableLike"]

logger = logging.getLogger("dynsafe.requests")

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's limit on the size of one item."""

_METHODS = {
    "GetItem": "get_item",
    "PutItem": "put_item",
    "UpdateItem": "update_item",
    "DeleteItem": "delete_item",
    "BatchGetItem": "batch_get_item",
    "TransactWriteItems": "transact_write_items",
    "TransactGetItems": "transact_get_items",
    "DescribeTable": "describe_table",
    "Query": "query",
}

Hook = Callable[[str, dict[str, Any]], None]
"""Called with the operation and its parameters just before a request is sent."""


class RequestStats:
    """Counts the requests sent through one :class:`Table`, by operation.

    Safe to share between threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, operation: str) -> None:
        """Count one request of ``operation``."""
        with self._lock:
            self._counts[operation] += 1

    @property
    def total(self) -> int:
        """All requests counted so far."""
        with self._lock:
            return sum(self._counts.values())

    def by_operation(self) -> dict[str, int]:
        """A copy of the counts, by operation name."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Set every count back to zero."""
        with self._lock:
            self._counts.clear()


class Table:
    """A DynamoDB table as dynsafe uses it: a low-level client and a table name.

    Every dynsafe primitive accepts either a boto3 ``Table`` resource or one of these.
    Build one from a low-level client to skip the resource layer, and to give the key
    schema so that no ``DescribeTable`` request is needed.

    Args:
        client: A boto3 DynamoDB client, shared freely between threads.
        name: The table's name.
        key: The names of the key attributes, partition key first. When omitted,
            they are read with one ``DescribeTable`` request on first use and cached.

    Example:
        >>> accounts = dynsafe.Table(boto3.client("dynamodb"), "accounts", key=("pk",))
    """

    def __init__(
        self,
        client: DynamoDBClient,
        name: str,
        *,
        key: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValidationError(f"a table name is a non-empty string, not {name!r}")
        if key is not None:
            key = _check_key_names(key)
        self.client = client
        self.name = name
        self._key_names: tuple[str, ...] | None = (
            tuple(key) if key is not None else None
        )
        self._describe_lock = threading.Lock()
        self.stats = RequestStats()
        self.hooks: list[Hook] = []

    @classmethod
    def of(cls, table: TableLike, *, key: Sequence[str] | None = None) -> Table:
        """Return ``table`` as a :class:`Table`, unwrapping a boto3 ``Table`` resource.

        Raises:
            TypeError: ``table`` is neither.
        """
        if isinstance(table, Table):
            return table
        meta = getattr(table, "meta", None)
        client = getattr(meta, "client", None)
        name = getattr(table, "name", None)
        if client is None or not isinstance(name, str):
            raise TypeError(
                "expected a boto3 Table resource or dynsafe.Table(client, name),"
                f" not {type(table).__name__}"
            )
        return cls(_plain_client(client), name, key=key)

    def __repr__(self) -> str:
        return f"dynsafe.Table({self.name!r}, key={self._key_names!r})"

    # -- the key schema ------------------------------------------------------------

    @property
    def key_names(self) -> tuple[str, ...]:
        """The key attributes, partition key first, described once if needed."""
        if self._key_names is None:
            with self._describe_lock:
                if self._key_names is None:
                    self._key_names = self._describe_key()
        return self._key_names

    def _describe_key(self) -> tuple[str, ...]:
        response = self.send("DescribeTable", {"TableName": self.name})
        schema = response["Table"]["KeySchema"]
        ordered = sorted(schema, key=lambda part: part["KeyType"] != "HASH")
        return tuple(part["AttributeName"] for part in ordered)

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Return the key attributes of ``item``.

        Raises:
            ValidationError: ``item`` lacks a key attribute, or one is ``None``.
        """
        if not isinstance(item, Mapping):
            raise ValidationError(
                f"expected an item or key mapping, not {type(item).__name__}"
            )
        missing = [name for name in self.key_names if item.get(name) is None]
        if missing:
            raise ValidationError(
                f"table {self.name!r}: missing key attribute(s) {', '.join(missing)}"
            )
        return {name: item[name] for name in self.key_names}

    def check_key(self, key: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``key`` if it holds exactly the key attributes.

        Raises:
            ValidationError: an attribute is missing, or one is not a key attribute.
        """
        result = self.key_of(key)
        extra = sorted(set(key) - set(self.key_names))
        if extra:
            raise ValidationError(
                f"table {self.name!r}: {', '.join(extra)} not key attribute(s);"
                f" the key is {', '.join(self.key_names)}"
            )
        return result

    # -- sending -------------------------------------------------------------------

    def send(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        key: Mapping[str, Any] | None = None,
        actions: Sequence[tuple[str, str, Mapping[str, Any]]] = (),
    ) -> dict[str, Any]:
        """Send one request and return its response.

        Raises:
            DynsafeError: a subclass for what went wrong, chained to botocore's error.
        """
        for hook in self.hooks:
            hook(operation, params)
        self.stats.record(operation)
        logger.debug("sending %s to %s", operation, self.name)
        try:
            response: dict[str, Any] = getattr(self.client, _METHODS[operation])(
                **params
            )
        except ParamValidationError as error:
            raise ValidationError(
                f"{operation} rejected by botocore: {' '.join(str(error).split())}",
                table=self.name,
                operation=operation,
            ) from error
        except (ClientError, BotoCoreError) as error:
            raise translate_error(
                error, operation=operation, table=self.name, key=key, actions=actions
            ) from error
        return response

    # -- single-item requests --------------------------------------------------------

    def get(
        self, key: Mapping[str, Any], *, consistent: bool = True
    ) -> dict[str, Any] | None:
        """Read one item; ``None`` when absent. One ``GetItem``."""
        key = self.check_key(key)
        params = {
            "TableName": self.name,
            "Key": serialize_item(key),
            "ConsistentRead": consistent,
        }
        response = self.send("GetItem", params, key=key)
        raw = response.get("Item")
        return deserialize_item(raw) if raw is not None else None

    def write_params(
        self,
        key: Mapping[str, Any],
        *,
        condition: ConditionBase | None = None,
        update: Update | None = None,
        item: Mapping[str, Any] | None = None,
        return_old_on_failure: bool = True,
    ) -> dict[str, Any]:
        """Return the parameters of a put, update or delete on ``key``.

        The same shape goes into ``TransactWriteItems`` actions, less the
        ``ReturnValues`` a transaction does not take.

        Raises:
            ValidationError: bad names, values or an item over 400 KB.
        """
        placeholders = Placeholders()
        params: dict[str, Any] = {"TableName": self.name}
        if item is not None:
            params["Item"] = self.serialize_checked(item)
        else:
            params["Key"] = serialize_item(key)
        if update is not None:
            params["UpdateExpression"] = update.render(placeholders)
        if condition is not None:
            params["ConditionExpression"] = render_condition(condition, placeholders)
        params.update(placeholders.params())
        if return_old_on_failure:
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return params

    def serialize_checked(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """Serialize a whole item, refusing one over DynamoDB's 400 KB limit.

        Raises:
            ItemTooLargeError: the item is over 400 KB.
        """
        raw = serialize_item(item)
        size = item_size_of(raw)
        if size > MAX_ITEM_BYTES:
            raise ItemTooLargeError(
                f"item of about {size} bytes is over DynamoDB's limit of"
                f" {MAX_ITEM_BYTES} bytes",
                table=self.name,
            )
        return raw

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: ConditionBase | None = None,
        return_old_on_failure: bool = True,
    ) -> None:
        """Write a whole item, optionally under a condition. One ``PutItem``."""
        key = self.key_of(item)
        params = self.write_params(
            key,
            condition=condition,
            item=item,
            return_old_on_failure=return_old_on_failure,
        )
        self.send("PutItem", params, key=key)

    def update(
        self,
        key: Mapping[str, Any],
        update: Update,
        *,
        condition: ConditionBase | None = None,
        return_values: str = "ALL_NEW",
        return_old_on_failure: bool = True,
    ) -> dict[str, Any]:
        """Apply update actions; return the attributes asked for. One ``UpdateItem``."""
        key = self.check_key(key)
        params = self.write_params(
            key,
            condition=condition,
            update=update,
            return_old_on_failure=return_old_on_failure,
        )
        params["ReturnValues"] = return_values
        response = self.send("UpdateItem", params, key=key)
        return deserialize_item(response.get("Attributes") or {})

    def delete(
        self,
        key: Mapping[str, Any],
        *,
        condition: ConditionBase | None = None,
        return_old_on_failure: bool = True,
    ) -> dict[str, Any] | None:
        """Delete an item; return it as it was or ``None``. One ``DeleteItem``."""
        key = self.check_key(key)
        params = self.write_params(
            key, condition=condition, return_old_on_failure=return_old_on_failure
        )
        params["ReturnValues"] = "ALL_OLD"
        response = self.send("DeleteItem", params, key=key)
        raw = response.get("Attributes")
        return deserialize_item(raw) if raw else None

    def batch_get(
        self, keys: Sequence[Mapping[str, Any]], *, consistent: bool = True
    ) -> list[dict[str, Any] | None]:
        """Read up to 100 items and return them in key order, ``None`` where absent.

        One ``BatchGetItem``, plus one more for each round of unprocessed keys.
        """
        checked = [self.check_key(key) for key in keys]
        if len(checked) > 100:
            raise ValidationError("BatchGetItem reads at most 100 keys")
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        pending = [serialize_item(key) for key in checked]
        while pending:
            request = {self.name: {"Keys": pending, "ConsistentRead": consistent}}
            response = self.send("BatchGetItem", {"RequestItems": request})
            for raw in response.get("Responses", {}).get(self.name, []):
                item = deserialize_item(raw)
                found[self._identity(item)] = item
            pending = (
                response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
            )
        return [found.get(self._identity(key)) for key in checked]

    def _identity(self, item: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(repr(serialize(item[name])) for name in self.key_names)


TableLike = Any
"""A boto3 ``Table`` resource or a :class:`Table`."""


_plain_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_plain_clients_lock = threading.Lock()


def _plain_client(resource_client: Any) -> Any:
    """A low-level client with the same credentials, region, endpoint and config.

    A ``Table`` resource's own client converts Python values to attribute values
    on every request (boto3 registers that on its events), so requests built here,
    already converted, cannot go through it. See limitation L2.
    """
    with _plain_clients_lock:
        client = _plain_clients.get(resource_client)
        if client is None:
            session = botocore.session.Session()
            # The resource's credentials object, refreshable ones included.
            session._credentials = resource_client._get_credentials()  # type: ignore[attr-defined]
            meta = resource_client.meta
            client = session.create_client(
                "dynamodb",
                region_name=meta.region_name,
                endpoint_url=meta.endpoint_url,
                config=meta.config,
            )
            _plain_clients[resource_client] = client
        return client


def _check_key_names(key: Sequence[str]) -> tuple[str, ...]:
    if isinstance(key, str):
        key = (key,)
    names = tuple(key)
    if not 1 <= len(names) <= 2 or not all(isinstance(n, str) and n for n in names):
        raise ValidationError(
            f"a key is one or two attribute names (partition, sort), not {key!r}"
        )
    return names
