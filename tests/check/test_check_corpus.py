"""The labelled corpus: every unsafe case is found, and no safe case is flagged.

Each ``corpus/unsafe_*.py`` marks the lines a finding must land on with a trailing
``# expect: DS1xx`` (several codes separated by commas); the checker must report exactly
that set of (line, code). Each ``corpus/safe_*.py`` must produce no finding at all.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dynsafe.check import RULES, check_source

CORPUS = Path(__file__).parent / "corpus"
UNSAFE = sorted(CORPUS.glob("unsafe_*.py"))
SAFE = sorted(CORPUS.glob("safe_*.py"))
_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>DS\d{3}(?:\s*,\s*DS\d{3})*)")


def expected_findings(source: str) -> set[tuple[int, str]]:
    expected: set[tuple[int, str]] = set()
    for number, line in enumerate(source.splitlines(), start=1):
        match = _EXPECT.search(line)
        if match:
            codes = match.group("codes").split(",")
            expected.update((number, code.strip()) for code in codes)
    return expected


def found_findings(path: Path) -> set[tuple[int, str]]:
    source = path.read_text(encoding="utf-8")
    return {(f.line, f.code) for f in check_source(source, str(path))}


@pytest.mark.parametrize("path", UNSAFE, ids=lambda p: p.name)
def test_unsafe_corpus_file_reports_exactly_the_marked_lines(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    expected = expected_findings(source)
    assert expected, f"{path.name} marks no expected finding"
    assert found_findings(path) == expected


@pytest.mark.parametrize("path", SAFE, ids=lambda p: p.name)
def test_safe_corpus_file_reports_nothing(path: Path) -> None:
    assert found_findings(path) == set()


def test_corpus_covers_every_rule_with_unsafe_and_safe_files() -> None:
    marked: set[str] = set()
    for path in UNSAFE:
        marked |= {code for _, code in expected_findings(path.read_text("utf-8"))}
    assert marked == set(RULES)
    assert len(SAFE) >= len(RULES)
