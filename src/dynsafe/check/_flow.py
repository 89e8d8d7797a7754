"""One walk over one function (or the module body), statement by statement.

``Flow`` keeps, in source order, what each name holds: the reads it was computed from
(taint), the expression last assigned to it (so literals can be resolved), and whether
it stands for a table. Each call it meets is classified (a DynamoDB read, a write, a
helper with a summary) and handed to the rules in ``_rules``. Loop bodies are walked a
second time when the first pass changed what names hold, so a value read at the end of
one iteration reaches a write at the start of the next. Assignments directly in the
function body replace what a name held; assignments inside a branch or loop add to it.
"""

from __future__ import annotations

import ast
from collections import ChainMap
from collections.abc import Iterable

from dynsafe.check import _rules
from dynsafe.check._calls import (
    OPERATIONS,
    READS,
    TRANSACT_ENTRIES,
    Request,
    dotted,
    takes_dynamodb_parameters,
)
from dynsafe.check._module import Function, ModuleIndex, table_alias
from dynsafe.check._resolve import Resolver
from dynsafe.check._summary import ANY_TABLE, Origin, Summary, Taint

_CLEAN: Taint = frozenset()
_SIMPLE = (
    ast.Expr,
    ast.Return,
    ast.Raise,
    ast.Assert,
    ast.Delete,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
)


