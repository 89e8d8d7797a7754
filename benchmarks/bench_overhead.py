"""dynsafe's own cost: each primitive against the raw boto3 calls doing the same work.

The client's transport answers at once, in process: a handler on its
``before-send.dynamodb`` event returns a canned ``AWSResponse``, so no socket, server
or emulator is timed, only dynsafe and botocore (building, signing and parsing each
request). Each case runs its dynsafe form and its hand-written boto3 form in
alternating batches of the same number of operations, after a warm-up; the figure is
the median batch. "dynsafe's own" is the difference, per operation.

    python benchmarks/bench_overhead.py [--iterations 1500] [--batches 7]

The raw forms are what a careful engineer writes by hand: the same requests, with
expression strings of their own, and the same decoding of what comes back. They do
not do what dynsafe adds on top (write tokens, lost-answer handling, errors with
context); that is the cost being measured.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from typing import Any

from _common import (
    RESULTS,
    Progress,
    machine,
    machine_line,
    markdown_table,
    write_results,
)
from _overhead_cases import (
    Answer,
    Case,
    InstantTransport,
    Op,
    counter_cases,
    idempotency_cases,
    instant_client,
    transaction_cases,
    versioned_cases,
)

NOTES = """\
Reading it: the raw column is botocore alone (serializing, signing, parsing, its
retry handler), so the difference is what dynsafe adds in Python per operation:
building expressions from named parts, the codec, write tokens and their history,
request counting and hooks, the retry policy around the call, error translation, and
for plain updates and adds the per-key queue of write combining (with one thread,
nothing waits). Against a real DynamoDB round trip of a few milliseconds it is a small
share; none of it adds a request."""


# -- measuring -------------------------------------------------------------------------


def seconds_per_op(op: Op, iterations: int, start: int) -> float:
    gc.collect()
    began = time.perf_counter()
    for i in range(start, start + iterations):
        op(i)
    return (time.perf_counter() - began) / iterations


def requests_per_op(op: Op, transport: InstantTransport, start: int) -> float:
    transport.sent.clear()
    for i in range(start, start + 10):
        op(i)
    return sum(transport.sent.values()) / 10


def measure(
    case: Case, transport: InstantTransport, args: argparse.Namespace, bar: Progress
) -> None:
    sides: dict[str, tuple[Op, dict[str, Answer]]] = {
        "dynsafe": (case.dynsafe, case.answers),
        "raw": (case.raw, case.raw_answers or case.answers),
    }
    offset = 0
    for name, (op, answers) in sides.items():
        transport.answers = answers
        seconds_per_op(op, args.warmup, offset)
        case.requests[name] = requests_per_op(op, transport, offset)
        case.results[name] = []
        offset += args.warmup + 10
    for batch in range(args.batches):
        # Alternate which side goes first, so that drift hits both alike.
        order = list(sides) if batch % 2 == 0 else list(reversed(sides))
        for name in order:
            op, answers = sides[name]
            transport.answers = answers
            case.results[name].append(seconds_per_op(op, args.iterations, offset))
            offset += args.iterations
            bar.advance()


def row(case: Case) -> dict[str, Any]:
    ours = statistics.median(case.results["dynsafe"]) * 1e6
    raw = statistics.median(case.results["raw"]) * 1e6
    return {
        "primitive": case.name,
        "raw": case.raw_name,
        "requests_dynsafe": case.requests["dynsafe"],
        "requests_raw": case.requests["raw"],
        "dynsafe_us": ours,
        "raw_us": raw,
        "ratio": ours / raw,
        "own_us": ours - raw,
        "batches_us": {
            side: [value * 1e6 for value in values]
            for side, values in case.results.items()
        },
    }


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    header = [
        "primitive",
        "raw boto3 equivalent",
        "requests (dynsafe / raw)",
        "dynsafe µs/op",
        "raw µs/op",
        "ratio",
        "dynsafe's own µs",
    ]
    table = [
        [
            r["primitive"],
            r["raw"],
            f"{r['requests_dynsafe']:g} / {r['requests_raw']:g}",
            f"{r['dynsafe_us']:.0f}",
            f"{r['raw_us']:.0f}",
            f"{r['ratio']:.2f}x",
            f"{r['own_us']:+.0f}",
        ]
        for r in rows
    ]
    title = (
        "# Overhead on an instant transport\n\n"
        f"Median of {args.batches} batches of {args.iterations} operations per side,"
        f" after {args.warmup} warm-up operations; the transport answers in process,"
        " so each figure is dynsafe plus botocore, or botocore alone.\n"
        f"{machine_line(machine())}\n"
        f"Command: `python benchmarks/bench_overhead.py {' '.join(args.argv)}`\n\n"
    )
    return title + markdown_table(header, table) + "\n\n" + NOTES


def plot(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["primitive"] for r in rows][::-1]
    figure, axes = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.5))
    positions = range(len(rows))
    raw = [r["raw_us"] for r in rows][::-1]
    own = [r["own_us"] for r in rows][::-1]
    axes.barh(positions, raw, label="boto3 / botocore (raw equivalent)")
    axes.barh(positions, own, left=raw, label="dynsafe's own")
    axes.set_yticks(list(positions), names, fontsize=8)
    axes.set_xlabel("µs per operation, instant transport")
    axes.legend(fontsize=8)
    figure.tight_layout()
    RESULTS.mkdir(exist_ok=True)
    figure.savefig(RESULTS / "overhead.png", dpi=90)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str]) -> None:
    args = parse(argv)
    client, transport = instant_client()
    cases = [
        *versioned_cases(client),
        *counter_cases(client),
        *transaction_cases(client),
        *idempotency_cases(client, transport),
    ]
    bar = Progress("overhead", len(cases) * args.batches * 2)
    for case in cases:
        measure(case, transport, args, bar)
    rows = [row(case) for case in cases]
    text = report(rows, args)
    print(text)
    write_results("overhead", {"machine": machine(), "rows": rows}, text)
    plot(rows)


if __name__ == "__main__":
    main(sys.argv[1:])
