"""The checker on dynsafe's own code: the library, the docs examples, the benchmarks.

dynsafe's way of doing things must give no finding. The only findings allowed are in
the deliberately naive baselines that dynsafe is demonstrated or measured against,
listed below; the checker finding those is itself a check that it works on real code.
A baseline may instead carry ``# dynsafe: ignore[DS101]``, and then drops out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dynsafe.check import check_paths

ROOT = Path(__file__).resolve().parents[2]

BASELINES: set[tuple[str, str]] = set()
"""Naive baselines without an inline ignore; each now carries one."""


@pytest.mark.parametrize("folder", ["src/dynsafe", "docs", "benchmarks"])
def test_project_folder_has_no_finding_outside_the_naive_baselines(folder: str) -> None:
    path = ROOT / folder
    if not any(path.rglob("*.py")):
        pytest.skip(f"{folder}/ holds no Python yet")
    report = check_paths([str(path)], jobs=1)
    assert report.errors == ()
    unexpected = [
        f"{f.path}:{f.line}: {f.code} {f.message}"
        for f in report.findings
        if (Path(f.path).relative_to(ROOT).as_posix(), f.code) not in BASELINES
    ]
    assert unexpected == []
