"""Counters under concurrency: plain add, exactly-once add, ShardedCounter(16).

Each run shares ``--adds`` additions of 1 among ``workers`` threads of one process,
on one client, started together, on a counter of its own (a fresh key, so the
exactly-once tokens of one run do not weigh on the next). Reported per backend,
mode and worker count: adds per second (goodput), requests per add, whether the
final value is the number of adds, p50/p99 latency of one add, and the goodput as a
ratio of the plain add's with one worker on the same backend.

    python benchmarks/bench_counters.py [--backends dynalite,locked-moto]
        [--workers 1,2,4,8,16,32] [--adds 320] [--repeat 2]

Modes:
- ``add``: ``Counter.add(1)``, one ``UpdateItem`` with ``ADD``, with its defaults:
  concurrent plain adds to one counter from threads of one process share one
  request (write combining), so requests per add fall below 1;
- ``add(combine=False)``: the same, one request per add;
- ``add(token=...)``: the same, counted once per token: the request also stores the
  token's digest on the item, on the condition that it is not there yet;
- ``ShardedCounter(16).add``: ``Counter.add(1)`` on one of 16 items picked at random.

A local server measures the server (dynalite in node, moto in Python) as much as the
library: read the ratios and the request counts, and see ``bench_overhead.py`` for
dynsafe's own cost per request.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import (
    Progress,
    backends,
    machine,
    machine_line,
    markdown_table,
    median,
    percentile,
    plot_against_workers,
    write_results,
)

import dynsafe
from dynsafe import testing

MODES = ["add", "add(combine=False)", "add(token=...)", "ShardedCounter(16).add"]
NOTES = """\
Reading it:
- Plain adds from threads of one process to one counter share one `UpdateItem`
  (write combining), so their requests per add fall as threads are added and their
  goodput grows; `combine=False` shows one request per add.
- Adds with a token are never merged: each is one request, counted once.
- dynalite parses each expression with a parser that is slow on nested parentheses:
  an update with the token add's condition takes it about 12 ms, against about 2 ms
  for the same condition written without the redundant parentheses. Read the token
  add on locked moto, and its own cost in `bench_overhead.py`.
- Sharding does not raise throughput on a local server, which has no per-partition
  limit; on DynamoDB it spreads writes past one partition's 1000 write units a
  second. Here each of its 16 shards combines on its own, so it merges less than
  one counter."""

FIGURES = ["adds_per_s", "requests_per_add", "p50_ms", "p99_ms"]
_runs = itertools.count()


def make_add(
    mode: str, table: dynsafe.Table, key: str
) -> tuple[Callable[[int], object], Callable[[], object]]:
    """The add of ``mode`` (given the add's number) and how to read the total."""
    if mode == "ShardedCounter(16).add":
        sharded = dynsafe.ShardedCounter(table, {"pk": key}, "n", shards=16)
        return (lambda _: sharded.add(1)), sharded.value
    counter = dynsafe.Counter(
        table, {"pk": key}, "n", combine=mode != "add(combine=False)"
    )
    if mode == "add(token=...)":
        return (lambda i: counter.add(1, token=f"{key}-{i}")), counter.value
    return (lambda _: counter.add(1)), counter.value


def run(
    endpoint: str, table: str, mode: str, workers: int, adds: int, bar: Progress
) -> dict[str, Any]:
    """One run: ``adds`` adds shared by ``workers`` threads."""
    client = testing.local_client(endpoint)
    requests = testing.RequestCounter(client)
    key = f"run-{next(_runs)}-{time.monotonic_ns()}"
    add, total = make_add(mode, dynsafe.Table(client, table, key=("pk",)), key)
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(workers)
    shares = [range(w, adds, workers) for w in range(workers)]

    def work(numbers: range) -> None:
        barrier.wait()
        mine = []
        for number in numbers:
            began = time.perf_counter()
            add(number)
            mine.append(time.perf_counter() - began)
            bar.advance()
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, shares))
    seconds = time.perf_counter() - began
    sent = requests.total
    final = total()
    return {
        "mode": mode,
        "workers": workers,
        "adds": adds,
        "adds_per_s": adds / seconds,
        "requests_per_add": sent / adds,
        "final": final,
        "exact": final == adds,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over repeated runs; exact only if every run was."""
    result = dict(runs[0])
    for name in FIGURES:
        result[name] = median([r[name] for r in runs])
    result["exact"] = all(r["exact"] for r in runs)
    result["finals"] = [r["final"] for r in runs]
    result["runs"] = len(runs)
    return result


def sweep(args: argparse.Namespace, urls: dict[str, str]) -> list[dict[str, Any]]:
    configs = len(urls) * len(args.modes) * len(args.workers) * args.repeat
    bar = Progress("counters", configs * args.adds)
    rows = []
    for backend, endpoint in urls.items():
        table = f"counters-{time.monotonic_ns()}"
        testing.create_table(testing.local_client(endpoint), table)
        for workers in args.workers:
            for mode in args.modes:
                runs = [
                    run(endpoint, table, mode, workers, args.adds, bar)
                    for _ in range(args.repeat)
                ]
                rows.append({"backend": backend, **medians(runs)})
    return rows


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each row's goodput as a ratio of the plain add's at 1 worker."""
    base = {
        r["backend"]: r["adds_per_s"]
        for r in rows
        if r["mode"] == "add" and r["workers"] == 1
    }
    for r in rows:
        if r["backend"] in base:
            r["goodput_vs_add_1"] = r["adds_per_s"] / base[r["backend"]]
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    header = [
        "backend",
        "workers",
        "mode",
        "adds/s",
        "requests/add",
        "exact",
        "p50 ms",
        "p99 ms",
        "goodput vs add @1",
    ]
    table = [
        [
            r["backend"],
            r["workers"],
            r["mode"],
            f"{r['adds_per_s']:.0f}",
            f"{r['requests_per_add']:.2f}",
            "yes" if r["exact"] else f"no ({r['finals']})",
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            f"{r.get('goodput_vs_add_1', 0):.2f}x",
        ]
        for r in rows
    ]
    title = (
        "# Counters under concurrency\n\n"
        f"{args.adds} adds of 1 per run, threads of one process on one client,"
        f" median of {args.repeat} run(s); exact: the final value equals the adds"
        f" in every run.\n{machine_line(machine(), dynalite=True)}\n"
        f"Command: `python benchmarks/bench_counters.py {' '.join(args.argv)}`\n\n"
    )
    return title + markdown_table(header, table) + "\n\n" + NOTES


def plot(rows: list[dict[str, Any]]) -> None:
    plot_against_workers(
        rows,
        series=("mode", MODES),
        workers="workers",
        panels=[
            ("adds_per_s", "adds per second"),
            ("requests_per_add", "requests per add"),
        ],
        name="counters",
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="dynalite,locked-moto")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workers", default="1,2,4,8,16,32")
    parser.add_argument("--adds", type=int, default=320)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    args.argv = argv
    args.modes = [mode for mode in args.modes.split(",") if mode]
    unknown = sorted(set(args.modes) - set(MODES))
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; modes: {MODES}")
    args.workers = [int(w) for w in args.workers.split(",") if w]
    return args


def main(argv: list[str]) -> None:
    args = parse(argv)
    # The moto server logs each request; the progress bar is enough.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with backends(args.backends.split(",")) as urls:
        rows = with_ratios(sweep(args, urls))
    text = report(rows, args)
    print(text)
    write_results("counters", {"machine": machine(), "rows": rows}, text)
    plot(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
