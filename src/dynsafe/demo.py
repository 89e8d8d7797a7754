"""``dynsafe demo``: many threads update one item, naively and through dynsafe.

The backend is embedded: moto in this process with every DynamoDB request
serialized, which is atomic as DynamoDB is, so the updates the naive loop loses are
lost by the code, not by the emulator. No server, no credentials.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from dynsafe._table import Table
from dynsafe.retry import RetryPolicy
from dynsafe.versioned import VersionedTable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["main"]

_THINK = 0.001
"""Seconds a handler spends between reading and writing, as real handlers do."""


@dataclass
class Outcome:
    """What one run of the workload did."""

    name: str
    expected: int
    final: int
    conflicts: int
    requests: int
    seconds: float

    @property
    def lost(self) -> int:
        """Updates that reported success but are not in the final value."""
        return self.expected - self.final

    def row(self) -> list[str]:
        """The table row of this run."""
        per_success = self.requests / self.expected if self.expected else 0.0
        return [
            self.name,
            str(self.expected),
            str(self.final),
            str(self.lost),
            str(self.conflicts),
            f"{per_success:.2f}",
            f"{self.seconds:.2f}s",
        ]


class _Progress:
    """A progress bar on a stream, redrawn in place on a terminal."""

    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        self._label, self._total, self._stream = label, total, stream
        self._done = 0
        self._lock = threading.Lock()
        self._tty = stream.isatty()

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            if self._tty or self._done == self._total:
                self._draw()

    def _draw(self) -> None:
        width = 30
        filled = width * self._done // self._total
        bar = "#" * filled + "." * (width - filled)
        end = "\n" if self._done == self._total else ""
        self._stream.write(
            f"\r{self._label:<8} [{bar}] {self._done}/{self._total}{end}"
        )
        self._stream.flush()


def _run(
    threads: int, operations: int, step: Callable[[], object], label: str
) -> float:
    progress = _Progress(label, operations, sys.stderr)
    per_thread = [
        operations // threads + (i < operations % threads) for i in range(threads)
    ]
    barrier = threading.Barrier(threads)

    def work(count: int) -> None:
        barrier.wait()
        for _ in range(count):
            step()
            progress.advance()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, per_thread))
    return time.perf_counter() - started


def _naive(client: DynamoDBClient, name: str, threads: int, operations: int) -> Outcome:
    key = {"pk": {"S": "demo"}}
    client.put_item(TableName=name, Item={**key, "n": {"N": "0"}})
    sent = [0]
    lock = threading.Lock()

    def step() -> None:
        item = client.get_item(TableName=name, Key=key, ConsistentRead=True)["Item"]
        value = int(item["n"]["N"])
        time.sleep(_THINK)
        # The naive loop the demo races, on purpose: no condition.
        new = {**key, "n": {"N": str(value + 1)}}
        client.put_item(TableName=name, Item=new)  # dynsafe: ignore[DS101]
        with lock:
            sent[0] += 2

    seconds = _run(threads, operations, step, "naive")
    final = int(client.get_item(TableName=name, Key=key)["Item"]["n"]["N"])
    return Outcome("naive get + put", operations, final, 0, sent[0], seconds)


def _safe(client: DynamoDBClient, name: str, threads: int, operations: int) -> Outcome:
    conflicts = [0]
    lock = threading.Lock()

    def count(attempt: int, error: Any, delay: float) -> None:
        with lock:
            conflicts[0] += 1

    policy = RetryPolicy(attempts=1000, deadline=None, max_delay=0.05, on_retry=count)
    table = Table(client, name, key=("pk",))
    accounts = VersionedTable(table, policy=policy)
    accounts.create({"pk": "demo", "n": 0})
    table.stats.reset()

    def add_one(item: dict[str, Any]) -> dict[str, Any]:
        time.sleep(_THINK)
        return {**item, "n": item["n"] + 1}

    seconds = _run(
        threads, operations, lambda: accounts.update({"pk": "demo"}, add_one), "dynsafe"
    )
    final = int(table.get({"pk": "demo"})["n"])  # type: ignore[index]
    return Outcome(
        "dynsafe update",
        operations,
        final,
        conflicts[0],
        table.stats.total - 1,
        seconds,
    )


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dynsafe demo",
        description="Many threads update one item: naive get-modify-put, then dynsafe.",
    )
    parser.add_argument("--threads", type=int, default=8, help="concurrent workers (8)")
    parser.add_argument(
        "--operations",
        type=int,
        default=200,
        help="increments per run, all threads (200)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1 or args.operations < 1:
        parser.error("--threads and --operations must be at least 1")
    return args


def main(argv: Sequence[str] = (), out: TextIO | None = None) -> int:
    """Run the demo and print its table to ``out`` (stdout); return the exit code."""
    out = out or sys.stdout
    args = _parse(argv)
    try:
        from dynsafe import testing

        backend = testing.locked_moto()
        client = backend.__enter__()
    except ImportError:
        sys.stderr.write("the demo needs moto: pip install 'dynsafe[demo]'\n")
        return 2
    try:
        testing.create_table(client, "demo-naive")
        testing.create_table(client, "demo-safe")
        naive = _naive(client, "demo-naive", args.threads, args.operations)
        safe = _safe(client, "demo-safe", args.threads, args.operations)
    finally:
        backend.__exit__(None, None, None)
    header = [
        "run",
        "expected",
        "final",
        "lost",
        "conflicts retried",
        "requests/success",
        "wall",
    ]
    out.write(f"\n{args.threads} threads, {args.operations} increments of one item")
    out.write(" each run\n\n" + _table([header, naive.row(), safe.row()]) + "\n")
    out.write(
        f"\nThe naive loop lost {naive.lost} of {naive.expected} updates;"
        f" dynsafe lost {safe.lost}.\n"
    )
    return 0
