"""What the checker knows about one file before it walks any function.

``ModuleIndex`` is built once per file: the functions and methods a call can reach by
name (so a helper that reads or writes can be summarized), module-level constants (so an
expression string defined at the top is still read), the names that stand for a table or
a client, and the names ``ClientError`` was imported under. It also collects findings,
one per place and message, however often a loop body is walked.

Only statements are visited while indexing, never expressions, and a function is walked
later only when its lines mention something the rules look at (an operation, a
DynamoDB parameter, ``ClientError``, or another function that does): most functions of
most files never touch DynamoDB, and skipping them is most of the checker's speed.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dynsafe.check._calls import TRIGGER_WORDS, call_name, dotted
from dynsafe.check._model import Finding

if TYPE_CHECKING:
    from dynsafe.check._summary import Summary

Function = ast.FunctionDef | ast.AsyncFunctionDef

_CLIENT_FACTORIES = frozenset({"client", "resource"})
_ERROR_ALIAS = re.compile(r"\bClientError\s+as\s+(\w+)")


def table_alias(value: ast.expr, known: Mapping[str, str]) -> str | None:
    """Return the table key an assigned value stands for, if it is a table or client.

    Args:
        value: the assigned expression.
        known: names already known to stand for tables or clients.
    """
    if isinstance(value, ast.Call):
        name = call_name(value)
        args = value.args
        if name == "Table" and args:
            literal = args[0]
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                return f"name:{literal.value}"
            text = dotted(literal)
            return f"nameexpr:{text}" if text else "*"
        if name in _CLIENT_FACTORIES and args and _says_dynamodb(args[0]):
            return "client"
        if name == "batch_writer" and isinstance(value.func, ast.Attribute):
            # ``with table.batch_writer() as batch``: batch writes go to ``table``.
            receiver = value.func.value
            text = dotted(receiver)
            return table_alias(receiver, known) or (f"recv:{text}" if text else "*")
        return None
    text = dotted(value)
    return known.get(text) if text else None


def _says_dynamodb(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == "dynamodb"


@dataclass
class ModuleIndex:
    """Facts about one file that every function's walk can use.

    Attributes:
        path: the file as reported.
        source: its text, to place findings inside multi-line strings.
        functions: module-level functions by name.
        methods: each class's methods by name.
        owners: the class that defines each function (by ``id``), if any.
        constants: module-level names bound once to an expression.
        tables: module-level names (and ``self.x`` per class) standing for a table or
            a client, mapped to a table key.
        client_errors: names that refer to botocore's ``ClientError``.
        summaries: what each function does, by ``id``, once walked.
        findings: everything found so far.
        scopes: every function and method, nested ones included.
        nested: the functions defined directly in each function, by name.
        enclosing: the function each nested function is defined in.
        trigger_lines: lines that mention something the rules look at.
    """

    path: str
    source: str
    functions: dict[str, Function] = field(default_factory=dict)
    methods: dict[str, dict[str, Function]] = field(default_factory=dict)
    owners: dict[int, ast.ClassDef] = field(default_factory=dict)
    constants: dict[str, ast.expr] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    class_tables: dict[str, dict[str, str]] = field(default_factory=dict)
    client_errors: set[str] = field(default_factory=lambda: {"ClientError"})
    summaries: dict[int, Summary] = field(default_factory=dict)
    walking: set[int] = field(default_factory=set)
    findings: set[Finding] = field(default_factory=set)
    scopes: list[Function] = field(default_factory=list)
    nested: dict[int, dict[str, Function]] = field(default_factory=dict)
    enclosing: dict[int, Function] = field(default_factory=dict)
    trigger_lines: list[int] = field(default_factory=list)

    def is_relevant(self, node: ast.stmt) -> bool:
        """Whether any line of a statement mentions something the rules look at."""
        start = bisect.bisect_left(self.trigger_lines, node.lineno)
        end = getattr(node, "end_lineno", None) or node.lineno
        return start < len(self.trigger_lines) and self.trigger_lines[start] <= end

    def report(self, code: str, node: ast.AST, message: str) -> None:
        """Record a finding at ``node``."""
        line = getattr(node, "lineno", 1)
        column = getattr(node, "col_offset", 0) + 1
        end = getattr(node, "end_lineno", None) or line
        self.findings.add(Finding(self.path, line, column, code, message, end))

    def report_line(
        self, code: str, node: ast.stmt | ast.excepthandler, message: str
    ) -> None:
        """Record a finding on the first line of a statement or except clause only."""
        column = node.col_offset + 1
        self.findings.add(
            Finding(self.path, node.lineno, column, code, message, node.lineno)
        )

    def report_word(self, code: str, node: ast.expr, word: str, message: str) -> None:
        """Record a finding where ``word`` first stands bare inside a string literal.

        Falls back to the literal's own position when the word cannot be found in
        its source text (an escape sequence, say).
        """
        line, column = node.lineno, node.col_offset
        segment = ast.get_source_segment(self.source, node) or ""
        match = re.search(rf"(?<![\w#:]){re.escape(word)}(?!\w)", segment)
        if match is not None:
            before = segment[: match.start()]
            newlines = before.count("\n")
            line += newlines
            if newlines:
                column = len(before) - before.rfind("\n") - 1
            else:
                column += len(before)
        self.findings.add(Finding(self.path, line, column + 1, code, message, line))


def index_module(tree: ast.Module, path: str, source: str) -> ModuleIndex:
    """Collect the module-level facts of a parsed file."""
    index = ModuleIndex(path, source)
    index.client_errors.update(_ERROR_ALIAS.findall(source))
    for statement in tree.body:
        _index_statement(index, statement)
    for node in statements(tree.body):
        if isinstance(node, ast.ClassDef):
            _index_class(index, node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            index.scopes.append(node)
            _index_nested(index, node)
    index.trigger_lines = _trigger_lines(index, source)
    return index


def _index_nested(index: ModuleIndex, function: Function) -> None:
    # A closure such as ``def read(): ...`` inside ``def step(): ...`` is a helper for
    # calls made in the function that defines it, and in functions nested deeper.
    for node in statements(function.body, into_functions=False):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            index.nested.setdefault(id(function), {})[node.name] = node
            index.enclosing[id(node)] = function


def statements(
    body: list[ast.stmt], *, into_functions: bool = True
) -> Iterator[ast.stmt]:
    """Yield every statement under ``body``, nested ones included, no expressions.

    Args:
        body: the statements to start from.
        into_functions: whether to go into the bodies of nested functions too.
    """
    for node in body:
        yield node
        if not into_functions and isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef)
        ):
            continue
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(node, name, None)
            if isinstance(inner, list):
                yield from statements(inner, into_functions=into_functions)
        for handler in getattr(node, "handlers", []):
            yield from statements(handler.body, into_functions=into_functions)
        for case in getattr(node, "cases", []):
            yield from statements(case.body, into_functions=into_functions)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _lines_matching(words: Iterable[str], source: str, starts: list[int]) -> set[int]:
    # str.find runs in C and these words are rare, which beats one big regex
    # alternation by an order of magnitude on large files.
    lines: set[int] = set()
    for word in words:
        at = source.find(word)
        while at >= 0:
            end = at + len(word)
            before = source[at - 1] if at else " "
            after = source[end] if end < len(source) else " "
            if not _is_word_char(before) and not _is_word_char(after):
                lines.add(bisect.bisect_right(starts, at))
            at = source.find(word, end)
    return lines


def _trigger_lines(index: ModuleIndex, source: str) -> list[int]:
    # A helper counts as a trigger once it is relevant itself, so a function that
    # only calls ``load()`` is walked when ``load`` reads: widen until nothing changes.
    starts = [0, *(m.end() for m in re.finditer("\n", source))]
    words = TRIGGER_WORDS | index.client_errors
    lines = _lines_matching(words, source, starts)
    known: set[str] = set()
    for _ in range(4):
        index.trigger_lines = sorted(lines)
        new = {f.name for f in index.scopes if index.is_relevant(f)} - known
        if not new:
            break
        known |= new
        lines |= _lines_matching(new, source, starts)
    return index.trigger_lines


def _index_statement(index: ModuleIndex, node: ast.stmt) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        index.functions[node.name] = node
    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        if isinstance(target, ast.Name):
            index.constants[target.id] = node.value
            alias = table_alias(node.value, index.tables)
            if alias is not None:
                index.tables[target.id] = alias
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        name = node.target.id if isinstance(node.target, ast.Name) else None
        index.constants.update({name: node.value} if name else {})


def _index_class(index: ModuleIndex, node: ast.ClassDef) -> None:
    methods = index.methods.setdefault(node.name, {})
    tables = index.class_tables.setdefault(node.name, {})
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            methods[item.name] = item
            index.owners[id(item)] = node
            _index_self_tables(item, tables, index.tables)


def _index_self_tables(
    method: Function, tables: dict[str, str], known: dict[str, str]
) -> None:
    # ``self.table = boto3.resource("dynamodb").Table("orders")`` in any method names
    # the table for every method of the class.
    for node in statements(method.body):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = dotted(node.targets[0])
            alias = table_alias(node.value, known)
            if target is not None and target.startswith("self.") and alias is not None:
                tables[target] = alias
