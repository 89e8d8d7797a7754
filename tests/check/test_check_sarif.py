"""SARIF output validates against the published SARIF 2.1.0 schema (vendored here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dynsafe.check import RULES, check_paths
from dynsafe.check._output import format_sarif

SCHEMA = Path(__file__).with_name("sarif-schema-2.1.0.json")
CORPUS = Path(__file__).parent / "corpus"


def validate(log: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(log)


def test_sarif_for_the_corpus_validates_and_lists_every_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n", encoding="utf-8")
    monkeypatch.chdir(CORPUS.parent)
    report = check_paths([str(CORPUS), str(broken)])
    log = json.loads(format_sarif(report))
    validate(log)

    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == list(RULES)
    assert len(run["results"]) == len(report.findings) > 0
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].startswith("corpus/unsafe_")
    [invocation] = run["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"


def test_sarif_for_a_clean_run_validates() -> None:
    report = check_paths([str(CORPUS / "safe_rmw.py")])
    log = json.loads(format_sarif(report))
    validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True