class Flow:
    """The state of one scope's walk, and the services rules ask of it."""

    def __init__(self, index: ModuleIndex, scope: ast.AST) -> None:
        self.index = index
        self.scope = scope
        self.owner = index.owners.get(id(scope))
        self.taint: dict[str, Taint] = {}
        self.env: dict[str, ast.expr] = {}
        self.tables: dict[str, str] = {}
        self.retry: list[set[str]] = []
        self.summary = Summary()
        self.resolver = Resolver(self.lookup)
        self._origins: dict[int, Taint] = {}
        self._mutated: set[str] | None = None

    # What names hold

    def lookup(self, name: str) -> ast.expr | None:
        """Return the expression last assigned to ``name`` here or at module level."""
        return self.env.get(name) or self.index.constants.get(name)

    def taint_of(self, node: ast.expr | None) -> Taint:
        """Return the origins of everything an expression is computed from."""
        if node is None:
            return _CLEAN
        found: set[Origin] = set()
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Name, ast.Attribute)):
                key = dotted(sub)
                found.update(self.taint.get(key, _CLEAN) if key else _CLEAN)
            elif isinstance(sub, ast.Call):
                found.update(self.call_origins(sub))
        return frozenset(found)

    def call_origins(self, call: ast.Call) -> Taint:
        """Return the reads whose items a call's result holds."""
        cached = self._origins.get(id(call))
        if cached is None:
            cached = self._call_origins(call)
            self._origins[id(call)] = cached
        return cached

    def _call_origins(self, call: ast.Call) -> Taint:
        operation = self.operation(call)
        if operation in READS or operation == "paginate":
            return frozenset({Origin(self.table_key(call), call.lineno)})
        target = self.helper(call)
        if target is None:
            return _CLEAN
        summary = summarize(self.index, target)
        bound = self.bind(call, summary)
        return frozenset(
            Origin(self.substitute(origin.table, summary, bound), call.lineno)
            for origin in summary.returns
            if origin.param is None
        )

    def mutated(self) -> set[str]:
        """Return the names that may be changed in place somewhere in this scope."""
        if self._mutated is None:
            self._mutated = _rules.mutated_names(self, self.scope)
        return self._mutated

    # Tables and calls

    def operation(self, call: ast.Call) -> str | None:
        """Return the DynamoDB operation a call sends, or None if it is not one."""
        func = call.func
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr == "paginate":
            has_table = any(k.arg == "TableName" for k in call.keywords)
            return "paginate" if has_table else None
        if func.attr not in OPERATIONS:
            return None
        if takes_dynamodb_parameters(call) or self.is_table(func.value):
            return func.attr
        return None

    def is_table(self, node: ast.expr) -> bool:
        """Whether an expression is known, or named, to be a table or a client."""
        if self.alias(node) is not None:
            return True
        text = dotted(node) or ""
        return "table" in text.rpartition(".")[2].lower()

    def alias(self, node: ast.expr) -> str | None:
        """Return the table key a table or client expression is bound to, if known."""
        known = ChainMap(self.tables, self.class_tables(), self.index.tables)
        return table_alias(node, known)

    def class_tables(self) -> dict[str, str]:
        """Return the ``self.x`` tables of the class this scope belongs to."""
        if self.owner is None:
            return {}
        return self.index.class_tables.get(self.owner.name, {})

    def receiver_key(self, node: ast.expr) -> str:
        """Return the table key of a table resource expression."""
        alias = self.alias(node)
        if alias is not None and alias != "client":
            return alias
        text = dotted(node)
        return f"recv:{text}" if text else ANY_TABLE

    def name_key(self, node: ast.expr | None) -> str:
        """Return the table key of a ``TableName`` value."""
        text = self.resolver.text(node)
        if text is not None and not text.partial:
            return f"name:{text.value}"
        name = dotted(node) if node is not None else None
        return f"nameexpr:{name}" if name else ANY_TABLE

    def table_key(self, call: ast.Call) -> str:
        """Return the key of the table a DynamoDB call sends to.

        Two calls with equal keys go to the same table; ``ANY_TABLE`` matches all.
        """
        params = self.resolver.keywords(call)
        if "TableName" in params:
            return self.name_key(params["TableName"])
        func = call.func
        return (
            self.receiver_key(func.value)
            if isinstance(func, ast.Attribute)
            else ANY_TABLE
        )

    def requests(self, call: ast.Call, operation: str) -> list[Request]:
        """Return the writes a DynamoDB call sends."""
        params = self.resolver.keywords(call)
        if operation in ("put_item", "update_item", "delete_item"):
            return [Request(operation, params, call, self.table_key(call))]
        if operation != "transact_write_items":
            return []
        return list(self._transact_requests(params.get("TransactItems")))

    def _transact_requests(self, items: ast.expr | None) -> Iterable[Request]:
        for item in self.resolver.sequence(items) or []:
            entry = self.resolver.mapping(item) or {}
            for kind, operation in TRANSACT_ENTRIES.items():
                if kind in entry:
                    node = entry[kind]
                    params = self.resolver.mapping(node) or {}
                    table = self.name_key(params.get("TableName"))
                    yield Request(operation, params, node, table)

    # Helpers

    def helper(self, call: ast.Call) -> Function | None:
        """Return the same-file function or method a call runs, if it can be told."""
        func = call.func
        if isinstance(func, ast.Name):
            return self._visible_function(func.id)
        if not isinstance(func, ast.Attribute) or self.owner is None:
            return None
        if isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
            return self.index.methods.get(self.owner.name, {}).get(func.attr)
        return None

    def _visible_function(self, name: str) -> Function | None:
        scope: ast.AST | None = self.scope
        while scope is not None:
            found = self.index.nested.get(id(scope), {}).get(name)
            if found is not None:
                return found
            scope = self.index.enclosing.get(id(scope))
        return self.index.functions.get(name)

    def bind(self, call: ast.Call, summary: Summary) -> dict[str, ast.expr]:
        """Map a helper's parameters to the arguments of a call to it."""
        bound: dict[str, ast.expr] = {}
        for name, arg in zip(summary.positional, call.args, strict=False):
            if isinstance(arg, ast.Starred):
                break
            bound[name] = arg
        for keyword in call.keywords:
            if keyword.arg is not None:
                bound[keyword.arg] = keyword.value
        return bound

    def substitute(
        self, table: str, summary: Summary, bound: dict[str, ast.expr]
    ) -> str:
        """Rewrite a helper's table key in terms of the caller's arguments."""
        prefix, _, rest = table.partition(":")
        root, _, tail = rest.partition(".")
        if prefix not in ("recv", "nameexpr") or root not in summary.params:
            return table
        arg = bound.get(root)
        if arg is None:
            return ANY_TABLE
        if tail:
            base = dotted(arg)
            return f"{prefix}:{base}.{tail}" if base else ANY_TABLE
        return self.receiver_key(arg) if prefix == "recv" else self.name_key(arg)

    # The walk

    def run(self) -> Summary:
        """Walk the scope and return its summary."""
        if isinstance(self.scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._enter(self.scope)
            self.block(self.scope.body, top=True)
        elif isinstance(self.scope, ast.Module):
            self.block(self.scope.body, top=True)
        return self.summary

    def _enter(self, function: Function) -> None:
        args = function.args
        positional = [a.arg for a in (*args.posonlyargs, *args.args)]
        if self.owner is not None and positional and positional[0] in ("self", "cls"):
            positional = positional[1:]
        names = [*positional, *(a.arg for a in args.kwonlyargs)]
        names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
        self.summary.params = frozenset(names)
        self.summary.positional = tuple(positional)
        for name in names:
            self.taint[name] = frozenset({Origin(ANY_TABLE, 0, name)})
        if _rules.retries_by_decorator(function):
            self.retry.append(set())

    def block(self, body: Iterable[ast.stmt], *, top: bool = False) -> None:
        """Walk statements in order."""
        for statement in body:
            self.statement(statement, top)

    def statement(self, node: ast.stmt, top: bool) -> None:
        """Walk one statement."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        if isinstance(node, ast.ClassDef):
            self.block(node.body)
        elif isinstance(node, _SIMPLE):
            self.scan(node)
            self._assign(node, top)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            self._loop(node)
        elif isinstance(node, ast.If):
            self.scan(node.test)
            self.block(node.body)
            self.block(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            self._with(node)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self._try(node)
        elif isinstance(node, ast.Match):
            self.scan(node.subject)
            for case in node.cases:
                self.block(case.body)

    def _assign(self, node: ast.stmt, top: bool) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.bind_target(target, self.taint_of(node.value), node.value, top)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.bind_target(node.target, self.taint_of(node.value), node.value, top)
        elif isinstance(node, ast.AugAssign):
            self.bind_target(node.target, self.taint_of(node.value), None, False)
        elif isinstance(node, ast.Return):
            self.summary.returns.update(self.taint_of(node.value))

    def bind_target(
        self, target: ast.expr, taint: Taint, value: ast.expr | None, top: bool
    ) -> None:
        """Record what an assignment target now holds."""
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind_target(element, taint, None, False)
            return
        if isinstance(target, ast.Starred):
            self.bind_target(target.value, taint, None, False)
            return
        if isinstance(target, ast.Subscript):
            # Storing into a container makes the container hold the value too.
            self.bind_target(target.value, taint, None, False)
            return
        key = dotted(target)
        if key is None:
            return
        self.taint[key] = taint if top else self.taint.get(key, _CLEAN) | taint
        for names in self.retry:
            names.add(key)
        if value is not None:
            self.env[key] = value
            alias = self.alias(value)
            if alias is not None:
                self.tables[key] = alias

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While) -> None:
        if isinstance(node, ast.While):
            self.scan(node.test)
        else:
            self.scan(node.iter)
            self.bind_target(node.target, self.taint_of(node.iter), None, False)
        retrying = _rules.is_retry_loop(node)
        if retrying:
            self.retry.append(set())
        before = dict(self.taint)
        self.block(node.body)
        if self.taint != before:
            self.block(node.body)
        if retrying:
            self.retry.pop()
        self.block(node.orelse)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.scan(item.context_expr)
            if item.optional_vars is not None:
                taint = self.taint_of(item.context_expr)
                value = item.context_expr
                self.bind_target(item.optional_vars, taint, value, False)
        self.block(node.body)

    def _try(self, node: ast.stmt) -> None:
        body: list[ast.stmt] = getattr(node, "body", [])
        handlers: list[ast.ExceptHandler] = getattr(node, "handlers", [])
        for handler in handlers:
            _rules.check_handler(self, body, handler)
        self.block(body)
        for handler in handlers:
            self.block(handler.body)
        self.block(getattr(node, "orelse", []))
        self.block(getattr(node, "finalbody", []))

    def scan(self, node: ast.AST) -> None:
        """Hand every call, dict and inner assignment of an expression to the rules."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                self.call(sub)
            elif isinstance(sub, ast.Dict):
                _rules.check_dict_expressions(self, sub)
            elif isinstance(sub, ast.NamedExpr):
                self.bind_target(sub.target, self.taint_of(sub.value), sub.value, False)
            elif isinstance(sub, (ast.Yield, ast.YieldFrom)):
                self.summary.returns.update(self.taint_of(sub.value))

    def call(self, node: ast.Call) -> None:
        """Check one call."""
        _rules.check_call_expressions(self, node)
        operation = self.operation(node)
        if operation is not None:
            self.summary.calls_dynamodb = True
            for request in self.requests(node, operation):
                _rules.check_write(self, request)
            _rules.check_retry(self, node, operation)
            return
        target = self.helper(node)
        if target is not None:
            summary = summarize(self.index, target)
            self.summary.calls_dynamodb |= summary.calls_dynamodb
            _rules.check_helper_call(self, node, target.name, summary)

    def helper_summary(self, call: ast.Call) -> Summary | None:
        """Return the summary of the same-file function a call runs, if any."""
        target = self.helper(call)
        return summarize(self.index, target) if target is not None else None


def summarize(index: ModuleIndex, function: Function) -> Summary:
    """Return a function's summary, walking it the first time it is asked for."""
    key = id(function)
    known = index.summaries.get(key)
    if known is not None:
        return known
    if key in index.walking or not index.is_relevant(function):
        return Summary()
    index.walking.add(key)
    summary = Flow(index, function).run()
    index.walking.discard(key)
    index.summaries[key] = summary
    return summary


def analyze(tree: ast.Module, index: ModuleIndex) -> None:
    """Walk the module body and every relevant function in it, each once."""
    Flow(index, tree).run()
    for function in index.scopes:
        summarize(index, function)
