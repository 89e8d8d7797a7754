"""Every example in docs/check.md says what the checker finds in it, and it does.

A ``<!-- check: DS1xx -->`` comment before a python block means the block must give
exactly that code; ``<!-- check: clean -->`` means it must give nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dynsafe.check import check_source

PAGE = Path(__file__).resolve().parents[2] / "docs" / "check.md"
_EXAMPLE = re.compile(
    r"<!-- check: (?P<label>\w+) -->\n```python\n(?P<code>.*?)```", re.S
)


def examples() -> list[tuple[str, str]]:
    if not PAGE.exists():
        return []
    text = PAGE.read_text(encoding="utf-8")
    return [(m.group("label"), m.group("code")) for m in _EXAMPLE.finditer(text)]


def test_docs_page_has_an_unsafe_and_a_fixed_example_per_code() -> None:
    labels = [label for label, _ in examples()]
    assert sorted(set(labels) - {"clean"}) == [
        "DS101",
        "DS102",
        "DS103",
        "DS104",
        "DS105",
    ]
    assert labels.count("clean") == 5


@pytest.mark.parametrize(("label", "code"), examples())
def test_docs_example_gives_what_it_says(label: str, code: str) -> None:
    found = {finding.code for finding in check_source(code, "docs/check.md")}
    assert found == (set() if label == "clean" else {label})
