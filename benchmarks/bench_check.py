"""How fast ``dynsafe check`` reads code, next to bandit on the same tree.

Both tools run as a fresh process, the way CI runs them, over the installed sources of
boto3, botocore and s3transfer (about 57,000 lines in 132 files: real, varied Python
that neither tool was written against). Each runs ``ROUNDS`` times, taking turns round
by round so that load from other work on the machine falls on both alike; the median
wall time gives lines per second. The start-up row (an empty tree) shows what a fresh
process costs before it reads a file; the in-process row (``check_paths`` with one
worker) shows the checker's own cost without start-up or the process pool.

Run: ``.venv/bin/python benchmarks/bench_check.py``. It writes
``benchmarks/results/check.json`` and ``benchmarks/results/check.md``. Not a test: it
asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import botocore
import s3transfer
from _common import machine, markdown_table, median, write_results

from dynsafe.check import check_paths

ROUNDS = 5
TREES = [Path(str(m.__file__)).parent for m in (boto3, botocore, s3transfer)]
STARTUP = "dynsafe check, start-up only (empty tree)"


def count_lines(trees: list[Path]) -> tuple[int, int]:
    files = [p for tree in trees for p in tree.rglob("*.py")]
    return len(files), sum(len(p.read_bytes().splitlines()) for p in files)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command[0]} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def commands(scratch: Path) -> dict[str, list[str]]:
    trees = [str(tree) for tree in TREES]
    empty = scratch / "empty"
    empty.mkdir()
    dynsafe = [sys.executable, "-m", "dynsafe.check", "--no-config"]
    report = ["--format", "json", "-o", str(scratch / "dynsafe.json")]
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent)) or "bandit"
    return {
        STARTUP: [*dynsafe, str(empty)],
        "dynsafe check": [*dynsafe, *trees, *report],
        "dynsafe check --jobs 1": [*dynsafe, *trees, *report, "--jobs", "1"],
        "bandit -r -q": [bandit, "-r", "-q", *trees, "-f", "json", "-o", "/dev/null"],
    }


def interleaved_runs(tools: dict[str, list[str]]) -> dict[str, list[float]]:
    # Round-robin, so a busy moment on a shared machine hits every tool alike.
    runs: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(ROUNDS):
        for name, command in tools.items():
            runs[name].append(timed(command))
    return runs


def in_process_seconds() -> float:
    start = time.perf_counter()
    check_paths([str(tree) for tree in TREES], jobs=1)
    return time.perf_counter() - start


def measure() -> dict[str, Any]:
    host = {**machine(), "load_average_1min_before": round(os.getloadavg()[0], 2)}
    host["versions"] |= {p: metadata.version(p) for p in ("bandit", "s3transfer")}
    files, lines = count_lines(TREES)
    with tempfile.TemporaryDirectory() as scratch:
        runs = interleaved_runs(commands(Path(scratch)))
    runs["dynsafe check (in process, 1 worker)"] = [in_process_seconds()]
    tools: dict[str, dict[str, Any]] = {
        name: {
            "seconds": round(median(times), 3),
            "runs": [round(t, 3) for t in times],
            "lines_per_second": 0 if name == STARTUP else round(lines / median(times)),
        }
        for name, times in runs.items()
    }
    ratio = tools["bandit -r -q"]["seconds"] / tools["dynsafe check"]["seconds"]
    return {
        "tree": [str(tree) for tree in TREES],
        "files": files,
        "lines": lines,
        "rounds": ROUNDS,
        "tools": tools,
        "speedup_vs_bandit": round(ratio, 1),
        "machine": host,
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        [
            name,
            t["seconds"],
            f"{t['lines_per_second']:,}" if t["lines_per_second"] else "-",
        ]
        for name, t in result["tools"].items()
    ]
    trees = ", ".join(Path(tree).name for tree in result["tree"])
    return "\n".join(
        [
            "# dynsafe check: speed",
            "",
            f"Tree: installed {trees} sources, {result['files']} files, "
            f"{result['lines']:,} lines. Median of {result['rounds']} runs, each a "
            "fresh process (interpreter start-up included), tools taking turns.",
            "",
            markdown_table(["tool", "seconds", "lines/s"], rows),
            "",
            f"dynsafe check is {result['speedup_vs_bandit']}x as fast as bandit here. "
            "The two tools check different things (bandit: security smells; dynsafe "
            "check: lost updates), so this compares cost per line, not coverage. Most "
            "of a fresh `dynsafe check` process's start-up is importing the `dynsafe` "
            "package, whose `__init__` imports boto3.",
            "",
            f"Machine: `{json.dumps(result['machine'])}`",
            "",
            "Command: `.venv/bin/python benchmarks/bench_check.py`",
        ]
    )


def main() -> None:
    print(f"checking {', '.join(map(str, TREES))} ({ROUNDS} rounds per tool)...")
    result = measure()
    text = markdown(result)
    write_results("check", result, text)
    print(text)


if __name__ == "__main__":
    main()
