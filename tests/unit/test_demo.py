from __future__ import annotations

import io

import pytest

from dynsafe import demo
from dynsafe.cli import main


def test_demo_shows_the_naive_loop_losing_updates_and_dynsafe_none() -> None:
    out = io.StringIO()
    assert demo.main(["--threads", "8", "--operations", "120"], out=out) == 0
    text = out.getvalue()
    lines = [line for line in text.splitlines() if "|" in line]
    rows = {line.split("|")[0].strip(): line for line in lines}
    naive = [cell.strip() for cell in rows["naive get + put"].split("|")]
    safe = [cell.strip() for cell in rows["dynsafe update"].split("|")]
    assert int(naive[3]) > 0  # lost
    assert (safe[1], safe[2], safe[3]) == ("120", "120", "0")
    assert "dynsafe lost 0" in text


def test_demo_refuses_bad_options() -> None:
    with pytest.raises(SystemExit):
        demo.main(["--threads", "0"])


def test_cli_dispatches_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--threads", "2", "--operations", "10"]) == 0
    assert "dynsafe update" in capsys.readouterr().out
