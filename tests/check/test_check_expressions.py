"""Reading expression strings: word roles, actions, equalities, reserved words."""

from __future__ import annotations

import pytest

from dynsafe.check._expr import (
    attribute_words,
    equalities,
    is_increment,
    tokens,
    update_actions,
)
from dynsafe.check._reserved import RESERVED_WORDS


def words(text: str, *, update: bool = False) -> list[str]:
    return [t.text for t in attribute_words(text, update=update)]


def test_reserved_words_are_the_full_published_list() -> None:
    assert len(RESERVED_WORDS) == 573
    assert {"ABORT", "VALUE", "STATUS", "COUNT", "ZONE"} <= RESERVED_WORDS
    # The guide's own misspellings are reserved as written.
    assert {"FLATTERN", "INNTER", "LOGED"} <= RESERVED_WORDS
    assert all(word == word.upper() for word in RESERVED_WORDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SET a = :a, b = b + :b", ["a", "b", "b"]),
        ("SET a = :a ADD n :one REMOVE c, d DELETE s :v", ["a", "n", "c", "d", "s"]),
        ("SET add = :x, #set = :y", ["add"]),
        ("SET l = list_append(l, :x), m = if_not_exists(m, :z)", ["l", "l", "m", "m"]),
    ],
)
def test_update_expression_words_in_attribute_position(
    text: str, expected: list[str]
) -> None:
    assert words(text, update=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attribute_exists(pk) AND NOT begins_with(sk, :p)", ["pk", "sk"]),
        ("n BETWEEN :lo AND :hi OR k IN (:a, :b)", ["n", "k"]),
        ("size(tags) > :n AND profile.level = :l", ["tags", "profile", "level"]),
        ("a.b[2].c <> :x", ["a", "b", "c"]),
        ("#value = :value", []),
    ],
)
def test_condition_words_in_attribute_position(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_set_is_an_attribute_outside_update_expressions() -> None:
    assert words("set = :s") == ["set"]
    assert words("SET set = :s", update=True) == ["set"]


def test_token_offsets_point_into_the_text() -> None:
    text = "SET value = :v"
    value = next(t for t in tokens(text, update=True) if t.text == "value")
    assert text[value.start : value.start + 5] == "value"


def test_update_actions_by_clause() -> None:
    actions = update_actions("SET #v = :next, paid = :p ADD n :one REMOVE old")
    assert [(a.clause, a.target) for a in actions] == [
        ("SET", "#v"),
        ("SET", "paid"),
        ("ADD", "n"),
        ("REMOVE", "old"),
    ]
    assert [t.text for t in actions[0].operand] == [":next"]


@pytest.mark.parametrize(
    ("text", "increments"),
    [
        ("ADD n :one", True),
        ("SET n = n + :d", True),
        ("SET n = :d + n", True),
        ("SET l = list_append(l, :x)", True),
        ("SET n = :n", False),
        ("SET n = if_not_exists(n, :zero)", False),
        ("SET n = m + :d", False),
        ("REMOVE n", False),
    ],
)
def test_is_increment(text: str, increments: bool) -> None:
    assert any(is_increment(a) for a in update_actions(text)) is increments


def test_equalities_on_single_element_paths_only() -> None:
    condition = "version = :v AND :w = #rev AND meta.version = :x AND n > :y"
    assert equalities(condition) == [("version", ":v"), ("#rev", ":w")]
