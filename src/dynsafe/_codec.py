"""Python values to DynamoDB attribute values and back, under one number policy.

=====================  ==================  ========================================
Python                 DynamoDB            back to Python
=====================  ==================  ========================================
``None``               ``NULL``            ``None``
``bool``               ``BOOL``            ``bool``
``int``                ``N``               ``int``
``Decimal``            ``N``               ``int`` if integral, else ``Decimal``
``float`` (finite)     ``N``               ``int`` if integral, else ``Decimal``
``str``                ``S``               ``str``
``bytes``              ``B``               ``bytes``
``set`` of str         ``SS``              ``set`` of str
``set`` of numbers     ``NS``              ``set`` of numbers, as above
``set`` of bytes       ``BS``              ``set`` of bytes
``list``, ``tuple``    ``L``               ``list``
``dict`` (str keys)    ``M``               ``dict``
=====================  ==================  ========================================

The number policy: ``int`` and ``Decimal`` values round-trip exactly, up to
DynamoDB's 38 significant digits; a value that would be rounded is rejected. A
``float`` is stored as the shortest decimal that reads back as the same float
(``0.1`` is stored as ``0.1``, not ``0.1000000000000000055511151231257827``), so
``float(stored) == value`` always holds. NaN and infinities are rejected. Every
rejection is an :class:`InvalidValueError` raised before any request is sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

from dynsafe.errors import InvalidValueError

__all__ = [
    "deserialize",
    "deserialize_item",
    "item_size_of",
    "serialize",
    "serialize_item",
    "to_number",
]

AttributeValue = dict[str, Any]

# DynamoDB numbers: 38 significant digits, magnitudes from 1e-130 to 1e126.
_CONTEXT = Context(
    prec=38,
    Emin=-128,
    Emax=126,
    traps=[Clamped, Overflow, Inexact, Rounded, Underflow],
)


def to_number(value: Any) -> Decimal:
    """Return ``value`` as a Decimal DynamoDB can store exactly.

    Raises:
        InvalidValueError: ``value`` is not a number, is NaN or infinite, or has more
            precision or range than DynamoDB keeps.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidValueError(f"not a number: {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValueError(f"DynamoDB cannot store {value!r}")
        # repr() is the shortest string that parses back to the same float.
        value = Decimal(repr(value))
    elif isinstance(value, int):
        value = Decimal(value)
    if not value.is_finite():
        raise InvalidValueError(f"DynamoDB cannot store {value!r}")
    try:
        return _CONTEXT.create_decimal(value)
    except (Inexact, Rounded, Overflow, Underflow, Clamped):
        raise InvalidValueError(
            "number out of DynamoDB's range or over 38 significant digits"
        ) from None


def _number_text(value: Any) -> str:
    number = to_number(value)
    # Plain notation, no exponent: emulators compare key numbers as text.
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(_CONTEXT), "f")


def serialize(value: Any) -> AttributeValue:
    """Return the DynamoDB attribute value for a Python value.

    Raises:
        InvalidValueError: the value, or one nested in it, cannot be stored.
    """
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number_text(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"B": bytes(value)}
    if isinstance(value, (set, frozenset)):
        return _serialize_set(value)
    if isinstance(value, (list, tuple)):
        return {"L": [serialize(element) for element in value]}
    if isinstance(value, Mapping):
        return {"M": serialize_item(value)}
    raise InvalidValueError(
        f"DynamoDB cannot store a value of type {type(value).__name__}"
    )


def _serialize_set(values: set[Any] | frozenset[Any]) -> AttributeValue:
    if not values:
        raise InvalidValueError("DynamoDB cannot store an empty set")
    if all(isinstance(v, str) for v in values):
        return {"SS": sorted(values)}
    if all(isinstance(v, (bytes, bytearray)) for v in values):
        return {"BS": sorted(bytes(v) for v in values)}
    if all(
        isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in values
    ):
        return {"NS": sorted(_number_text(v) for v in values)}
    raise InvalidValueError("a set must hold only strings, only numbers or only bytes")


def serialize_item(item: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Return a whole item (or map) as DynamoDB attribute values.

    Raises:
        InvalidValueError: a name is not a non-empty string, or a value cannot be
            stored.
    """
    result = {}
    for name, value in item.items():
        if not isinstance(name, str) or not name:
            raise InvalidValueError(
                f"attribute names must be non-empty strings: {name!r}"
            )
        result[name] = serialize(value)
    return result


def _parse_number(text: str) -> int | Decimal:
    number = Decimal(text)
    if number == number.to_integral_value():
        return int(number)
    return number


def deserialize(value: Mapping[str, Any]) -> Any:
    """Return the Python value of a DynamoDB attribute value."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return _parse_number(raw)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "B":
        return bytes(raw)
    if kind == "M":
        return deserialize_item(raw)
    if kind == "L":
        return [deserialize(element) for element in raw]
    if kind == "SS":
        return set(raw)
    if kind == "NS":
        return {_parse_number(text) for text in raw}
    if kind == "BS":
        return {bytes(element) for element in raw}
    raise InvalidValueError(f"unknown DynamoDB attribute type {kind!r}")


def deserialize_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Return a DynamoDB item (or map) as Python values."""
    return {name: deserialize(value) for name, value in item.items()}


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode("utf-8"))
    if kind == "N":
        # DynamoDB charges about one byte per two significant digits, plus one.
        return (len(raw.strip("-").replace(".", "").lstrip("0")) + 1) // 2 + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in raw)
    if kind == "NS":
        return sum(_value_size({"N": n}) for n in raw)
    if kind == "BS":
        return sum(len(b) for b in raw)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in raw)
    if kind == "M":
        return 3 + len(raw) + item_size_of(raw)
    return 0


def item_size_of(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Return the size DynamoDB counts for a serialized item, in bytes.

    Names count their UTF-8 length and values their stored size; maps and lists add
    a few bytes of overhead each. This errs a little high, never low, so an item it
    accepts is never refused for its size.
    """
    return sum(
        len(name.encode("utf-8")) + _value_size(value) for name, value in item.items()
    )
