from __future__ import annotations

import pytest
from boto3.dynamodb.conditions import Attr, Key

from dynsafe import ValidationError
from dynsafe._expressions import Placeholders, Update, all_of, literal, render_condition


def test_update_renders_every_action_with_placeholders() -> None:
    ph = Placeholders()
    update = (
        Update()
        .set("value", 1)
        .set_if_not_exists("name", "x")
        .increment("status", 2)
        .add("count", 1)
        .remove("old")
        .delete("tags", {"a"})
    )
    expression = update.render(ph)
    assert expression == (
        "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1),"
        " #n2 = if_not_exists(#n2, :v2) + :v3 ADD #n3 :v4 REMOVE #n4 DELETE #n5 :v5"
    )
    params = ph.params()
    assert params["ExpressionAttributeNames"] == {
        "#n0": "value",
        "#n1": "name",
        "#n2": "status",
        "#n3": "count",
        "#n4": "old",
        "#n5": "tags",
    }
    assert params["ExpressionAttributeValues"][":v3"] == {"N": "2"}


def test_names_with_dots_hashes_colons_spaces_and_unicode_stay_literal() -> None:
    ph = Placeholders()
    names = ["a.b", "#x", ":y", "with space", "naïve", "[0]"]
    update = Update()
    for name in names:
        update.set(name, 1)
    update.render(ph)
    assert sorted(ph.params()["ExpressionAttributeNames"].values()) == sorted(names)


def test_condition_and_update_share_placeholders_without_clash() -> None:
    ph = Placeholders()
    update = Update().set("value", 5)
    expr = update.render(ph)
    condition = render_condition(Attr("value").lt(5) & literal("version").eq(3), ph)
    assert expr == "SET #n0 = :v0"
    assert condition == "#n0 < :v1 AND #n1 = :v2"
    assert ph.params()["ExpressionAttributeValues"] == {
        ":v0": {"N": "5"},
        ":v1": {"N": "5"},
        ":v2": {"N": "3"},
    }


def test_boto3_attr_paths_split_like_boto3_but_literal_does_not() -> None:
    ph = Placeholders()
    assert render_condition(Attr("a.b[2].c").exists(), ph) == (
        "attribute_exists(#n0.#n1[2].#n2)"
    )
    assert render_condition(literal("a.b").exists(), ph) == "attribute_exists(#n3)"


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (Attr("x").between(1, 2), "#n0 BETWEEN :v0 AND :v1"),
        (Attr("x").is_in([1, 2]), "#n0 IN (:v0, :v1)"),
        (Attr("x").begins_with("a"), "begins_with(#n0, :v0)"),
        (Attr("x").contains("a"), "contains(#n0, :v0)"),
        (Attr("x").size().gt(3), "size(#n0) > :v0"),
        (Attr("x").attribute_type("S"), "attribute_type(#n0, :v0)"),
        (Attr("x").not_exists(), "attribute_not_exists(#n0)"),
        (~Attr("x").eq(1), "NOT #n0 = :v0"),
        (Attr("x").eq(1) | Attr("x").ne(2), "#n0 = :v0 OR #n0 <> :v1"),
        (
            (Attr("a").eq(1) & Attr("b").eq(2)) & (Attr("c").eq(3) | ~Attr("d").eq(4)),
            "#n0 = :v0 AND #n1 = :v1 AND (#n2 = :v2 OR NOT #n3 = :v3)",
        ),
        (
            ~(Attr("a").eq(1) & Attr("b").eq(2)) | Attr("c").exists(),
            "NOT (#n0 = :v0 AND #n1 = :v1) OR attribute_exists(#n2)",
        ),
        (Key("pk").eq("a"), "#n0 = :v0"),
    ],
)
def test_every_boto3_condition_renders(condition: object, expected: str) -> None:
    assert render_condition(condition, Placeholders()) == expected  # type: ignore[arg-type]


def test_condition_must_be_a_boto3_condition() -> None:
    with pytest.raises(ValidationError, match="boto3 Attr/Key"):
        render_condition("version = :v", Placeholders())  # type: ignore[arg-type]


def test_update_refuses_overlapping_actions_and_emptiness() -> None:
    with pytest.raises(ValidationError, match="twice"):
        Update().set("a", 1).add("a", 1).render(Placeholders())
    with pytest.raises(ValidationError, match="at least one"):
        Update().render(Placeholders())


def test_update_of_builds_from_mappings() -> None:
    update = Update.of(set={"a": 1}, add={"b": 2}, remove=["c"])
    assert update.names == ["a", "b", "c"]


def test_all_of_skips_none() -> None:
    assert all_of(None, None) is None
    joined = all_of(Attr("a").exists(), None, Attr("b").exists())
    assert joined is not None
    assert render_condition(joined, Placeholders()) == (
        "attribute_exists(#n0) AND attribute_exists(#n1)"
    )


def test_bad_paths_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Placeholders().path("a..b")
    with pytest.raises(ValidationError):
        Placeholders().name("")
