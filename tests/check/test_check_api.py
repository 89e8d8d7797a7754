"""``check_source`` and the pieces around it: positions, suppressions, config."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynsafe.check import ConfigError, Finding, check_source, load_config
from dynsafe.check._config import Config, validate_codes
from dynsafe.check._runner import is_excluded
from dynsafe.check._suppress import is_suppressed, read_suppressions


def places(source: str) -> list[tuple[int, int, str]]:
    return [(f.line, f.column, f.code) for f in check_source(source)]


def test_reserved_word_is_placed_on_its_own_line_and_column() -> None:
    source = (
        "def f(table, key):\n"
        "    table.update_item(\n"
        "        Key=key,\n"
        '        UpdateExpression=("SET #a = :a, "\n'
        '                          "size = :s"),\n'
        "    )\n"
    )
    assert places(source) == [(5, 28, "DS103")]


def test_fstring_reserved_word_column() -> None:
    source = 'table.update_item(Key=k, UpdateExpression=f"SET {a} = :v, date = :d")\n'
    [(line, column, code)] = places(source)
    assert (line, code) == (1, "DS103")
    assert source[column - 1 : column + 3] == "date"


def test_syntax_error_is_raised_by_check_source() -> None:
    with pytest.raises(SyntaxError):
        check_source("def f(:\n")


def test_codes_filter() -> None:
    source = 'table.update_item(Key=k, UpdateExpression="SET value = :v")\n'
    assert check_source(source, codes=["DS101"]) == []


def test_finding_carries_rule_and_hint() -> None:
    source = 'table.update_item(Key=k, UpdateExpression="SET value = :v")\n'
    [finding] = check_source(source, "svc.py")
    assert isinstance(finding, Finding)
    assert finding.path == "svc.py"
    assert finding.rule.name == "reserved-word-in-expression"
    assert '"#value"' in finding.message
    assert "ExpressionAttributeNames" in finding.hint


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("# dynsafe: ignore[DS101]", True),
        ("# dynsafe: ignore[DS103, DS101]", True),
        ("# dynsafe: ignore", True),
        ("# dynsafe: ignore[DS103]", False),
        ("# ignore[DS101]", False),
    ],
)
def test_suppression_comments(comment: str, suppressed: bool) -> None:
    source = f"x = 1  {comment}\n"
    finding = Finding("f.py", 1, 1, "DS101", "m", 1)
    assert is_suppressed(finding, read_suppressions(source)) is suppressed


def test_suppression_on_the_last_line_of_a_call() -> None:
    source = (
        "def f(table, key):\n"
        "    item = table.get_item(Key=key)['Item']\n"
        "    table.put_item(\n"
        "        Item=item,\n"
        "    )  # dynsafe: ignore[DS101]\n"
    )
    assert check_source(source) == []


def test_suppression_text_inside_a_string_does_not_count() -> None:
    assert read_suppressions('x = "# dynsafe: ignore[DS101]"\n') == {}


def test_config_codes_prefixes() -> None:
    assert Config(select=("DS10",), ignore=("DS103",)).codes() == {
        "DS101",
        "DS102",
        "DS104",
        "DS105",
    }
    assert validate_codes(["ds101", " DS1 "]) == ["DS101", "DS1"]
    with pytest.raises(ConfigError):
        validate_codes(["E501"])


def test_load_config_from_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.dynsafe.check]\nselect = ["DS1"]\nignore = ["DS105"]\n'
        'exclude = ["tests/fixtures/*"]\n',
        encoding="utf-8",
    )
    config = load_config(None, search_from=tmp_path / "src")
    assert config.source == pyproject
    assert config.codes() == {"DS101", "DS102", "DS103", "DS104"}
    assert is_excluded(tmp_path / "tests" / "fixtures" / "a.py", config)
    assert not is_excluded(tmp_path / "tests" / "a.py", config)


def test_load_config_rejects_unknown_keys(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.dynsafe.check]\nselekt = []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="selekt"):
        load_config(pyproject)


def test_no_pyproject_means_defaults(tmp_path: Path) -> None:
    config = load_config(None, search_from=tmp_path)
    assert config.source is None
    assert config.codes() == {"DS101", "DS102", "DS103", "DS104", "DS105"}
