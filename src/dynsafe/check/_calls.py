"""What a DynamoDB call looks like in source, without knowing any types.

boto3 clients and ``Table`` resources share operation names and parameter names that
nothing else uses (``put_item``, ``UpdateExpression``, ``TableName``...), so a call is
taken for a DynamoDB call when its method is a DynamoDB operation and either one of its
keywords is a DynamoDB parameter or its receiver is known to be a table or client. A
``Request`` is one write as the service will see it: a direct ``put_item`` or
``update_item``, or one ``Put``/``Update``/``Delete``/``ConditionCheck`` entry of
``transact_write_items``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

READS = frozenset({"get_item", "query", "scan", "batch_get_item", "transact_get_items"})
"""Operations whose result holds items as they were read."""

OPERATIONS = READS | frozenset(
    {
        "put_item",
        "update_item",
        "delete_item",
        "transact_write_items",
        "batch_write_item",
    }
)
"""Every operation name the checker recognizes on a table or client."""

PARAMETERS = frozenset(
    {
        "AttributeUpdates",
        "ClientRequestToken",
        "ConditionExpression",
        "ConsistentRead",
        "ExclusiveStartKey",
        "Expected",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "FilterExpression",
        "IndexName",
        "Item",
        "Key",
        "KeyConditionExpression",
        "ProjectionExpression",
        "RequestItems",
        "ReturnValues",
        "TableName",
        "TransactItems",
        "UpdateExpression",
    }
)
"""Keyword names that only DynamoDB requests use."""

EXPRESSIONS = {
    "UpdateExpression": True,
    "ConditionExpression": False,
    "KeyConditionExpression": False,
    "FilterExpression": False,
    "ProjectionExpression": False,
}
"""Expression parameters, mapped to whether they follow the update grammar."""

TRIGGER_WORDS = OPERATIONS | frozenset(
    [*EXPRESSIONS, "ClientError", "batch_writer", "paginate"]
)
"""Words without which a file or function cannot hold anything the rules look at."""

TRANSACT_ENTRIES = {
    "Put": "put_item",
    "Update": "update_item",
    "Delete": "delete_item",
    "ConditionCheck": "condition_check",
}
"""``TransactItems`` entry keys, mapped to the single-item operation they mirror."""

OPAQUE_CALLS = frozenset(
    {
        "critical",
        "debug",
        "dumps",
        "error",
        "exception",
        "format",
        "info",
        "len",
        "log",
        "print",
        "repr",
        "str",
        "warn",
        "warning",
    }
)
"""Calls that neither change their arguments nor look inside them (logging, str)."""

_VERSION = re.compile(
    r"(?i)^_?(?:[a-z0-9]+_)*(?:version|ver|rev|revision)(?:_[a-z0-9]+)*$"
)
_CAMEL_VERSION = re.compile(r"^[a-z][A-Za-z0-9]*(?:Version|Rev|Revision)$")
_FRESH = frozenset(
    {
        "getrandbits",
        "monotonic",
        "now",
        "perf_counter",
        "randint",
        "random",
        "time",
        "time_ns",
        "token_bytes",
        "token_hex",
        "token_urlsafe",
        "urandom",
        "utcnow",
        "uuid1",
        "uuid4",
        "uuid7",
    }
)


@dataclass(frozen=True)
class Request:
    """One write request as DynamoDB receives it.

    Attributes:
        op: ``put_item``, ``update_item``, ``delete_item`` or ``condition_check``.
        params: the request's parameters that the source spells out.
        node: where findings about it are reported.
        table: the table key (see ``Flow.table_key``).
    """

    op: str
    params: dict[str, ast.expr]
    node: ast.expr
    table: str


def dotted(node: ast.expr) -> str | None:
    """Return ``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    return None


def call_name(node: ast.expr) -> str:
    """Return the last name of what a call calls (``f`` for ``a.b.f(...)``)."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return ""


def is_version_name(name: str) -> bool:
    """Whether an attribute name reads as a version (``version``, ``rev``, ...)."""
    return bool(_VERSION.match(name) or _CAMEL_VERSION.match(name))


def makes_fresh_value(node: ast.expr) -> bool:
    """Whether an expression calls something that returns a new value each time."""
    return any(
        isinstance(sub, ast.Call) and call_name(sub) in _FRESH for sub in ast.walk(node)
    )


def same_expression(left: ast.expr, right: ast.expr) -> bool:
    """Whether two expressions are spelled the same, positions aside."""
    return ast.dump(left) == ast.dump(right)


def takes_dynamodb_parameters(call: ast.Call) -> bool:
    """Whether a call passes a DynamoDB-only keyword, or ``**`` parameters."""
    return any(k.arg is None or k.arg in PARAMETERS for k in call.keywords)


def walk_statements(body: list[ast.stmt]) -> list[ast.AST]:
    """Return every node under a list of statements."""
    return [node for statement in body for node in ast.walk(statement)]
