"""DS101 and DS102: what a write does with what was read, and with the version.

``check_write`` takes one write request. DS101 fires when its values (``Item`` of a
put, ``ExpressionAttributeValues`` or ``AttributeUpdates`` of an update) come from a
read of the same table and no condition depends on that read: a condition comparing
with a read value, or a create-only ``attribute_not_exists``. DS102 fires when the
condition compares a version attribute and the write leaves it as it was. Values that
came in through a parameter are recorded in the function's summary instead, so the
caller that passes a read value is the one flagged.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from dynsafe.check._calls import (
    OPAQUE_CALLS,
    Request,
    call_name,
    is_version_name,
    same_expression,
)
from dynsafe.check._expr import equalities, tokens, update_actions
from dynsafe.check._summary import ANY_TABLE, params, reads

if TYPE_CHECKING:
    from dynsafe.check._flow import Flow

_READ_ONLY_METHODS = frozenset({"get", "items", "keys", "values", "copy"})


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
    if call_name(call) not in OPAQUE_CALLS | {"dict"}:
        arguments = [*call.args, *(k.value for k in call.keywords)]
        names.update(a.id for a in arguments if isinstance(a, ast.Name))
    return names
