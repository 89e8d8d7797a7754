"""Counter adds as data: exact numbers, one validated add, its bounds as a condition.

Roles:

- the *numbers* helpers keep a counter's value exact: an ``int`` when whole, else a
  ``Decimal``, never a float, summed in a context wide enough for 38-digit numbers;
- :class:`AddRequest` is one add, validated, not yet sent: the delta, the token, the
  bounds;
- :func:`bounds_condition` turns a floor or a ceiling into the condition of the add's
  own ``UpdateItem``, so that nothing is read before the write;
- :func:`merged` and :func:`values_after_each` let queued plain adds share one write
  where that refuses no add that would have passed alone.

This module knows numbers and conditions, not tables: ``counter`` sends the requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import Any

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._codec import to_number
from dynsafe._expressions import literal
from dynsafe.errors import InvalidValueError, ValidationError

__all__ = [
    "AddRequest",
    "Number",
    "bounds_condition",
    "check_number",
    "merged",
    "plus",
    "value_in",
    "values_after_each",
]

Number = int | Decimal
"""A counter's value: an ``int`` when it is whole, else an exact ``Decimal``."""

# Wide enough for exact sums of 38-digit numbers; the codec then refuses results
# DynamoDB cannot store.
_WIDE = Context(prec=100)


# -- numbers ---------------------------------------------------------------------------


def _whole_or_decimal(value: Decimal) -> Number:
    return int(value) if value == value.to_integral_value() else value


def check_number(value: Any, what: str) -> Number:
    """Return ``value`` as a counter number; ``what`` names it in the error.

    Raises:
        InvalidValueError: ``value`` is not an int or a Decimal (a float is not
            exact), or is not a number DynamoDB can store.
    """
    if isinstance(value, float):
        raise InvalidValueError(
            f"{what} must be an int or a Decimal: a float is not exact ({value!r})"
        )
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise InvalidValueError(
            f"{what} must be an int or a Decimal, not {type(value).__name__}"
        )
    return _whole_or_decimal(to_number(value))


def plus(a: Number, b: Number) -> Number:
    """The exact sum of ``a`` and ``b``."""
    with localcontext(_WIDE):
        return _whole_or_decimal(Decimal(a) + Decimal(b))


def _minus(a: Number, b: Number) -> Number:
    with localcontext(_WIDE):
        return _whole_or_decimal(Decimal(a) - Decimal(b))


def value_in(item: Mapping[str, Any] | None, attribute: str) -> Number:
    """The counter's value on a stored item: 0 when the item or attribute is absent.

    Raises:
        ValidationError: the stored attribute is not a number.
    """
    value = None if item is None else item.get(attribute)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValidationError(
            f"counter attribute {attribute!r} holds a {type(value).__name__} on the"
            " stored item, not a number"
        )
    return value


# -- requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class AddRequest:
    """One add to one counter, validated, not yet sent.

    Attributes:
        delta: The number to add; negative to subtract.
        token: The caller's name for this add, or ``None``: the same token is
            counted once.
        floor: The lowest value the counter may reach, or ``None``.
        ceiling: The highest value the counter may reach, or ``None``.
    """

    delta: Number
    token: str | None = None
    floor: Number | None = None
    ceiling: Number | None = None

    @property
    def bounded(self) -> bool:
        """Whether the add has a floor or a ceiling."""
        return self.floor is not None or self.ceiling is not None

    def allows(self, value: Number) -> bool:
        """Whether adding :attr:`delta` to ``value`` stays within the bounds."""
        result = plus(value, self.delta)
        above = self.floor is None or result >= self.floor
        below = self.ceiling is None or result <= self.ceiling
        return above and below


# -- bounds ----------------------------------------------------------------------------


def _stored_within(counter: Any, request: AddRequest) -> ConditionBase:
    """The stored value v ends within bounds exactly when low <= v <= high."""
    low = None if request.floor is None else _minus(request.floor, request.delta)
    high = None if request.ceiling is None else _minus(request.ceiling, request.delta)
    condition: ConditionBase
    if low is not None and high is not None:
        condition = counter.between(low, high)
    elif low is not None:
        condition = counter.gte(low)
    else:
        condition = counter.lte(high)
    return condition


def bounds_condition(attribute: str, request: AddRequest) -> ConditionBase | None:
    """The condition that the add keeps the counter within its bounds, or ``None``."""
    if not request.bounded:
        return None
    counter = literal(attribute)
    # The stored counter is a number: DynamoDB finds a comparison of a string with
    # a number false, and saying so first keeps emulators from failing on it.
    stored = counter.attribute_type("N") & _stored_within(counter, request)
    if not request.allows(0):
        # An absent counter counts as 0, and 0 + delta is out of bounds: a
        # comparison with a missing attribute is false, so the add is refused.
        return stored
    # An absent counter counts as 0, and 0 + delta is within bounds.
    absent: ConditionBase = counter.not_exists()
    return absent | stored


# -- merging queued adds ---------------------------------------------------------------


def merged(requests: Sequence[AddRequest]) -> AddRequest | None:
    """One add for all of ``requests``; ``None`` if merging could refuse others.

    Adds of one sign under the same single bound merge safely: if their sum stays
    within the bound, so does every add before it, in any order. A floor with
    increments, or a ceiling with decrements, or both bounds, is sent one by one.
    """
    if len(requests) < 2:
        return None
    first = requests[0]
    if any((r.floor, r.ceiling) != (first.floor, first.ceiling) for r in requests):
        return None
    if first.floor is not None and first.ceiling is not None:
        return None
    if first.floor is not None and any(r.delta > 0 for r in requests):
        return None
    if first.ceiling is not None and any(r.delta < 0 for r in requests):
        return None
    total: Number = 0
    for request in requests:
        total = plus(total, request.delta)
    return AddRequest(total, None, first.floor, first.ceiling)


def values_after_each(total: Number, requests: Sequence[AddRequest]) -> list[Number]:
    """The counter's value after each add, given the value after the last."""
    values: list[Number] = []
    value = total
    for request in reversed(requests):
        values.append(value)
        value = _minus(value, request.delta)
    return values[::-1]
