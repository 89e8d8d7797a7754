"""Update and condition expressions where every name and value is a placeholder.

Roles:

- :class:`Placeholders` hands out ``#nN`` and ``:vN`` placeholders for one request,
  so the parts of a request (update, condition, key condition) never clash.
- :class:`Update` collects update actions (set, add, remove, delete, set if not
  exists, increment) and renders them as one ``UpdateExpression``.
- :func:`render_condition` renders a boto3 ``Attr``/``Key`` condition with our
  placeholders; :func:`literal` names an attribute whose name is taken as it is.

Names: in update actions and :func:`literal` conditions an attribute name is used
as written, whatever it holds (reserved words, ``.``, ``#``, ``:``, spaces,
non-ASCII). In a boto3 ``Attr("a.b[1]")`` condition, as in boto3 itself, dots and
brackets make a document path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from boto3.dynamodb.conditions import And, Attr, AttributeBase, ConditionBase, Not, Or

from dynsafe._codec import serialize
from dynsafe.errors import ValidationError

__all__ = [
    "Placeholders",
    "Update",
    "all_of",
    "literal",
    "render_condition",
]

_PATH_PART = re.compile(r"[^.\[\]]+|\[\d+\]")
_PATH = re.compile(r"[^.\[\]]+(\[\d+\])*(\.[^.\[\]]+(\[\d+\])*)*")


class Placeholders:
    """The placeholders of one request.

    A name gets one placeholder however often it is used; every value gets its own.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._values: dict[str, dict[str, Any]] = {}

    def name(self, attribute: str) -> str:
        """Return the placeholder of a literal attribute name."""
        if not isinstance(attribute, str) or not attribute:
            raise ValidationError(
                f"attribute names must be non-empty strings: {attribute!r}"
            )
        placeholder = self._names.get(attribute)
        if placeholder is None:
            placeholder = f"#n{len(self._names)}"
            self._names[attribute] = placeholder
        return placeholder

    def path(self, path: str) -> str:
        """Return the placeholders of a boto3-style document path, ``a.b[0]``."""
        if not isinstance(path, str) or not _PATH.fullmatch(path):
            raise ValidationError(f"not an attribute path: {path!r}")
        rendered = []
        for part in _PATH_PART.findall(path):
            if part.startswith("["):
                rendered.append(part)
            else:
                rendered.append(("." if rendered else "") + self.name(part))
        return "".join(rendered)

    def value(self, value: Any) -> str:
        """Return the placeholder of a new value, serialized now."""
        placeholder = f":v{len(self._values)}"
        self._values[placeholder] = serialize(value)
        return placeholder

    def params(self) -> dict[str, Any]:
        """Return ``ExpressionAttributeNames`` and ``ExpressionAttributeValues``."""
        params: dict[str, Any] = {}
        if self._names:
            params["ExpressionAttributeNames"] = {p: n for n, p in self._names.items()}
        if self._values:
            params["ExpressionAttributeValues"] = dict(self._values)
        return params


class _Literal(Attr):
    """An attribute whose name is taken as written, never split into a path."""


def literal(name: str) -> Attr:
    """Return a boto3 ``Attr`` for the attribute called exactly ``name``.

    ``literal("a.b").eq(1)`` compares the top-level attribute ``a.b``, where
    ``Attr("a.b")`` would compare ``b`` inside the map ``a``.
    """
    return _Literal(name)


def _render_operand(operand: Any, placeholders: Placeholders, grouped: bool) -> str:
    if isinstance(operand, ConditionBase):
        return _render(operand, placeholders, nested=True)
    if isinstance(operand, _Literal):
        return placeholders.name(operand.name)
    if isinstance(operand, AttributeBase):
        return placeholders.path(operand.name)
    if grouped:
        return "(" + ", ".join(placeholders.value(v) for v in operand) + ")"
    return placeholders.value(operand)


def _chain(condition: ConditionBase, kind: type[ConditionBase]) -> list[ConditionBase]:
    """The operands of a run of ANDs (or ORs), flattened: ``a AND (b AND c)``."""
    if not isinstance(condition, kind):
        return [condition]
    left, right = condition.get_expression()["values"]
    return _chain(left, kind) + _chain(right, kind)


def _render(condition: ConditionBase, placeholders: Placeholders, nested: bool) -> str:
    # Precedence is NOT, then AND, then OR. A run of one operator is written flat
    # and bracketed once where it is nested: a deep nest of brackets costs some
    # servers (dynalite) several times the parse time of the flat form.
    for kind, word in ((And, " AND "), (Or, " OR ")):
        if isinstance(condition, kind):
            parts = [
                _render(part, placeholders, True) for part in _chain(condition, kind)
            ]
            joined = word.join(parts)
            return f"({joined})" if nested else joined
    if isinstance(condition, Not):
        (inner,) = condition.get_expression()["values"]
        return "NOT " + _render(inner, placeholders, True)
    expression = condition.get_expression()
    grouped = condition.has_grouped_values
    operands = [
        _render_operand(value, placeholders, grouped and index > 0)
        for index, value in enumerate(expression["values"])
    ]
    return str(expression["format"]).format(*operands, operator=expression["operator"])


