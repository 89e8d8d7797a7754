"""DS104: an ``except ClientError`` that treats every error as one outcome.

A handler counts when it catches ``ClientError`` (by any imported name, as an attribute,
or in a tuple) around a try body that sends DynamoDB requests, itself or through a
same-file helper. It is fine when it reads ``error.response``, hands the error to a
function that may, re-raises it, or raises an error that does not claim a conflict.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from dynsafe.check._calls import OPAQUE_CALLS, call_name, dotted, walk_statements

if TYPE_CHECKING:
    from dynsafe.check._flow import Flow

_CONFLICT = re.compile(
    r"(?i)conflict|concurren|stale|version|condition|optimistic|race|exists"
)


def check_handler(flow: Flow, body: list[ast.stmt], handler: ast.ExceptHandler) -> None:
    """Check an except clause that catches ClientError around DynamoDB calls."""
    if not _catches_client_error(flow, handler.type) or not _sends_requests(flow, body):
        return
    if _looks_at_error(handler) or _reraises(handler):
        return
    raised = [
        node for node in walk_statements(handler.body) if isinstance(node, ast.Raise)
    ]
    if raised and not any(_raises_conflict(node) for node in raised):
        return
    what = "reports every error as a conflict" if raised else "swallows every error"
    message = (
        f"except ClientError {what} without looking at the error code "
        "(throttling and validation errors land here too)"
    )
    flow.index.report_line("DS104", handler, message)


def _catches_client_error(flow: Flow, node: ast.expr | None) -> bool:
    if isinstance(node, ast.Tuple):
        return any(_catches_client_error(flow, element) for element in node.elts)
    if isinstance(node, ast.Name):
        return node.id in flow.index.client_errors
    return isinstance(node, ast.Attribute) and node.attr == "ClientError"


def _sends_requests(flow: Flow, body: list[ast.stmt]) -> bool:
    for node in walk_statements(body):
        if isinstance(node, ast.Call):
            if flow.operation(node) is not None:
                return True
            summary = flow.helper_summary(node)
            if summary is not None and summary.calls_dynamodb:
                return True
    return False


def _looks_at_error(handler: ast.ExceptHandler) -> bool:
    name = handler.name
    if name is None:
        return False
    for node in walk_statements(handler.body):
        if isinstance(node, ast.Attribute) and _is_name(node.value, name):
            if node.attr in ("response", "operation_name"):
                return True
        elif isinstance(node, ast.Call) and call_name(node) not in OPAQUE_CALLS:
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if any(_is_name(a, name) for a in arguments) and not _is_error_type(node):
                return True
    return False


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_error_type(call: ast.Call) -> bool:
    return call_name(call).endswith(("Error", "Exception", "Warning"))


def _reraises(handler: ast.ExceptHandler) -> bool:
    for node in walk_statements(handler.body):
        if not isinstance(node, ast.Raise) or node.cause is not None:
            continue
        if node.exc is None or (handler.name and _is_name(node.exc, handler.name)):
            return True
    return False


def _raises_conflict(node: ast.Raise) -> bool:
    exc = node.exc
    name = call_name(exc) if isinstance(exc, ast.Call) else dotted(exc) if exc else ""
    return bool(_CONFLICT.search(name or ""))
