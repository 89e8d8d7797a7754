"""The five rules, each a check that ``Flow`` calls where it applies.

- ``check_write`` (DS101, DS102): a write whose values come from a read of the same
  table must carry a condition on what was read; a write conditioned on a version must
  change the version.
- ``check_call_expressions`` and ``check_dict_expressions`` (DS103): expression strings,
  passed as keywords or built as request dicts, must not use reserved words bare.
- ``check_handler`` (DS104): an ``except ClientError`` around DynamoDB calls must look
  at the error code, re-raise, or translate into a non-conflict error.
- ``check_retry`` and ``check_helper_call`` (DS105): inside a retry loop, an ``ADD`` or
  a transaction must carry a token that is the same on every attempt.

Each rule errs on the side of silence: when the source does not spell out a condition
or an expression, the rule assumes the code is right.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from dynsafe.check._calls import (
    EXPRESSIONS,
    Request,
    call_name,
    dotted,
    is_version_name,
    makes_fresh_value,
    same_expression,
)
from dynsafe.check._expr import (
    attribute_words,
    equalities,
    is_increment,
    tokens,
    update_actions,
)
from dynsafe.check._reserved import RESERVED_WORDS
from dynsafe.check._summary import ANY_TABLE, Summary, params, reads

if TYPE_CHECKING:
    from dynsafe.check._flow import Flow

_CONFLICT = re.compile(
    r"(?i)conflict|concurren|stale|version|condition|optimistic|race|exists"
)
_TOKEN_WORD = re.compile(r"(?i)token|idempot|dedup|nonce|applied|request|version|txn")
_ATTEMPT = re.compile(r"(?i)^_$|attempt|retr(y|ies)|^tr(y|ies)")
_OPAQUE_CALLS = frozenset(
    {
        "critical",
        "debug",
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
_READ_ONLY_METHODS = frozenset({"get", "items", "keys", "values", "copy"})
_RETRY_DECORATORS = frozenset({"retry", "retrying", "on_exception", "on_predicate"})
_TWICE = "inside a retry loop: an attempt whose reply was lost applies twice"
_RETRY_ITERATORS = frozenset({"range", "count", "repeat", "Retrying", "AsyncRetrying"})


# DS101 and DS102: writes


def check_write(flow: Flow, request: Request) -> None:
    """Check a write for a lost update (DS101) and a version left as it was (DS102)."""
    if request.op in ("put_item", "update_item"):
        _check_read_modify_write(flow, request)
        _check_version_bump(flow, request)


def _written_values(request: Request) -> list[ast.expr]:
    if request.op == "put_item":
        names = ["Item"]
    else:
        names = ["ExpressionAttributeValues", "AttributeUpdates"]
    return [request.params[name] for name in names if name in request.params]


def _check_read_modify_write(flow: Flow, request: Request) -> None:
    taint = frozenset().union(*(flow.taint_of(v) for v in _written_values(request)))
    found, through = reads(taint, request.table), params(taint)
    if not (found or through) or _guarded(flow, request):
        return
    for name in through:
        flow.summary.sinks[name] = request.table
    if found:
        message = (
            f"{request.op} writes back a value read at line {found[0].line} "
            "with no condition on what was read"
        )
        flow.index.report("DS101", request.node, message)


def _guarded(flow: Flow, request: Request) -> bool:
    if "Expected" in request.params:
        return True
    condition = request.params.get("ConditionExpression")
    if condition is None:
        return False
    if flow.taint_of(condition):
        return True
    built = _condition_builder(flow, condition)
    if built is not None:
        # boto3 conditions: only a create-only check guards a write of what was read.
        calls = [n for n in ast.walk(built) if isinstance(n, ast.Call)]
        return any(call_name(c) == "not_exists" for c in calls)
    text = flow.resolver.text(condition)
    if text is None or text.partial or "attribute_not_exists" in text.value:
        return True
    return _placeholders_read(flow, request, text.value)


def _condition_builder(flow: Flow, node: ast.expr, depth: int = 0) -> ast.expr | None:
    """Return the boto3 ``Attr(...)`` condition ``node`` is (or names), if it is one."""
    if isinstance(node, ast.Name) and depth < 4:
        bound = flow.lookup(node.id)
        return _condition_builder(flow, bound, depth + 1) if bound is not None else None
    calls = (n for n in ast.walk(node) if isinstance(n, ast.Call))
    return node if any(call_name(c) == "Attr" for c in calls) else None


def _placeholders_read(flow: Flow, request: Request, condition: str) -> bool:
    used = {t.text for t in tokens(condition) if t.role == "value"}
    node = request.params.get("ExpressionAttributeValues")
    values = flow.resolver.mapping(node)
    if values is None:
        # Values we cannot read may well hold what was read: trust the condition.
        return bool(used) and node is not None
    return any(flow.taint_of(values[name]) for name in used if name in values)


def _version_checks(
    flow: Flow, request: Request
) -> list[tuple[str, ast.expr | None, str]]:
    condition = request.params.get("ConditionExpression")
    if condition is None:
        return []
    text = flow.resolver.text(condition)
    if text is None:
        return _attr_version_checks(condition)
    if text.partial:
        return []
    names = flow.resolver.names(request.params.get("ExpressionAttributeNames"))
    values = (
        flow.resolver.mapping(request.params.get("ExpressionAttributeValues")) or {}
    )
    checks = []
    for path, placeholder in equalities(text.value):
        attribute = names.get(path, path)
        if is_version_name(attribute):
            checks.append((attribute, values.get(placeholder), placeholder))
    return checks


def _attr_version_checks(condition: ast.expr) -> list[tuple[str, ast.expr | None, str]]:
    # boto3 conditions: ``Attr("version").eq(expected)``.
    checks: list[tuple[str, ast.expr | None, str]] = []
    for node in ast.walk(condition):
        if not (isinstance(node, ast.Call) and call_name(node) == "eq" and node.args):
            continue
        func = node.func
        subject = func.value if isinstance(func, ast.Attribute) else None
        if (
            isinstance(subject, ast.Call)
            and call_name(subject) == "Attr"
            and subject.args
        ):
            name = subject.args[0]
            value = name.value if isinstance(name, ast.Constant) else None
            if isinstance(value, str) and is_version_name(value):
                checks.append((value, node.args[0], ""))
    return checks


def _check_version_bump(flow: Flow, request: Request) -> None:
    for attribute, expected, placeholder in _version_checks(flow, request):
        if request.op == "update_item":
            bumped = _update_bumps(flow, request, attribute, expected, placeholder)
        else:
            bumped = _item_bumps(
                flow, request.params.get("Item"), attribute, expected, 0
            )
        if not bumped:
            message = (
                f"{request.op} checks {attribute!r} but leaves it unchanged, "
                "so the check protects nothing"
            )
            flow.index.report("DS102", request.node, message)


def _update_bumps(
    flow: Flow,
    request: Request,
    attribute: str,
    expected: ast.expr | None,
    placeholder: str,
) -> bool:
    text = flow.resolver.text(request.params.get("UpdateExpression"))
    if text is None or text.partial:
        return True
    names = flow.resolver.names(request.params.get("ExpressionAttributeNames"))
    values = (
        flow.resolver.mapping(request.params.get("ExpressionAttributeValues")) or {}
    )
    for action in update_actions(text.value):
        if names.get(action.target, action.target) != attribute:
            continue
        operand = action.operand
        if action.clause != "SET" or len(operand) != 1 or operand[0].role != "value":
            return True
        if operand[0].text == placeholder:
            return False
        value = values.get(operand[0].text)
        return not (
            value is not None
            and expected is not None
            and same_expression(value, expected)
        )
    return False


def _item_bumps(
    flow: Flow,
    item: ast.expr | None,
    attribute: str,
    expected: ast.expr | None,
    depth: int,
) -> bool:
    if isinstance(item, ast.Dict) and depth < 4:
        spreads = []
        for key, value in zip(item.keys, item.values, strict=True):
            if key is None:
                spreads.append(value)
            elif isinstance(key, ast.Constant) and key.value == attribute:
                return expected is None or not same_expression(value, expected)
        return any(
            _item_bumps(flow, s, attribute, expected, depth + 1) for s in spreads
        )
    if not isinstance(item, ast.Name) or item.id in flow.mutated():
        return True
    bound = flow.env.get(item.id)
    if isinstance(bound, ast.Dict):
        return _item_bumps(flow, bound, attribute, expected, depth + 1)
    # An item straight from a read, never changed in place, keeps its old version.
    return not reads(flow.taint.get(item.id, frozenset()), ANY_TABLE)


def mutated_names(flow: Flow, scope: ast.AST) -> set[str]:
    """Return names a scope may change in place: a version store, a method, a helper."""
    names: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(_stored_versions(list(targets)))
        elif isinstance(node, ast.Call) and flow.operation(node) is None:
            names.update(_changed_by_call(node))
    return names


def _stored_versions(targets: list[ast.expr]) -> set[str]:
    names = set()
    for target in targets:
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            key = target.slice
            literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
            if not literal or is_version_name(str(getattr(key, "value", ""))):
                names.add(target.value.id)
    return names


def _changed_by_call(call: ast.Call) -> set[str]:
    func = call.func
    names = set()
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        names.update([func.value.id] if func.attr not in _READ_ONLY_METHODS else [])
    if call_name(call) not in _OPAQUE_CALLS | {"dict", "dumps"}:
        arguments = [*call.args, *(k.value for k in call.keywords)]
        names.update(a.id for a in arguments if isinstance(a, ast.Name))
    return names


# DS103: reserved words


def check_call_expressions(flow: Flow, call: ast.Call) -> None:
    """Check the expression keywords of any call for bare reserved words."""
    for keyword in call.keywords:
        if keyword.arg in EXPRESSIONS:
            _check_reserved(flow, keyword.value, keyword.arg)


def check_dict_expressions(flow: Flow, node: ast.Dict) -> None:
    """Check the expression entries of a request dict for bare reserved words."""
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and key.value in EXPRESSIONS:
            _check_reserved(flow, value, key.value)


def _check_reserved(flow: Flow, node: ast.expr, parameter: str) -> None:
    text = flow.resolver.text(node)
    if text is None:
        return
    # One finding per word and literal: the fix (one placeholder) is the same.
    seen: set[tuple[int, str]] = set()
    for token in attribute_words(text.value, update=EXPRESSIONS[parameter]):
        anchor = text.node_at(token.start)
        word = token.text
        if anchor is None or (id(anchor), word) in seen:
            continue
        if word.upper() in RESERVED_WORDS:
            seen.add((id(anchor), word))
            message = (
                f'"{word}" is a reserved word in {parameter}: write "#{word}" and pass '
                f'ExpressionAttributeNames={{"#{word}": "{word}"}}'
            )
            flow.index.report_word("DS103", anchor, word, message)


# DS104: every ClientError as one outcome


def check_handler(flow: Flow, body: list[ast.stmt], handler: ast.ExceptHandler) -> None:
    """Check an except clause that catches ClientError around DynamoDB calls."""
    if not _catches_client_error(flow, handler.type) or not _sends_requests(flow, body):
        return
    if _looks_at_error(handler) or _reraises(handler):
        return
    raised = [node for node in _walk(handler.body) if isinstance(node, ast.Raise)]
    if raised and not any(_raises_conflict(node) for node in raised):
        return
    what = "reports every error as a conflict" if raised else "swallows every error"
    message = (
        f"except ClientError {what} without looking at the error code "
        "(throttling and validation errors land here too)"
    )
    flow.index.report_line("DS104", handler, message)


def _walk(body: list[ast.stmt]) -> list[ast.AST]:
    return [node for statement in body for node in ast.walk(statement)]


def _catches_client_error(flow: Flow, node: ast.expr | None) -> bool:
    if isinstance(node, ast.Tuple):
        return any(_catches_client_error(flow, element) for element in node.elts)
    if isinstance(node, ast.Name):
        return node.id in flow.index.client_errors
    return isinstance(node, ast.Attribute) and node.attr == "ClientError"


def _sends_requests(flow: Flow, body: list[ast.stmt]) -> bool:
    for node in _walk(body):
        if isinstance(node, ast.Call):
            if flow.operation(node) is not None:
                return True
            target = flow.helper(node)
            if target is not None and _summary(flow, target).calls_dynamodb:
                return True
    return False


def _summary(flow: Flow, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Summary:
    from dynsafe.check._flow import summarize

    return summarize(flow.index, function)


def _looks_at_error(handler: ast.ExceptHandler) -> bool:
    name = handler.name
    if name is None:
        return False
    for node in _walk(handler.body):
        if isinstance(node, ast.Attribute) and _is_name(node.value, name):
            if node.attr in ("response", "operation_name"):
                return True
        elif isinstance(node, ast.Call) and call_name(node) not in _OPAQUE_CALLS:
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if any(_is_name(a, name) for a in arguments) and not _is_error_type(node):
                return True
    return False


def _is_name(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_error_type(call: ast.Call) -> bool:
    return call_name(call).endswith(("Error", "Exception", "Warning"))


def _reraises(handler: ast.ExceptHandler) -> bool:
    for node in _walk(handler.body):
        if not isinstance(node, ast.Raise) or node.cause is not None:
            continue
        if node.exc is None or (handler.name and _is_name(node.exc, handler.name)):
            return True
    return False


def _raises_conflict(node: ast.Raise) -> bool:
    exc = node.exc
    name = call_name(exc) if isinstance(exc, ast.Call) else dotted(exc) if exc else ""
    return bool(_CONFLICT.search(name or ""))


# DS105: retries without a stable token


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
        for sub in _walk(node.body)
    )


def _handler_retries(handler: ast.ExceptHandler) -> bool:
    if any(isinstance(node, ast.Continue) for node in _walk(handler.body)):
        return True
    last = handler.body[-1] if handler.body else None
    return not isinstance(last, (ast.Raise, ast.Return, ast.Break))


def check_retry(flow: Flow, call: ast.Call, operation: str) -> None:
    """Report a non-idempotent request sent inside a retry (DS105)."""
    hazard = _retry_hazard(flow, call, operation)
    if not hazard:
        return
    if flow.retry:
        flow.index.report("DS105", call, f"{hazard} {_TWICE}")
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


def check_helper_call(flow: Flow, call: ast.Call, name: str, summary: Summary) -> None:
    """Carry a helper's unconditioned writes (DS101) and retry hazards (DS105) here."""
    bound = flow.bind(call, summary)
    for param, table in summary.sinks.items():
        taint = flow.taint_of(bound.get(param))
        table = flow.substitute(table, summary, bound)
        found = reads(taint, table)
        if found:
            message = (
                f"{name}() writes back a value read at line {found[0].line} "
                "with no condition on what was read"
            )
            flow.index.report("DS101", call, message)
        for through in params(taint):
            flow.summary.sinks[through] = table
    if summary.retry_hazard:
        if flow.retry:
            message = f"{name}() sends {summary.retry_hazard} {_TWICE}"
            flow.index.report("DS105", call, message)
        else:
            flow.summary.retry_hazard = summary.retry_hazard
