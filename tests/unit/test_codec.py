from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from dynsafe import InvalidValueError, ValidationError
from dynsafe._codec import (
    deserialize,
    deserialize_item,
    item_size_of,
    serialize,
    serialize_item,
    to_number,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"NULL": True}),
        (True, {"BOOL": True}),
        (0, {"N": "0"}),
        (-17, {"N": "-17"}),
        (10**37, {"N": str(10**37)}),
        (Decimal("1.50"), {"N": "1.5"}),
        (Decimal("100"), {"N": "100"}),
        (0.1, {"N": "0.1"}),
        ("value", {"S": "value"}),
        (b"\x00\x01", {"B": b"\x00\x01"}),
        ({"b", "a"}, {"SS": ["a", "b"]}),
        ({1, 2}, {"NS": ["1", "2"]}),
        ([1, "x"], {"L": [{"N": "1"}, {"S": "x"}]}),
        ({"k": None}, {"M": {"k": {"NULL": True}}}),
    ],
)
def test_serialize_maps_python_values_to_attribute_values(
    value: Any, expected: dict[str, Any]
) -> None:
    assert serialize(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        0,
        -(10**37),
        Decimal("3.14159265358979323846264338327950288"),
        Decimal("-0.000001"),
        "",
        "ünïcødé",
        b"",
        [],
        {},
        {"nested": [{"deep": Decimal("2.5")}, None, True]},
        {"a", "b"},
    ],
)
def test_values_round_trip_exactly(value: Any) -> None:
    assert deserialize(serialize(value)) == value


def test_integral_numbers_come_back_as_int_and_others_as_decimal() -> None:
    assert type(deserialize({"N": "42"})) is int
    assert deserialize({"N": "4.2"}) == Decimal("4.2")
    assert type(deserialize({"N": "1E+2"})) is int


def test_float_is_stored_as_its_shortest_repr_and_reads_back_equal() -> None:
    for value in (0.1, 1 / 3, 1e-20, 12345.678):
        back = deserialize(serialize(value))
        assert float(back) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, Decimal("NaN")])
def test_nan_and_infinity_are_rejected(value: Any) -> None:
    with pytest.raises(InvalidValueError, match="cannot store"):
        serialize(value)


def test_numbers_beyond_dynamodb_precision_are_rejected_not_rounded() -> None:
    with pytest.raises(InvalidValueError, match="38 significant digits"):
        to_number(Decimal("1." + "1" * 40))
    with pytest.raises(InvalidValueError):
        to_number(10**130)


def test_invalid_value_error_is_a_validation_value_and_type_error() -> None:
    with pytest.raises(InvalidValueError) as caught:
        serialize(object())
    assert isinstance(caught.value, ValidationError)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, TypeError)


@pytest.mark.parametrize("value", [set(), {1, "a"}, {None}])
def test_bad_sets_are_rejected(value: Any) -> None:
    with pytest.raises(InvalidValueError):
        serialize(value)


def test_item_names_must_be_non_empty_strings() -> None:
    with pytest.raises(InvalidValueError):
        serialize_item({"": 1})
    with pytest.raises(InvalidValueError):
        serialize_item({1: 1})  # type: ignore[dict-item]


def test_item_round_trip() -> None:
    item = {"pk": "a", "n": 3, "tags": {"x"}, "blob": b"z"}
    assert deserialize_item(serialize_item(item)) == item


def test_item_size_counts_names_and_values() -> None:
    assert item_size_of(serialize_item({"ab": "xyz"})) == 5
    big = serialize_item({"pk": "a", "data": "x" * 1000})
    assert 1000 < item_size_of(big) < 1020
