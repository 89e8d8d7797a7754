"""DS105: a manual retry around a request that applies twice when resent.

A retry is a loop that goes round again after a failure (``for attempt in
range(n)`` or ``while`` with an ``except`` that does not end in ``raise``, a tenacity
``Retrying`` loop) or a function under ``@retry`` / ``@backoff.on_exception``. Inside
one, an ``update_item`` that increments (``ADD``, ``x = x + ...``, ``list_append``)
needs a condition on a token, and ``transact_write_items`` needs a
``ClientRequestToken`` made before the first attempt. Outside a retry the hazard is
kept in the function's summary, for a caller that retries it.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from dynsafe.check._calls import (
    call_name,
    dotted,
    makes_fresh_value,
    walk_statements,
)
from dynsafe.check._expr import is_increment, tokens, update_actions

if TYPE_CHECKING:
    from dynsafe.check._flow import Flow

_TOKEN_WORD = re.compile(r"(?i)token|idempot|dedup|nonce|applied|request|version|txn")
_ATTEMPT = re.compile(r"(?i)^_$|attempt|retr(y|ies)|^tr(y|ies)")
_RETRY_DECORATORS = frozenset({"retry", "retrying", "on_exception", "on_predicate"})
_RETRY_ITERATORS = frozenset({"range", "count", "repeat", "Retrying", "AsyncRetrying"})
TWICE = "inside a retry loop: an attempt whose reply was lost applies twice"
"""How every DS105 message ends."""


def retries_by_decorator(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a function is wrapped in a retrying decorator (tenacity, backoff)."""
    return any(call_name(d) in _RETRY_DECORATORS for d in function.decorator_list)


def is_retry_loop(node: ast.For | ast.AsyncFor | ast.While) -> bool:
    """Whether a loop runs its body again after a failed attempt."""
    if not isinstance(node, ast.While):
        iterator = call_name(node.iter) if isinstance(node.iter, ast.Call) else ""
        if iterator.endswith("Retrying"):
            return True
        target = dotted(node.target) or ""
        if iterator not in _RETRY_ITERATORS and not _ATTEMPT.search(target):
            return False
    return any(
        isinstance(sub, ast.Try) and any(_handler_retries(h) for h in sub.handlers)
        for sub in walk_statements(node.body)
    )


def _handler_retries(handler: ast.ExceptHandler) -> bool:
    if any(isinstance(node, ast.Continue) for node in walk_statements(handler.body)):
        return True
    last = handler.body[-1] if handler.body else None
    return not isinstance(last, (ast.Raise, ast.Return, ast.Break))


def check_retry(flow: Flow, call: ast.Call, operation: str) -> None:
    """Report a non-idempotent request sent inside a retry (DS105)."""
    hazard = _retry_hazard(flow, call, operation)
    if not hazard:
        return
    if flow.retry:
        flow.index.report("DS105", call, f"{hazard} {TWICE}")
    else:
        flow.summary.retry_hazard = hazard


def _retry_hazard(flow: Flow, call: ast.Call, operation: str) -> str:
    params = flow.resolver.keywords(call)
    if operation == "transact_write_items":
        token = params.get("ClientRequestToken")
        if token is None:
            return "transact_write_items without a ClientRequestToken"
        return (
            "transact_write_items with a new token each attempt"
            if _fresh(flow, token)
            else ""
        )
    if operation != "update_item":
        return ""
    text = flow.resolver.text(params.get("UpdateExpression"))
    actions = update_actions(text.value) if text is not None else []
    increments = [a for a in actions if is_increment(a)]
    if not increments or _token_guarded(flow, params):
        return ""
    first = increments[0]
    return f"update_item with {first.clause} on {first.target!r} and no token"


def _fresh(flow: Flow, token: ast.expr) -> bool:
    if isinstance(token, ast.Name):
        bound = flow.env.get(token.id)
        inside = not flow.retry or token.id in flow.retry[-1]
        return bound is not None and inside and makes_fresh_value(bound)
    return makes_fresh_value(token)


def _token_guarded(flow: Flow, params: dict[str, ast.expr]) -> bool:
    condition = params.get("ConditionExpression")
    if condition is None:
        return False
    text = flow.resolver.text(condition)
    if text is None:
        return bool(_TOKEN_WORD.search(ast.unparse(condition)))
    names = flow.resolver.names(params.get("ExpressionAttributeNames"))
    words = [names.get(t.text, t.text) for t in tokens(text.value)]
    return text.partial or any(_TOKEN_WORD.search(word) for word in words)
