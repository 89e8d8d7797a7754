"""Shared pieces of the benchmarks: backends, machine facts, progress, result files.

Benchmarks measure side by side in one run and report ratios; none is a test and
none asserts a time.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dynsafe import testing

RESULTS = Path(__file__).resolve().parent / "results"

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def machine() -> dict[str, Any]:
    """The machine and the versions of everything measured."""
    versions = {}
    for package in (
        "dynsafe",
        "boto3",
        "botocore",
        "moto",
        "pynamodb",
        "aws-lambda-powertools",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "dynalite": _dynalite_version(),
    }


def machine_line(facts: dict[str, Any], *, dynalite: bool = False) -> str:
    """One line of a report naming the machine and the versions measured."""
    versions = ", ".join(f"{k} {v}" for k, v in facts["versions"].items())
    server = f"; dynalite {facts['dynalite']}" if dynalite else ""
    return (
        f"Python {facts['python']} on {facts['platform']}, {facts['cpus']} CPUs;"
        f" {versions}{server}."
    )


def _dynalite_version() -> str:
    package = (
        Path(__file__).resolve().parents[1]
        / "node_modules"
        / "dynalite"
        / "package.json"
    )
    if package.is_file():
        return str(json.loads(package.read_text())["version"])
    return "not installed"


@contextlib.contextmanager
def backends(names: Sequence[str]) -> Iterator[dict[str, str]]:
    """Start the named servers (``dynalite``, ``locked-moto``); yield their URLs."""
    with contextlib.ExitStack() as stack:
        urls = {}
        for name in names:
            if name == "dynalite":
                urls[name] = stack.enter_context(testing.Dynalite()).endpoint_url
            elif name == "locked-moto":
                urls[name] = stack.enter_context(
                    testing.LockedMotoServer()
                ).endpoint_url
            else:
                raise SystemExit(f"unknown backend {name!r}")
        yield urls


class Progress:
    """A progress bar on stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self._lock = threading.Lock()
        self._last = 0.0

    def advance(self, steps: int = 1) -> None:
        with self._lock:
            self.done += steps
            now = time.monotonic()
            if now - self._last > 0.2 or self.done >= self.total:
                self._last = now
                filled = 30 * min(self.done, self.total) // max(self.total, 1)
                end = "\n" if self.done >= self.total else ""
                bar = "#" * filled + "." * (30 - filled)
                sys.stderr.write(
                    f"\r{self.label:<44} [{bar}] {self.done}/{self.total}{end}"
                )
                sys.stderr.flush()


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` fall."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    """The median, or 0 for no values."""
    return statistics.median(values) if values else 0.0


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict[str, Any], markdown: str) -> None:
    """Write ``results/NAME.json`` and ``results/NAME.md``."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(data, indent=2, default=str) + "\n"
    )
    (RESULTS / f"{name}.md").write_text(markdown + "\n")
    sys.stderr.write(f"wrote {RESULTS / name}.json and .md\n")


def plot_against_workers(
    rows: Sequence[dict[str, Any]],
    *,
    series: tuple[str, Sequence[str]],
    workers: str,
    panels: Sequence[tuple[str, str]],
    name: str,
) -> None:
    """Plot figures against the number of workers: a column per backend.

    Args:
        rows: Result rows, each with ``backend``, the ``workers`` field and the
            series field.
        series: The field naming a line, and the lines in legend order.
        workers: The field holding the number of workers (the x axis, log 2).
        panels: ``(field, title)`` per row of panels; the title follows the backend.
        name: The PNG's name in ``results/``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    field, lines = series
    seen = sorted({row["backend"] for row in rows})
    figure, axes = plt.subplots(
        len(panels), len(seen), figsize=(6 * len(seen), 4 * len(panels)), squeeze=False
    )
    ticks = sorted({row[workers] for row in rows})
    for column, backend in enumerate(seen):
        for line in lines:
            points = sorted(
                (row[workers], row)
                for row in rows
                if row["backend"] == backend and row[field] == line
            )
            for panel, (value, _) in enumerate(panels):
                xs = [x for x, _ in points]
                axes[panel][column].plot(
                    xs, [r[value] for _, r in points], "o-", label=line
                )
        for panel, (_, title) in enumerate(panels):
            axis = axes[panel][column]
            axis.set_title(f"{backend}: {title}")
            axis.set_xscale("log", base=2)
            axis.set_xticks(ticks, [str(t) for t in ticks])
            axis.set_xlabel("threads")
            axis.set_ylim(bottom=0)
            axis.legend(fontsize=7)
    figure.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    figure.savefig(RESULTS / f"{name}.png", dpi=90)
