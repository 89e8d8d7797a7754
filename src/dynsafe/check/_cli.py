"""The ``dynsafe check`` command line.

Exit codes: 0 when nothing was found, 1 when there are findings, 2 for a usage or
configuration error, a path that does not exist, or a file that does not parse. A file
that does not parse is reported and the others are still checked; its exit code 2 wins
over findings, because a CI gate must not pass on code it could not read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dynsafe.check._config import Config, ConfigError, load_config, validate_codes
from dynsafe.check._model import RULES
from dynsafe.check._output import Report, format_json, format_sarif, format_text
from dynsafe.check._runner import check_paths

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def _codes(text: str) -> list[str]:
    return [part for part in text.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dynsafe check",
        description="Find unsafe DynamoDB read-modify-write code (DS101-DS105).",
        epilog="codes: " + "; ".join(f"{r.code} {r.name}" for r in RULES.values()),
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or directories")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    parser.add_argument("-o", "--output", help="write the report to this file")
    parser.add_argument("--select", type=_codes, help="codes or prefixes to report")
    parser.add_argument("--ignore", type=_codes, help="codes or prefixes to leave out")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        help="glob of paths to skip (repeatable)",
    )
    parser.add_argument(
        "--config", type=Path, help="pyproject.toml to read settings from"
    )
    parser.add_argument(
        "--no-config", action="store_true", help="ignore pyproject.toml"
    )
    parser.add_argument("--jobs", type=int, help="worker processes for large trees")
    parser.add_argument(
        "--hints",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="text: show hints",
    )
    return parser


def _config(args: argparse.Namespace) -> Config:
    config = Config() if args.no_config else load_config(args.config)
    if args.select:
        config = replace(config, select=tuple(validate_codes(args.select)))
    if args.ignore:
        config = replace(config, ignore=tuple(validate_codes(args.ignore)))
    if args.exclude:
        # Patterns from the command line are relative to where the command runs.
        config = replace(config, exclude=(*config.exclude, *args.exclude))
    return config


def _render(report: Report, args: argparse.Namespace) -> str:
    if args.format == "json":
        return format_json(report)
    if args.format == "sarif":
        return format_sarif(report)
    return format_text(report, hints=args.hints)


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def main(argv: Sequence[str]) -> int:
    """Run ``dynsafe check`` with ``argv`` (the arguments after ``check``).

    Returns:
        The exit code: 0 clean, 1 findings, 2 usage or parse errors.
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit_:
        return EXIT_CLEAN if exit_.code == 0 else EXIT_ERROR
    try:
        config = _config(args)
    except (ConfigError, OSError) as error:
        sys.stderr.write(f"dynsafe check: {error}\n")
        return EXIT_ERROR
    for warning in config.warnings:
        sys.stderr.write(f"dynsafe check: warning: {warning}\n")
    report = check_paths(args.paths, config, jobs=args.jobs)
    _write(_render(report, args), args.output)
    if report.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if report.findings else EXIT_CLEAN
