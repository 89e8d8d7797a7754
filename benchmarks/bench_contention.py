"""Contention on one hot item: dynsafe against PynamoDB, a boto3 loop and unsafe code.

Every loop increments the attribute ``n`` of one item; each increment is one
"success". Reported per loop and worker count: successes per second, requests and
conflicts per success, updates lost, p50/p99 latency per success, and ratios to
PynamoDB's ``VersionAttribute`` refresh + save loop.

    python benchmarks/bench_contention.py                    # the sweep, both servers
    python benchmarks/bench_contention.py --headline         # 8 threads, 400 ops, x3

Loops:
- ``dynsafe``: ``VersionedTable.update`` with its defaults (write combining on);
- ``dynsafe (no combining)``: the same with ``combine=False``;
- ``pynamodb``: ``refresh(consistent_read=True)``, change, ``save()``, again on a
  version conflict;
- ``boto3 conditional``: ``get_item`` then ``update_item`` conditioned on the version,
  re-read on conflict;
- ``boto3 unsafe``: ``get_item`` then ``put_item``, no condition: loses updates.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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

LOOPS = [
    "dynsafe",
    "dynsafe (no combining)",
    "pynamodb",
    "boto3 conditional",
    "boto3 unsafe",
]
KEY = {"pk": {"S": "hot"}}
_names = itertools.count()


@dataclass
class Tally:
    """What the workers of one process did."""

    latencies: list[float] = field(default_factory=list)
    conflicts: int = 0
    requests: int = 0
    seconds: float = 0.0


# -- the loops -------------------------------------------------------------------------


def _dynsafe_step(
    endpoint: str, table: str, combine: bool
) -> tuple[Callable[[], int], Any]:
    client = testing.local_client(endpoint)
    counter = testing.RequestCounter(client)
    policy = dynsafe.RetryPolicy(attempts=10_000, deadline=None)
    accounts = dynsafe.VersionedTable(
        dynsafe.Table(client, table, key=("pk",)), policy=policy, combine=combine
    )

    def step() -> int:
        accounts.update({"pk": "hot"}, lambda item: {**item, "n": item["n"] + 1})
        return 0  # counted once per process from the table's stats, below

    setattr(counter, "conflicts", lambda: accounts.stats.totals().conflicts)  # noqa: B010
    return step, counter


def _pynamodb_model(endpoint: str, table: str) -> Any:
    from pynamodb.attributes import NumberAttribute, UnicodeAttribute, VersionAttribute
    from pynamodb.models import Model

    class Hot(Model):
        class Meta:
            table_name = table
            host = endpoint
            region = "us-east-1"
            aws_access_key_id = "testing"
            aws_secret_access_key = "testing"
            max_pool_connections = 64

        pk = UnicodeAttribute(hash_key=True)
        n = NumberAttribute(default=0)
        version = VersionAttribute()

    return Hot


def _pynamodb_step(endpoint: str, table: str) -> tuple[Callable[[], int], Any]:
    from pynamodb.exceptions import PutError

    model = _pynamodb_model(endpoint, table)
    counter = testing.RequestCounter(model._get_connection().connection.client)
    local = threading.local()

    def step() -> int:
        if not hasattr(local, "item"):
            local.item = model.get("hot", consistent_read=True)
        conflicts = 0
        while True:
            local.item.refresh(consistent_read=True)
            local.item.n += 1
            try:
                local.item.save()
                return conflicts
            except PutError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                conflicts += 1

    return step, counter


def _boto3_step(endpoint: str, table: str, safe: bool) -> tuple[Callable[[], int], Any]:
    client = testing.local_client(endpoint)
    counter = testing.RequestCounter(client)

    def read() -> tuple[int, int]:
        item = client.get_item(TableName=table, Key=KEY, ConsistentRead=True)["Item"]
        return int(item["n"]["N"]), int(item["version"]["N"])

    def step() -> int:
        conflicts = 0
        while True:
            n, version = read()
            if not safe:
                item = {**KEY, "n": {"N": str(n + 1)}, "version": {"N": str(version)}}
                # The unsafe contender, on purpose.
                client.put_item(TableName=table, Item=item)  # dynsafe: ignore[DS101]
                return conflicts
            try:
                client.update_item(
                    TableName=table,
                    Key=KEY,
                    UpdateExpression="SET #n = :n, #v = :next",
                    ConditionExpression="#v = :v",
                    ExpressionAttributeNames={"#n": "n", "#v": "version"},
                    ExpressionAttributeValues={
                        ":n": {"N": str(n + 1)},
                        ":v": {"N": str(version)},
                        ":next": {"N": str(version + 1)},
                    },
                )
                return conflicts
            except client.exceptions.ConditionalCheckFailedException:
                conflicts += 1

    return step, counter


def make_step(loop: str, endpoint: str, table: str) -> tuple[Callable[[], int], Any]:
    """A function that makes one successful increment and returns its conflicts."""
    if loop == "dynsafe":
        return _dynsafe_step(endpoint, table, combine=True)
    if loop == "dynsafe (no combining)":
        return _dynsafe_step(endpoint, table, combine=False)
    if loop == "pynamodb":
        return _pynamodb_step(endpoint, table)
    return _boto3_step(endpoint, table, safe=loop == "boto3 conditional")


# -- running ---------------------------------------------------------------------------


def run_process(loop: str, endpoint: str, table: str, threads: int, ops: int) -> Tally:
    """Run ``ops`` increments over ``threads`` threads of this process."""
    step, counter = make_step(loop, endpoint, table)
    tally = Tally()
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    shares = [ops // threads + (i < ops % threads) for i in range(threads)]

    def work(count: int) -> None:
        barrier.wait()
        for _ in range(count):
            started = time.perf_counter()
            conflicts = step()
            elapsed = time.perf_counter() - started
            with lock:
                tally.latencies.append(elapsed)
                tally.conflicts += conflicts

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, shares))
    tally.seconds = time.perf_counter() - started
    tally.requests = counter.total
    tally.conflicts += getattr(counter, "conflicts", lambda: 0)()
    return tally


def prepare(endpoint: str) -> str:
    name = f"hot-{next(_names)}-{time.monotonic_ns()}"
    client = testing.local_client(endpoint)
    testing.create_table(client, name)
    client.put_item(
        TableName=name, Item={**KEY, "n": {"N": "0"}, "version": {"N": "1"}}
    )
    return name


def final_value(endpoint: str, table: str) -> int:
    client = testing.local_client(endpoint)
    item = client.get_item(TableName=table, Key=KEY, ConsistentRead=True)["Item"]
    return int(item["n"]["N"])


def measure(
    loop: str, endpoint: str, processes: int, threads: int, ops: int
) -> dict[str, Any]:
    """One run: ``processes`` x ``threads`` workers sharing ``ops`` increments."""
    table = prepare(endpoint)
    if processes == 1:
        tallies = [run_process(loop, endpoint, table, threads, ops)]
    else:
        shares = [ops // processes + (i < ops % processes) for i in range(processes)]
        context = multiprocessing.get_context("spawn")
        with context.Pool(processes) as pool:
            tallies = pool.starmap(
                run_process,
                [(loop, endpoint, table, threads, share) for share in shares],
            )
    latencies = [value for tally in tallies for value in tally.latencies]
    seconds = max(tally.seconds for tally in tallies)
    requests = sum(tally.requests for tally in tallies)
    conflicts = sum(tally.conflicts for tally in tallies)
    return {
        "loop": loop,
        "processes": processes,
        "threads": threads,
        "successes": ops,
        "successes_per_s": ops / seconds,
        "requests_per_success": requests / ops,
        "conflicts_per_success": conflicts / ops,
        "lost": ops - final_value(endpoint, table),
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over repeated runs of one configuration."""
    result = dict(runs[0])
    for name in (
        "successes_per_s",
        "requests_per_success",
        "conflicts_per_success",
        "lost",
        "p50_ms",
        "p99_ms",
    ):
        result[name] = median([run[name] for run in runs])
    result["runs"] = len(runs)
    return result


