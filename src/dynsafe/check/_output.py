"""Writing a report as text, JSON or SARIF 2.1.0.

- text: ``path:line:col: CODE message`` per finding, like other linters, with the hint
  on an indented line below (``--no-hints`` drops it), then one summary line.
- json: one object with ``findings``, ``errors`` and ``summary``; stable keys.
- sarif: one run whose driver lists every rule, results with physical locations
  relative to the current directory, and files that failed to parse as tool execution
  notifications, for code scanning in CI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from dynsafe.check._model import PARSE_ERROR_CODE, RULES, FileError, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


@dataclass(frozen=True)
class Report:
    """The outcome of one run.

    Attributes:
        findings: what the rules found, sorted by path and position.
        errors: files that could not be read or parsed.
        files: how many files were checked.
        lines: how many lines they hold.
    """

    findings: tuple[Finding, ...]
    errors: tuple[FileError, ...]
    files: int
    lines: int


def tool_version() -> str:
    """Return the installed dynsafe version, without importing the runtime library."""
    try:
        return metadata.version("dynsafe")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _display(path: str) -> str:
    candidate = Path(path)
    try:
        return candidate.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return candidate.as_posix()


def format_text(report: Report, *, hints: bool = True) -> str:
    """Return the report as linter-style lines."""
    lines = []
    for error in report.errors:
        place = f"{_display(error.path)}:{error.line}:{error.column}"
        lines.append(f"{place}: {PARSE_ERROR_CODE} {error.message}")
    for finding in report.findings:
        place = f"{_display(finding.path)}:{finding.line}:{finding.column}"
        lines.append(f"{place}: {finding.code} {finding.message}")
        if hints:
            lines.append(f"    hint: {finding.hint}")
    count = len(report.findings)
    noun = "finding" if count == 1 else "findings"
    summary = f"{count} {noun} in {report.files} files"
    if report.errors:
        summary += f", {len(report.errors)} not parsed"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def format_json(report: Report) -> str:
    """Return the report as a JSON document."""
    document = {
        "version": tool_version(),
        "findings": [
            {
                "path": _display(f.path),
                "line": f.line,
                "column": f.column,
                "end_line": f.end_line or f.line,
                "code": f.code,
                "name": f.rule.name,
                "message": f.message,
                "hint": f.hint,
            }
            for f in report.findings
        ],
        "errors": [
            {
                "path": _display(e.path),
                "line": e.line,
                "column": e.column,
                "message": e.message,
            }
            for e in report.errors
        ],
        "summary": {
            "files": report.files,
            "lines": report.lines,
            "findings": len(report.findings),
            "errors": len(report.errors),
        },
    }
    return json.dumps(document, indent=2) + "\n"


def _sarif_rules() -> list[dict[str, Any]]:
    return [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "help": {"text": f"{rule.hint} (docs/check.md, {rule.code})"},
            "defaultConfiguration": {"level": "warning"},
        }
        for rule in RULES.values()
    ]


def _location(
    path: str, line: int, column: int, end_line: int | None = None
) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": line, "startColumn": column}
    if end_line is not None and end_line > line:
        region["endLine"] = end_line
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _display(path), "uriBaseId": "%SRCROOT%"},
            "region": region,
        }
    }


def _sarif_result(finding: Finding, index: int) -> dict[str, Any]:
    return {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": "warning",
        "message": {"text": f"{finding.message}. Fix: {finding.hint}."},
        "locations": [
            _location(finding.path, finding.line, finding.column, finding.end_line)
        ],
    }


def _sarif_notification(error: FileError) -> dict[str, Any]:
    return {
        "level": "error",
        "message": {"text": error.message},
        "locations": [_location(error.path, error.line, error.column)],
        "descriptor": {"id": PARSE_ERROR_CODE},
    }


def format_sarif(report: Report) -> str:
    """Return the report as a SARIF 2.1.0 log."""
    order = {code: i for i, code in enumerate(RULES)}
    root = Path.cwd().resolve().as_uri() + "/"
    run = {
        "tool": {
            "driver": {
                "name": "dynsafe-check",
                "version": tool_version(),
                "rules": _sarif_rules(),
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root}},
        "invocations": [
            {
                "executionSuccessful": not report.errors,
                "toolExecutionNotifications": [
                    _sarif_notification(e) for e in report.errors
                ],
            }
        ],
        "results": [_sarif_result(f, order[f.code]) for f in report.findings],
    }
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"
