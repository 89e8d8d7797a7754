"""The docs' code runs: every example file, and the README's Python blocks."""

from __future__ import annotations

import re
import runpy
import threading
from pathlib import Path

import pytest

import dynsafe
from dynsafe import testing

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))
SERVER_EXAMPLES = {"service.py", "service_race.py", "lambda_handler.py"}


@pytest.mark.parametrize(
    "path",
    [p for p in EXAMPLES if p.name not in SERVER_EXAMPLES],
    ids=lambda p: p.name,
)
def test_example_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(path), run_name="__main__")
    assert "ok" in capsys.readouterr().out


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_quickstart_runs_and_wins_the_race() -> None:
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert blocks
    with testing.locked_moto() as client:
        testing.create_table(client, "accounts")
        table = dynsafe.Table(client, "accounts", key=("pk",))
        namespace = {"table": table}
        exec(blocks[0], namespace)  # creates a1 with balance 100 and withdraws 1
        update = blocks[0].strip().splitlines()[-1]
        threads = [
            threading.Thread(target=exec, args=(update, namespace)) for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = dynsafe.VersionedTable(table).get({"pk": "a1"})
        assert stored is not None
        assert stored["balance"] == 100 - 1 - 16