def sweep(args: argparse.Namespace, urls: dict[str, str]) -> list[dict[str, Any]]:
    configs = [(1, w) for w in args.workers] + [(p, t) for p, t in args.process_mix]
    total = len(urls) * len(args.loops) * len(configs) * args.repeat
    progress = Progress("contention", total)
    rows = []
    for backend, endpoint in urls.items():
        for processes, threads in configs:
            for loop in args.loops:
                runs = []
                for _ in range(args.repeat):
                    runs.append(measure(loop, endpoint, processes, threads, args.ops))
                    progress.advance()
                rows.append({"backend": backend, **medians(runs)})
    return rows


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ratios to the PynamoDB loop and the unsafe loop of the same configuration."""
    index = {(r["backend"], r["processes"], r["threads"], r["loop"]): r for r in rows}
    for row in rows:
        config = (row["backend"], row["processes"], row["threads"])
        for name, loop in (("pynamodb", "pynamodb"), ("unsafe", "boto3 unsafe")):
            other = index.get((*config, loop))
            if other:
                row[f"goodput_vs_{name}"] = (
                    row["successes_per_s"] / other["successes_per_s"]
                )
                row[f"requests_vs_{name}"] = (
                    row["requests_per_success"] / other["requests_per_success"]
                )
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    header = [
        "backend",
        "workers",
        "loop",
        "successes/s",
        "requests/success",
        "conflicts/success",
        "lost",
        "p50 ms",
        "p99 ms",
        "goodput vs pynamodb",
        "requests vs pynamodb",
        "goodput vs unsafe",
    ]
    table = []
    for r in rows:
        workers = (
            f"{r['threads']} threads"
            if r["processes"] == 1
            else (f"{r['processes']} proc x {r['threads']} thr")
        )
        lost = f"{r['lost']:.0f} ({100 * r['lost'] / r['successes']:.0f} %)"
        table.append(
            [
                r["backend"],
                workers,
                r["loop"],
                f"{r['successes_per_s']:.0f}",
                f"{r['requests_per_success']:.2f}",
                f"{r['conflicts_per_success']:.2f}",
                lost,
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r.get('goodput_vs_pynamodb', 0):.2f}x",
                f"{r.get('requests_vs_pynamodb', 0):.2f}x",
                f"{r.get('goodput_vs_unsafe', 0):.2f}x",
            ]
        )
    title = (
        f"# Contention on one item\n\n{args.ops} increments per run, median of"
        f" {args.repeat} run(s).\n{machine_line(machine(), dynalite=True)}\n"
        f"Command: `python benchmarks/bench_contention.py {' '.join(args.argv)}`\n\n"
    )
    return title + markdown_table(header, table)


def plot(rows: list[dict[str, Any]], name: str) -> None:
    plot_against_workers(
        [r for r in rows if r["processes"] == 1],
        series=("loop", LOOPS),
        workers="threads",
        panels=[
            ("successes_per_s", "successful updates per second"),
            ("requests_per_success", "requests per success"),
        ],
        name=name,
    )


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="dynalite,locked-moto")
    parser.add_argument("--loops", default=",".join(LOOPS))
    parser.add_argument("--workers", default="1,2,4,8,16,32")
    parser.add_argument("--processes", default="8x2", help="process x thread mixes")
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--headline",
        action="store_true",
        help="8 and 16 threads and 8x2 processes, 400 ops, median of 3",
    )
    parser.add_argument("--name", default="contention")
    args = parser.parse_args(argv)
    if args.headline:
        args.workers, args.ops, args.repeat = "8,16", 400, 3
        args.name = args.name if args.name != "contention" else "hot_items"
    args.argv = argv
    args.loops = args.loops.split(",")
    args.workers = [int(w) for w in args.workers.split(",") if w]
    args.process_mix = [
        tuple(int(x) for x in mix.split("x"))
        for mix in args.processes.split(",")
        if mix
    ]
    return args


def main(argv: list[str]) -> None:
    args = parse(argv)
    with backends(args.backends.split(",")) as urls:
        rows = with_ratios(sweep(args, urls))
    text = report(rows, args)
    print(text)
    write_results(args.name, {"machine": machine(), "rows": rows}, text)
    plot(rows, args.name)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
