"""How fast ``dynsafe check`` reads code, next to bandit on the same tree.

Both tools run as a fresh process, the way CI runs them, over the installed sources of
boto3, botocore and s3transfer (about 57,000 lines in 132 files: real, varied Python
that neither tool was written against). Each runs ``ROUNDS`` times, taking turns round
by round so that load from other work on the machine falls on both alike; the median
wall time gives lines per second. The in-process figure (``check_paths`` with one
worker) shows the checker's own cost without interpreter start-up or the process pool.

Run: ``.venv/bin/python benchmarks/bench_check.py``. It writes
``benchmarks/results/check.json`` and ``benchmarks/results/check.md``. Not a test: it
asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
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

from dynsafe.check import check_paths

ROUNDS = 5
RESULTS = Path(__file__).parent / "results"
TREES = [Path(str(m.__file__)).parent for m in (boto3, botocore, s3transfer)]


def count_lines(trees: list[Path]) -> tuple[int, int]:
    files = [p for tree in trees for p in tree.rglob("*.py")]
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    return len(files), lines


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{command[0]} failed: {done.stderr.decode()[-500:]}")
    return elapsed


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


def versions() -> dict[str, str]:
    names = ("dynsafe", "bandit", "boto3", "botocore", "s3transfer")
    return {name: metadata.version(name) for name in names}


def machine() -> dict[str, str | int | float]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "processor": platform.machine(),
        "cpus": os.cpu_count() or 1,
        "load_average_1min_before": round(os.getloadavg()[0], 2),
    }


def commands(output: Path) -> dict[str, list[str]]:
    trees = [str(tree) for tree in TREES]
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent)) or "bandit"
    dynsafe = [sys.executable, "-m", "dynsafe.check", *trees, "--no-config"]
    report = ["--format", "json", "-o", str(output / "d.json")]
    empty = output / "empty"
    empty.mkdir(exist_ok=True)
    return {
        "dynsafe check, start-up only (empty tree)": [*dynsafe[:3], str(empty)],
        "dynsafe check": [*dynsafe, *report],
        "dynsafe check --jobs 1": [*dynsafe, *report, "--jobs", "1"],
        "bandit -r -q": [
            bandit,
            "-r",
            "-q",
            *trees,
            "-f",
            "json",
            "-o",
            str(output / "b.json"),
        ],
    }


def measure() -> dict[str, Any]:
    host = machine()
    files, lines = count_lines(TREES)
    tools: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, runs in interleaved_runs(commands(Path(scratch))).items():
            median = statistics.median(runs)
            tools[name] = {
                "seconds": round(median, 3),
                "runs": [round(r, 3) for r in runs],
                "lines_per_second": round(lines / median) if "empty" not in name else 0,
            }
    sequential = in_process_seconds()
    tools["dynsafe check (in process, 1 worker)"] = {
        "seconds": round(sequential, 3),
        "lines_per_second": round(lines / sequential),
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
        "versions": versions(),
    }


def _speed(lines_per_second: int) -> str:
    return f"{lines_per_second:,}" if lines_per_second else "-"


def markdown(result: dict[str, Any]) -> str:
    tools = result["tools"]
    rows = [
        f"| {name} | {t['seconds']} | {_speed(t['lines_per_second'])} |"
        for name, t in tools.items()
    ]
    found_in = ", ".join(Path(tree).name for tree in result["tree"])
    lines = [
        "# dynsafe check: speed",
        "",
        f"Tree: installed {found_in} sources, {result['files']} files, "
        f"{result['lines']:,} lines. Median of {result['rounds']} runs, each a fresh "
        "process (interpreter start-up included).",
        "",
        "| tool | seconds | lines/s |",
        "|---|---|---|",
        *rows,
        "",
        f"dynsafe check is {result['speedup_vs_bandit']}x as fast as bandit here. "
        "The two tools check different things (bandit: security smells; dynsafe check: "
        "lost updates), so this compares cost per line, not coverage. A fresh "
        "`dynsafe check` process spends part of its time importing the `dynsafe` "
        "package (boto3 included) before it reads a file; the in-process row leaves "
        "that out.",
        "",
        f"Machine: {json.dumps(result['machine'])}",
        f"Versions: {json.dumps(result['versions'])}",
        "",
        "Command: `.venv/bin/python benchmarks/bench_check.py`",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    print(f"checking {', '.join(map(str, TREES))} ({ROUNDS} rounds per tool)...")
    result = measure()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "check.json").write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    text = markdown(result)
    (RESULTS / "check.md").write_text(text, "utf-8")
    print(text)


if __name__ == "__main__":
    main()
