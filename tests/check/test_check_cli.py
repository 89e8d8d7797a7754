"""``dynsafe check`` on the command line: exit codes, formats, parse errors, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dynsafe import cli
from dynsafe.check import main

UNSAFE = """\
def bump(table, key):
    item = table.get_item(Key=key)["Item"]
    item["n"] += 1
    table.put_item(Item=item)
"""
SAFE = """\
def bump(table, key):
    table.update_item(Key=key, UpdateExpression="ADD n :one")
"""


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app").mkdir()
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_clean_tree_exits_0(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tree / "app" / "ok.py", SAFE)
    assert main(["app"]) == 0
    assert capsys.readouterr().out.endswith("0 findings in 1 files\n")


def test_findings_exit_1_in_linter_format(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tree / "app" / "bad.py", UNSAFE)
    assert main(["app", "--no-hints"]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("app/bad.py:4:5: DS101 put_item writes back")


def test_text_shows_the_hint_by_default(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tree / "app" / "bad.py", UNSAFE)
    main(["app"])
    assert "    hint: use dynsafe.VersionedTable.update" in capsys.readouterr().out


def test_unparsable_file_is_reported_and_the_run_goes_on(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tree / "app" / "broken.py", "def f(:\n")
    write(tree / "app" / "bad.py", UNSAFE)
    assert main(["app", "--no-hints"]) == 2
    out = capsys.readouterr().out
    assert "app/broken.py:1:7: DS000 syntax error" in out
    assert "app/bad.py:4:5: DS101" in out


def test_missing_path_exits_2(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nowhere.py"]) == 2
    assert "nowhere.py:1:1: DS000 no such file or directory" in capsys.readouterr().out


def test_unknown_option_and_unknown_code_exit_2(tree: Path) -> None:
    assert main(["--frobnicate"]) == 2
    assert main(["--select", "XX9"]) == 2


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "DS105 retry-without-stable-token" in capsys.readouterr().out


def test_json_output_lists_findings_with_hints(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tree / "app" / "bad.py", UNSAFE)
    write(tree / "app" / "broken.py", "x = (\n")
    assert main(["app", "--format", "json"]) == 2
    document = json.loads(capsys.readouterr().out)
    [finding] = document["findings"]
    assert finding["code"] == "DS101"
    assert finding["path"] == "app/bad.py"
    assert (finding["line"], finding["column"]) == (4, 5)
    assert "dynsafe.VersionedTable.update" in finding["hint"]
    assert document["errors"][0]["path"] == "app/broken.py"
    assert document["summary"] == {"files": 2, "lines": 5, "findings": 1, "errors": 1}


def test_output_file(tree: Path) -> None:
    write(tree / "app" / "bad.py", UNSAFE)
    assert main(["app", "--format", "sarif", "-o", "report.sarif"]) == 1
    log = json.loads((tree / "report.sarif").read_text("utf-8"))
    assert log["runs"][0]["results"][0]["ruleId"] == "DS101"


def test_select_and_ignore_on_the_command_line(tree: Path) -> None:
    write(tree / "app" / "bad.py", UNSAFE)
    assert main(["app", "--ignore", "DS101"]) == 0
    assert main(["app", "--select", "DS10", "--ignore", "DS102"]) == 1
    assert main(["app", "--select", "DS103"]) == 0


def test_pyproject_select_ignore_and_exclude(tree: Path) -> None:
    write(tree / "app" / "bad.py", UNSAFE)
    write(tree / "legacy" / "old.py", UNSAFE)
    write(
        tree / "pyproject.toml",
        '[tool.dynsafe.check]\nignore = ["DS104"]\nexclude = ["legacy"]\n',
    )
    assert main(["legacy"]) == 0
    assert main(["app"]) == 1
    write(tree / "pyproject.toml", '[tool.dynsafe.check]\nselect = ["DS103"]\n')
    assert main(["app", "legacy"]) == 0
    assert main(["app", "--no-config"]) == 1


def test_exclude_applies_to_files_named_on_the_command_line(tree: Path) -> None:
    # pre-commit passes file names: the configured excludes must still hold.
    write(tree / "app" / "gen" / "bad.py", UNSAFE)
    write(tree / "pyproject.toml", '[tool.dynsafe.check]\nexclude = ["app/gen"]\n')
    assert main(["app/gen/bad.py"]) == 0
    assert main(["app/gen/bad.py", "--no-config"]) == 1


def test_bad_pyproject_exits_2(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tree / "pyproject.toml", '[tool.dynsafe.check]\nselect = "DS101"\n')
    assert main(["."]) == 2
    assert "must be a list of strings" in capsys.readouterr().err


def test_inline_suppression(tree: Path) -> None:
    suppressed = UNSAFE.replace(
        "table.put_item(Item=item)",
        "table.put_item(Item=item)  # dynsafe: ignore[DS101]",
    )
    write(tree / "app" / "bad.py", suppressed)
    assert main(["app"]) == 0


def test_dynsafe_cli_dispatches_check(tree: Path) -> None:
    write(tree / "app" / "bad.py", UNSAFE)
    assert cli.main(["check", "app", "--no-hints"]) == 1


def test_many_files_use_the_process_pool_and_agree(tree: Path) -> None:
    for number in range(70):
        write(tree / "app" / f"m{number:02}.py", UNSAFE if number % 7 == 0 else SAFE)
    pooled = main(["app", "--format", "json", "-o", "pooled.json"])
    alone = main(["app", "--format", "json", "-o", "alone.json", "--jobs", "1"])
    assert pooled == alone == 1
    pooled_findings = json.loads((tree / "pooled.json").read_text("utf-8"))["findings"]
    alone_findings = json.loads((tree / "alone.json").read_text("utf-8"))["findings"]
    assert pooled_findings == alone_findings
    assert len(pooled_findings) == 10