def render_condition(condition: ConditionBase, placeholders: Placeholders) -> str:
    """Render a boto3 condition with the request's placeholders.

    Raises:
        ValidationError: ``condition`` is not a boto3 condition.
    """
    if not isinstance(condition, ConditionBase):
        raise ValidationError(
            "conditions are boto3 Attr/Key conditions, such as Attr('n').gte(0),"
            f" not {type(condition).__name__}"
        )
    return _render(condition, placeholders, nested=False)


def all_of(*conditions: ConditionBase | None) -> ConditionBase | None:
    """Join the conditions given with AND, skipping ``None``."""
    present = [condition for condition in conditions if condition is not None]
    if not present:
        return None
    joined = present[0]
    for condition in present[1:]:
        joined = And(joined, condition)
    return joined


class Update:
    """The actions of one ``UpdateExpression``.

    Each attribute may appear in one action only: DynamoDB rejects an update whose
    actions overlap, and so does :meth:`render`, before any request is sent.
    """

    def __init__(self) -> None:
        self._set: list[tuple[str, str, Any]] = []
        self._add: list[tuple[str, Any]] = []
        self._remove: list[str] = []
        self._delete: list[tuple[str, Any]] = []

    @classmethod
    def of(
        cls,
        *,
        set: Mapping[str, Any] | None = None,
        add: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        set_if_not_exists: Mapping[str, Any] | None = None,
    ) -> Update:
        """Build an update from mappings of attribute names to values."""
        update = cls()
        for name, value in (set or {}).items():
            update.set(name, value)
        for name, value in (set_if_not_exists or {}).items():
            update.set_if_not_exists(name, value)
        for name, value in (add or {}).items():
            update.add(name, value)
        for name in remove:
            update.remove(name)
        return update

    def set(self, name: str, value: Any) -> Update:
        """Set ``name`` to ``value``."""
        self._set.append(("value", name, value))
        return self

    def set_if_not_exists(self, name: str, value: Any) -> Update:
        """Set ``name`` to ``value`` only where the item has no ``name`` yet."""
        self._set.append(("if_not_exists", name, value))
        return self

    def increment(self, name: str, delta: Any, start: Any = 0) -> Update:
        """Set ``name`` to its value (``start`` when absent) plus ``delta``."""
        self._set.append(("increment", name, (delta, start)))
        return self

    def add(self, name: str, value: Any) -> Update:
        """Add a number to ``name``, or elements to a set (DynamoDB's ``ADD``)."""
        self._add.append((name, value))
        return self

    def remove(self, name: str) -> Update:
        """Remove the attribute ``name``."""
        self._remove.append(name)
        return self

    def delete(self, name: str, values: Any) -> Update:
        """Remove elements from the set ``name`` (DynamoDB's ``DELETE``)."""
        self._delete.append((name, values))
        return self

    @property
    def names(self) -> list[str]:
        """Every attribute name the update touches, in action order."""
        return (
            [name for _, name, _ in self._set]
            + [name for name, _ in self._add]
            + list(self._remove)
            + [name for name, _ in self._delete]
        )

    def __bool__(self) -> bool:
        return bool(self.names)

    def _check_overlap(self) -> None:
        seen: set[str] = set()
        for name in self.names:
            if name in seen:
                raise ValidationError(f"the update uses attribute {name!r} twice")
            seen.add(name)

    def _render_set(self, kind: str, name: str, value: Any, ph: Placeholders) -> str:
        target = ph.name(name)
        if kind == "if_not_exists":
            return f"{target} = if_not_exists({target}, {ph.value(value)})"
        if kind == "increment":
            delta, start = value
            start_value, delta_value = ph.value(start), ph.value(delta)
            return f"{target} = if_not_exists({target}, {start_value}) + {delta_value}"
        return f"{target} = {ph.value(value)}"

    def render(self, placeholders: Placeholders) -> str:
        """Return the ``UpdateExpression``, registering names and values.

        Raises:
            ValidationError: the update is empty or uses an attribute twice.
        """
        if not self:
            raise ValidationError("an update needs at least one action")
        self._check_overlap()
        clauses = []
        if self._set:
            sets = (self._render_set(k, n, v, placeholders) for k, n, v in self._set)
            clauses.append("SET " + ", ".join(sets))
        if self._add:
            adds = (
                f"{placeholders.name(n)} {placeholders.value(v)}" for n, v in self._add
            )
            clauses.append("ADD " + ", ".join(adds))
        if self._remove:
            clauses.append(
                "REMOVE " + ", ".join(placeholders.name(n) for n in self._remove)
            )
        if self._delete:
            deletes = (
                f"{placeholders.name(n)} {placeholders.value(v)}"
                for n, v in self._delete
            )
            clauses.append("DELETE " + ", ".join(deletes))
        return " ".join(clauses)
