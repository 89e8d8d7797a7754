"""Reading DynamoDB expression strings without sending them.

The tokenizer splits an expression into words, ``#name`` and ``:value`` placeholders,
numbers and punctuation. The classifier then gives each word its role, the way the
service's grammar would: a function name (followed by ``(``), a keyword (``NOT``;
``AND``, ``OR``, ``BETWEEN``, ``IN`` after an operand; ``SET``, ``REMOVE``, ``ADD``,
``DELETE`` opening an update clause) or an attribute name. Only attribute names can
clash with reserved words. On top of that, ``update_actions`` splits an update
expression into its actions and ``equalities`` finds ``path = :value`` comparisons in a
condition.

Parts of an expression that the checker cannot see (an f-string field, a variable) are
replaced by ``GLUE``, a word that is no reserved word and sticks to its neighbours, so
``f"SET {prefix}value = :v"`` never reports ``value``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

GLUE = "_dynsafe_"
"""Stands in for a part of an expression the checker cannot resolve."""

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<name>#[A-Za-z0-9_]+)"
    r"|(?P<value>:[A-Za-z0-9_]+)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[0-9]+)"
    r"|(?P<punct><>|<=|>=|.)",
    re.DOTALL,
)
_CONNECTIVES = frozenset({"AND", "OR", "BETWEEN", "IN"})
_CLAUSES = frozenset({"SET", "REMOVE", "ADD", "DELETE"})
_OPERAND_END = frozenset({"attribute", "name", "value", "number", ")", "]"})


@dataclass(frozen=True)
class Token:
    """One token of an expression.

    Attributes:
        role: ``attribute``, ``keyword``, ``function``, ``name`` (``#x``), ``value``
            (``:x``), ``number``, or the punctuation itself (``=``, ``(``, ...).
        text: the token as written.
        start: offset of the token in the expression.
    """

    role: str
    text: str
    start: int


@dataclass(frozen=True)
class Action:
    """One action of an update expression.

    Attributes:
        clause: ``SET``, ``REMOVE``, ``ADD`` or ``DELETE``.
        target: the first element of the path it writes, as written (``#v`` or ``v``).
        operand: the tokens after ``=`` (SET) or after the path (ADD, DELETE).
    """

    clause: str
    target: str
    operand: tuple[Token, ...]


def _raw_tokens(text: str) -> Iterator[tuple[str, str, int]]:
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        if kind != "space":
            value = match.group()
            yield (value if kind == "punct" else kind), value, match.start()


def _word_role(text: str, previous: str | None, following: str, update: bool) -> str:
    upper = text.upper()
    if following == "(":
        return "function"
    if upper == "NOT":
        return "keyword"
    after_operand = previous in _OPERAND_END
    if after_operand and upper in _CONNECTIVES:
        return "keyword"
    clause_position = previous is None or after_operand
    if update and clause_position and upper in _CLAUSES:
        return "keyword"
    return "attribute"


def tokens(text: str, *, update: bool = False) -> list[Token]:
    """Split an expression into tokens with their roles.

    Args:
        text: the expression.
        update: whether it is an ``UpdateExpression`` (where ``SET``, ``REMOVE``,
            ``ADD`` and ``DELETE`` open clauses).

    Returns:
        The tokens in order.
    """
    raw = list(_raw_tokens(text))
    result: list[Token] = []
    previous: str | None = None
    for index, (kind, value, start) in enumerate(raw):
        role = kind
        if kind == "word":
            following = raw[index + 1][0] if index + 1 < len(raw) else ""
            role = _word_role(value, previous, following, update)
        result.append(Token(role, value, start))
        previous = role
    return result


def attribute_words(text: str, *, update: bool = False) -> list[Token]:
    """Return the words of an expression that stand for attribute names."""
    return [token for token in tokens(text, update=update) if token.role == "attribute"]


def _split_actions(body: list[Token]) -> Iterator[list[Token]]:
    depth = 0
    current: list[Token] = []
    for token in body:
        depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(token.role, 0)
        if token.role == "," and depth == 0:
            yield current
            current = []
        else:
            current.append(token)
    yield current


def _action(clause: str, parts: list[Token]) -> Action | None:
    if not parts or parts[0].role not in ("attribute", "name"):
        return None
    if clause == "SET":
        roles = [token.role for token in parts]
        operand = parts[roles.index("=") + 1 :] if "=" in roles else []
    else:
        operand = [token for token in parts[1:] if token.role in ("value", "name")]
    return Action(clause, parts[0].text, tuple(operand))


def update_actions(text: str) -> list[Action]:
    """Split an update expression into its actions, clause by clause."""
    actions: list[Action] = []
    clause = ""
    body: list[Token] = []
    for token in [*tokens(text, update=True), Token("keyword", "END", len(text))]:
        if token.role == "keyword" and token.text.upper() in (*_CLAUSES, "END"):
            for parts in _split_actions(body) if clause else ():
                action = _action(clause, parts)
                if action is not None:
                    actions.append(action)
            clause, body = token.text.upper(), []
        else:
            body.append(token)
    return actions


def _inside_path(parts: list[Token], left: int, right: int) -> bool:
    before = parts[left - 1].role if left > 0 else ""
    after = parts[right + 1].role if right + 1 < len(parts) else ""
    return before in (".", "]") or after in (".", "[")


def equalities(text: str) -> list[tuple[str, str]]:
    """Return the ``(path, :value)`` pairs compared with ``=`` in a condition.

    Only single-element paths count (``version``, ``#v``), on either side of ``=``.
    """
    found: list[tuple[str, str]] = []
    parts = tokens(text)
    for index in range(1, len(parts) - 1):
        left, middle, right = parts[index - 1], parts[index], parts[index + 1]
        if middle.role != "=" or _inside_path(parts, index - 1, index + 1):
            continue
        if left.role in ("attribute", "name") and right.role == "value":
            found.append((left.text, right.text))
        elif left.role == "value" and right.role in ("attribute", "name"):
            found.append((right.text, left.text))
    return found


def is_increment(action: Action) -> bool:
    """Whether applying the action twice differs from applying it once.

    ``ADD`` always counts (adding to a number twice doubles it), and so does a ``SET``
    whose value is computed from the attribute itself with ``+``, ``-`` or
    ``list_append``.
    """
    if action.clause == "ADD":
        return True
    if action.clause != "SET":
        return False
    texts = [token.text for token in action.operand]
    arithmetic = "+" in texts or "-" in texts or "list_append" in texts
    return arithmetic and action.target in texts
