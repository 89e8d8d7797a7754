"""Following names back to the literals they were built from.

The checker reads code, it never runs it, so an expression string or a parameter dict
is only known when the code spells it out: a literal, an f-string, ``+`` of pieces,
``%`` or ``.format`` on a literal, ``sep.join([...])``, or a name bound to one of those.
``Resolver`` does that lookup through a function that maps a name to the expression last
assigned to it. Whatever stays unknown becomes ``GLUE`` in a text and marks it
``partial``, so rules can tell "no condition" from "a condition we cannot read".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from dynsafe.check._expr import GLUE

_MAX_DEPTH = 8
_PERCENT_FIELD = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdirfx]")
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")

Lookup = Callable[[str], "ast.expr | None"]


@dataclass(frozen=True)
class Text:
    """A string resolved from source.

    Attributes:
        value: the text, with ``GLUE`` where a part is unknown.
        spans: ``(start, end, node)`` for each part, mapping offsets in ``value`` back
            to the literal that wrote them.
        partial: whether some part is unknown.
    """

    value: str
    spans: tuple[tuple[int, int, ast.expr], ...]
    partial: bool

    def node_at(self, offset: int) -> ast.expr | None:
        """Return the literal that wrote the character at ``offset``."""
        for start, end, node in self.spans:
            if start <= offset < end:
                return node
        return None

    def __add__(self, other: Text) -> Text:
        shift = len(self.value)
        moved = tuple((s + shift, e + shift, n) for s, e, n in other.spans)
        return Text(
            self.value + other.value, self.spans + moved, self.partial or other.partial
        )


_UNKNOWN = Text(GLUE, (), True)


def _literal(value: str, node: ast.expr) -> Text:
    return Text(value, ((0, len(value), node),), False)


def _rewritten(text: Text, pattern: re.Pattern[str], node: ast.expr) -> Text:
    value, count = pattern.subn(GLUE, text.value)
    return Text(value, ((0, len(value), node),), text.partial or count > 0)


class Resolver:
    """Resolves strings, dicts and lists through the names a scope has bound."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup

    def _named(self, node: ast.expr, depth: int) -> ast.expr | None:
        if isinstance(node, ast.Name) and depth < _MAX_DEPTH:
            return self._lookup(node.id)
        return None

    def text(self, node: ast.expr | None, depth: int = 0) -> Text | None:
        """Return the string ``node`` evaluates to, or None when it is not a string.

        Args:
            node: the expression.
            depth: how many names were followed to get here.
        """
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return _literal(node.value, node) if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        named = self._named(node, depth)
        return self.text(named, depth + 1) if named is not None else None

    def _fstring(self, node: ast.JoinedStr) -> Text:
        # Positions of the parts inside an f-string are unreliable before Python
        # 3.12, so every part points at the f-string as a whole.
        result = Text("", (), False)
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                result = result + _literal(part.value, node)
            else:
                result = result + _UNKNOWN
        return result

    def _binop(self, node: ast.BinOp, depth: int) -> Text | None:
        left = self.text(node.left, depth)
        if isinstance(node.op, ast.Add):
            right = self.text(node.right, depth)
            if left is None and right is None:
                return None
            return (left or _UNKNOWN) + (right or _UNKNOWN)
        if isinstance(node.op, ast.Mod) and left is not None:
            return _rewritten(left, _PERCENT_FIELD, node)
        return None

    def _call(self, node: ast.Call, depth: int) -> Text | None:
        func = node.func
        if not isinstance(func, ast.Attribute):
            return None
        base = self.text(func.value, depth)
        if base is None:
            return None
        if func.attr == "format":
            return _rewritten(base, _FORMAT_FIELD, node)
        if func.attr == "join" and len(node.args) == 1:
            return self._joined(base, node.args[0], depth)
        return None

    def _joined(self, separator: Text, items: ast.expr, depth: int) -> Text | None:
        elements = self.sequence(items, depth)
        if elements is None:
            return None
        result: Text | None = None
        for element in elements:
            piece = self.text(element, depth) or _UNKNOWN
            result = piece if result is None else result + separator + piece
        return result or Text("", (), False)

    def mapping(
        self, node: ast.expr | None, depth: int = 0
    ) -> dict[str, ast.expr] | None:
        """Return the ``{str: expression}`` a dict literal (or ``dict(...)``) spells.

        Returns None when the dict is unknown, or has a key or ``**`` part that cannot
        be read.
        """
        if isinstance(node, ast.Dict):
            return self._dict(node, depth)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "dict" and not node.args:
                return self._keywords(node.keywords, depth)
            return None
        named = self._named(node, depth) if node is not None else None
        return self.mapping(named, depth + 1) if named is not None else None

    def _dict(self, node: ast.Dict, depth: int) -> dict[str, ast.expr] | None:
        result: dict[str, ast.expr] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                spread = self.mapping(value, depth + 1)
                if spread is None:
                    return None
                result.update(spread)
                continue
            text = self.text(key, depth)
            if text is None or text.partial:
                return None
            result[text.value] = value
        return result

    def _keywords(
        self, keywords: list[ast.keyword], depth: int
    ) -> dict[str, ast.expr] | None:
        result: dict[str, ast.expr] = {}
        for keyword in keywords:
            if keyword.arg is None:
                spread = self.mapping(keyword.value, depth + 1)
                if spread is None:
                    return None
                result.update(spread)
            else:
                result[keyword.arg] = keyword.value
        return result

    def sequence(self, node: ast.expr | None, depth: int = 0) -> list[ast.expr] | None:
        """Return the elements of a list or tuple literal, or None when unknown."""
        if isinstance(node, (ast.List, ast.Tuple)):
            return list(node.elts)
        named = self._named(node, depth) if node is not None else None
        return self.sequence(named, depth + 1) if named is not None else None

    def names(self, node: ast.expr | None) -> dict[str, str]:
        """Return the ``#name -> attribute`` pairs of ExpressionAttributeNames."""
        result: dict[str, str] = {}
        for key, value in (self.mapping(node) or {}).items():
            text = self.text(value)
            if text is not None and not text.partial:
                result[key] = text.value
        return result

    def keywords(self, call: ast.Call) -> dict[str, ast.expr]:
        """Return a call's keyword arguments, ``**`` dicts spelled out where known."""
        result: dict[str, ast.expr] = {}
        for keyword in call.keywords:
            if keyword.arg is None:
                result.update(self.mapping(keyword.value) or {})
            else:
                result[keyword.arg] = keyword.value
        return result
