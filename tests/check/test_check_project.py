"""The checker on dynsafe's own docs examples and benchmarks: dynsafe's way is clean.

A deliberately naive baseline in those folders (the code dynsafe replaces) must say so
with ``# dynsafe: ignore[DS1xx]`` on the line, which also documents it for readers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dynsafe.check import check_paths

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["docs", "benchmarks"])
def test_project_folder_has_no_finding(folder: str) -> None:
    path = ROOT / folder
    if not any(path.rglob("*.py")):
        pytest.skip(f"{folder}/ holds no Python yet")
    report = check_paths([str(path)], jobs=1)
    assert report.errors == ()
    assert [f"{f.path}:{f.line}: {f.code} {f.message}" for f in report.findings] == []
