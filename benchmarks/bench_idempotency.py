"""Requests and time per idempotent call: dynsafe against AWS Powertools.

Two idempotent functions do the same work (return ``{"charged": amount}`` for an
order) under ``dynsafe.idempotent`` and Powertools' ``idempotent_function`` with
payload validation on. Measured, for each:

- requests per call, by operation, on locked moto (in process): a first call, a
  replay, a call while another holds the key, a call whose function raises;
- time per call on locked moto, which is mostly moto itself;
- time per call on an instant transport (canned answers, no server), which is the
  library's own cost plus botocore's.

Not a test: it asserts nothing about time. Run from the repository root:

    .venv/bin/python benchmarks/bench_idempotency.py [--keys 200] [--instant 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from _common import machine, markdown_table, median, percentile, write_results

import dynsafe
from dynsafe import testing

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bench")

Call = Callable[[dict[str, Any]], Any]


class ChargeFailedError(Exception):
    pass


# -- the two libraries ----------------------------------------------------------------


def dynsafe_functions(client: Any, table: str, read_first: bool = False) -> Functions:
    store = dynsafe.IdempotencyStore(
        dynsafe.Table(client, table, key=("pk",)), read_first=read_first
    )
    decorate = dynsafe.idempotent(store, key=lambda order: order["order_id"])
    return _functions(decorate, dynsafe.IdempotencyInProgressError)


def powertools_functions(client: Any, table: str) -> Functions:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )

    layer = DynamoDBPersistenceLayer(table_name=table, boto3_client=client)
    config = IdempotencyConfig(
        event_key_jmespath="order_id",
        payload_validation_jmespath="amount",
        use_local_cache=False,
    )

    def wrap(fn: Callable[..., Any]) -> Call:
        decorated = idempotent_function(
            data_keyword_argument="order", persistence_store=layer, config=config
        )(fn)
        return lambda order: decorated(order=order)

    return _functions(wrap, IdempotencyAlreadyInProgressError)


@dataclass
class Functions:
    """The same three functions under one library."""

    charge: Call
    fail: Call
    hold: Call
    counter: testing.RequestCounter | None = None
    nested: dict[str, int] = field(default_factory=dict)


def _functions(
    wrap: Callable[[Callable[..., Any]], Call], in_progress: type[Exception]
) -> Functions:
    def charge(order: dict[str, Any]) -> dict[str, Any]:
        return {"charged": order["amount"]}

    def fail(order: dict[str, Any]) -> dict[str, Any]:
        raise ChargeFailedError(order["order_id"])

    def hold(order: dict[str, Any]) -> dict[str, Any]:
        # A second call on the key while this one holds it: count its requests.
        assert functions.counter is not None
        functions.counter.reset()
        try:
            functions.hold(order)
        except in_progress:
            functions.nested = dict(functions.counter.counts)
        return {"charged": order["amount"]}

    functions = Functions(wrap(charge), wrap(fail), wrap(hold))
    return functions


# -- measuring ------------------------------------------------------------------------


@dataclass
class Measured:
    """Requests and times of one scenario."""

    requests: list[dict[str, int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        calls = max(len(self.requests), 1)
        by_operation: dict[str, float] = {}
        for counts in self.requests:
            for operation, count in counts.items():
                by_operation[operation] = by_operation.get(operation, 0) + count
        return {
            "calls": len(self.requests) or len(self.seconds),
            "requests_per_call": sum(by_operation.values()) / calls,
            "by_operation": {op: n / calls for op, n in sorted(by_operation.items())},
            "median_us": median(self.seconds) * 1e6,
            "p95_us": percentile(self.seconds, 0.95) * 1e6,
        }


def timed(
    counter: testing.RequestCounter, fn: Callable[[], Any], into: Measured
) -> None:
    counter.reset()
    start = time.perf_counter()
    with contextlib.suppress(ChargeFailedError):
        fn()
    into.seconds.append(time.perf_counter() - start)
    into.requests.append(dict(counter.counts))


class MotoRig:
    """One library on its own table of locked moto, measured a round at a time."""

    def __init__(self, make: Callable[[Any, str], Functions], key_attr: str) -> None:
        client = testing.local_client()
        table = f"bench-{key_attr}-{time.monotonic_ns()}"
        testing.create_table(client, table, (key_attr,))
        self.functions = make(client, table)
        self.counter = self.functions.counter = testing.RequestCounter(client)
        self.scenarios = {name: Measured() for name in ("first", "replay", "raises")}
        self.keys = 0

    def round(self, keys: int) -> None:
        measured, charge = self.scenarios, self.functions.charge
        for n in range(self.keys, self.keys + keys):
            order = {"order_id": f"o-{n}", "amount": n}
            timed(self.counter, functools.partial(charge, order), measured["first"])
            timed(self.counter, functools.partial(charge, order), measured["replay"])
            failing = {"order_id": f"f-{n}", "amount": n}
            fail = functools.partial(self.functions.fail, failing)
            timed(self.counter, fail, measured["raises"])
        self.keys += keys

    def summary(self) -> dict[str, Any]:
        self.functions.hold({"order_id": "held", "amount": 1})
        return {
            "first call": self.scenarios["first"].summary(),
            "replay": self.scenarios["replay"].summary(),
            "function raises": self.scenarios["raises"].summary(),
            "while in progress": Measured(requests=[self.functions.nested]).summary(),
        }


# -- an instant transport -------------------------------------------------------------


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class Canned:
    """Answers each request at once, by operation, without a server."""

    def __init__(self, client: Any) -> None:
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        client.meta.events.register_first("before-send.dynamodb", self._answer)

    def _answer(self, request: Any, event_name: str, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.compat import HTTPHeaders

        status, body = self.answers[event_name.rsplit(".", 1)[-1]]
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(
            request.url, status, headers, _Body(json.dumps(body).encode())
        )


_ERRORS = "com.amazonaws.dynamodb.v20120810"


def _refused(item: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return (
        400,
        {
            "__type": f"{_ERRORS}#ConditionalCheckFailedException",
            "message": "The conditional request failed",
            "Item": item,
        },
    )


def stored_record(
    make: Callable[[Any, str], Functions], key_attr: str
) -> dict[str, Any]:
    """The raw record each library stores for one completed call, from moto."""
    client = testing.local_client()
    table = f"record-{key_attr}-{time.monotonic_ns()}"
    testing.create_table(client, table, (key_attr,))
    make(client, table).charge({"order_id": "o-0", "amount": 0})
    (item,) = client.scan(TableName=table)["Items"]
    return dict(item)


class InstantRig:
    """One library on a client whose requests are answered at once."""

    def __init__(
        self, make: Callable[[Any, str], Functions], record: dict[str, Any]
    ) -> None:
        client = testing.local_client()
        self.canned = Canned(client)
        self.counter = testing.RequestCounter(client)
        self.functions = make(client, "canned")
        self.record = record
        self.first, self.replay = Measured(), Measured()

    def round(self, calls: int) -> None:
        absent: dict[str, tuple[int, dict[str, Any]]] = {
            "GetItem": (200, {}),
            "PutItem": (200, {}),
            "UpdateItem": (200, {}),
        }
        self.canned.answers = absent
        for n in range(calls):
            order = {"order_id": f"o-{n}", "amount": n}
            timed(
                self.counter,
                functools.partial(self.functions.charge, order),
                self.first,
            )
        self.canned.answers = {
            "GetItem": (200, {"Item": self.record}),
            "PutItem": _refused(self.record),
        }
        order = {"order_id": "o-0", "amount": 0}
        for _ in range(calls):
            timed(
                self.counter,
                functools.partial(self.functions.charge, order),
                self.replay,
            )

    def summary(self) -> dict[str, Any]:
        return {"first call": self.first.summary(), "replay": self.replay.summary()}


# -- the report -----------------------------------------------------------------------

LIBRARIES = {
    "dynsafe": (lambda client, table: dynsafe_functions(client, table), "pk"),
    "dynsafe read_first": (
        lambda client, table: dynsafe_functions(client, table, read_first=True),
        "pk",
    ),
    "Powertools": (powertools_functions, "id"),
}


def report(results: dict[str, Any]) -> str:
    lines = ["# Idempotency: dynsafe and AWS Powertools", ""]
    lines.append(
        f"Requests per call on locked moto (mean of {results['keys']} keys), by"
        " operation; the ratio is Powertools / dynsafe."
    )
    rows = []
    for scenario in ("first call", "replay", "while in progress", "function raises"):
        ours = results["moto"]["dynsafe"][scenario]
        theirs = results["moto"]["Powertools"][scenario]
        read_first = results["moto"]["dynsafe read_first"][scenario]
        rows.append(
            [
                scenario,
                _ops(ours),
                _ops(read_first),
                _ops(theirs),
                _ratio(theirs["requests_per_call"], ours["requests_per_call"]),
            ]
        )
    lines += [
        "",
        markdown_table(
            ["scenario", "dynsafe", "dynsafe read_first", "Powertools", "ratio"], rows
        ),
    ]
    lines += [
        "",
        "Time per call, median / p95 in microseconds, libraries taking turns in"
        f" {results['rounds']} rounds; the ratio is Powertools / dynsafe (above 1:"
        " dynsafe is faster). On moto the time is mostly moto's; on the instant"
        " transport (canned answers) it is the library's and botocore's.",
        "",
    ]
    rows = []
    for transport in ("moto", "instant"):
        for scenario in ("first call", "replay"):
            ours = results[transport]["dynsafe"][scenario]
            theirs = results[transport]["Powertools"][scenario]
            rows.append(
                [
                    transport,
                    scenario,
                    f"{ours['median_us']:.0f} / {ours['p95_us']:.0f}",
                    f"{theirs['median_us']:.0f} / {theirs['p95_us']:.0f}",
                    _ratio(theirs["median_us"], ours["median_us"]),
                ]
            )
    lines.append(
        markdown_table(
            ["transport", "scenario", "dynsafe", "Powertools", "ratio"], rows
        )
    )
    lines += ["", f"Machine: {json.dumps(results['machine'])}"]
    return "\n".join(lines)


def _ops(summary: dict[str, Any]) -> str:
    parts = ", ".join(f"{op} {n:g}" for op, n in summary["by_operation"].items())
    return f"{summary['requests_per_call']:g} ({parts})"


def _ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.2f}x" if ours else "-"


ROUNDS = 5
"""Rounds in which the libraries take turns, so a busy machine slows each alike."""


def interleave(rigs: dict[str, Any], per_round: int) -> None:
    for _ in range(ROUNDS):
        for rig in rigs.values():
            rig.round(per_round)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--instant", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "keys": args.keys,
        "instant_calls": args.instant,
        "rounds": ROUNDS,
    }
    with testing.locked_moto():
        moto = {name: MotoRig(*spec) for name, spec in LIBRARIES.items()}
        interleave(moto, args.keys // ROUNDS)
        results["moto"] = {name: rig.summary() for name, rig in moto.items()}
        records = {name: stored_record(*spec) for name, spec in LIBRARIES.items()}
    rigs = {name: InstantRig(LIBRARIES[name][0], records[name]) for name in LIBRARIES}
    interleave(rigs, args.instant // ROUNDS)
    results["instant"] = {name: rig.summary() for name, rig in rigs.items()}
    markdown = report(results)
    print(markdown)
    write_results("idempotency", results, markdown)


if __name__ == "__main__":
    main()
