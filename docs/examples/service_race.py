"""Race the service's endpoints over HTTP: dynsafe's lose nothing, the naive ones do.

Starts dynalite and the Flask app (``service.py``) on loopback, then fires
concurrent requests at the safe endpoints and at their naive twins under ``/naive``:

- withdrawals of 1 from one account holding less than all of them ask for;
- views of one page;
- one charge whose ``Idempotency-Key`` is sent by every worker at once, each
  retrying after a 409 as its ``Retry-After`` says.

It prints what each endpoint accepted, what the stored state should be and what it
is, and exits 0 when the safe endpoints lost no update and charged once.

    python docs/examples/service_race.py [--workers 16] [--requests 20]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask
from service import Tables, create_app
from werkzeug.serving import WSGIRequestHandler, make_server

from dynsafe import testing

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

USER = "user-17"
MAX_TRIES = 20
"""Attempts per request when the service answers 409 (nothing was written)."""


# -- a server and a client on loopback -------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing: thousands of requests would drown the report."""


@contextlib.contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1, one thread per request; yield its base URL."""
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    tries: int = 1


class Http:
    """A JSON client for one base URL; never uses a proxy, so it stays on loopback."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        data = None if body is None else json.dumps(body).encode()
        sent = {"Content-Type": "application/json", "X-User": USER, **(headers or {})}
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=sent, method=method
        )
        try:
            with self._opener.open(request, timeout=30) as response:
                return _reply(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as error:
            return _reply(error.code, error.read(), error.headers)

    def until_settled(self, method: str, path: str, **kwargs: Any) -> Reply:
        """Send again after a 409, at most MAX_TRIES times: a 409 wrote nothing."""
        for tries in range(1, MAX_TRIES + 1):
            reply = dataclasses.replace(self.call(method, path, **kwargs), tries=tries)
            if reply.status != 409:
                break
            wait = reply.headers.get("Retry-After")
            time.sleep(float(wait) if wait else random.uniform(0, 0.05))
        return reply


def _reply(status: int, raw: bytes, headers: Any) -> Reply:
    body = json.loads(raw) if raw else {}
    return Reply(status, body, dict(headers.items()))


# -- the races -------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """What one endpoint did under the race."""

    endpoint: str
    variant: str
    requests: int
    accepted: int
    retried: int
    expected: int
    final: int

    @property
    def wrong(self) -> int:
        """Updates lost (or charges doubled): how far the final state is off."""
        return abs(self.final - self.expected)


def _in_parallel(workers: int, job: Callable[[], list[Reply]]) -> list[Reply]:
    """Run ``job`` in ``workers`` threads started together; all their replies."""
    barrier = threading.Barrier(workers)

    def run() -> list[Reply]:
        barrier.wait()
        return job()

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(run) for _ in range(workers)]
        return [reply for future in futures for reply in future.result()]


def _row(
    endpoint: str, prefix: str, replies: list[Reply], expected: int, final: int
) -> Row:
    accepted = sum(200 <= reply.status < 300 for reply in replies)
    retried = sum(reply.tries > 1 for reply in replies)
    variant = "naive" if prefix else "dynsafe"
    return Row(endpoint, variant, len(replies), accepted, retried, expected, final)


def _fresh(name: str, prefix: str) -> str:
    return f"{name}-{prefix.strip('/') or 'safe'}-{random.getrandbits(32):08x}"


def race_withdrawals(http: Http, prefix: str, workers: int, each: int) -> Row:
    """``workers`` x ``each`` withdrawals of 1 from an account holding 3/4 of that."""
    account = _fresh("account", prefix)
    opening = workers * each * 3 // 4
    opened = http.call("POST", "/accounts", {"id": account, "balance": opening})
    if opened.status != 201:
        raise RuntimeError(f"could not open the account: {opened}")
    path = f"{prefix}/accounts/{account}/withdraw"

    def job() -> list[Reply]:
        return [
            http.until_settled("POST", path, body={"amount": 1}) for _ in range(each)
        ]

    replies = _in_parallel(workers, job)
    final = http.call("GET", f"/accounts/{account}").body["balance"]
    paid = sum(reply.status == 200 for reply in replies)
    return _row("withdraw", prefix, replies, opening - paid, final)


def race_views(http: Http, prefix: str, workers: int, each: int) -> Row:
    """``workers`` x ``each`` views of one fresh page."""
    page = _fresh("page", prefix)
    path = f"{prefix}/pages/{page}/views"

    def job() -> list[Reply]:
        return [http.until_settled("POST", path) for _ in range(each)]

    replies = _in_parallel(workers, job)
    final = http.call("GET", f"/pages/{page}/views").body["views"]
    counted = sum(reply.status == 200 for reply in replies)
    return _row("views", prefix, replies, counted, final)


def race_charge(
    http: Http, prefix: str, workers: int, client: DynamoDBClient, ledger: str
) -> tuple[Row, set[str]]:
    """One charge sent by ``workers`` at once under one key; the charge ids seen."""
    key = _fresh("charge", prefix)
    body = {"account": "a1", "amount": 25}
    sent = {"Idempotency-Key": key}

    def job() -> list[Reply]:
        path = f"{prefix}/charges"
        return [http.until_settled("POST", path, body=body, headers=sent)]

    replies = _in_parallel(workers, job)
    ids = {str(reply.body.get("id")) for reply in replies if reply.status == 201}
    charged = ledger_entries(client, ledger, key)
    return _row("charge, one key", prefix, replies, 1, charged), ids


def ledger_entries(client: DynamoDBClient, ledger: str, key: str) -> int:
    """How many ledger items (charges executed) carry the idempotency key."""
    pages = client.get_paginator("scan").paginate(
        TableName=ledger,
        FilterExpression="#key = :key",
        ExpressionAttributeNames={"#key": "idempotency_key"},
        ExpressionAttributeValues={":key": {"S": key}},
        ConsistentRead=True,
    )
    return sum(page["Count"] for page in pages)


@dataclass(frozen=True)
class Sizes:
    workers: int = 16
    requests: int = 20
    """Requests per worker, for withdrawals and views."""


def race(
    client: DynamoDBClient, base_url: str, tables: Tables, sizes: Sizes
) -> list[Row]:
    """Every race, on the safe endpoints and on the naive ones."""
    http = Http(base_url)
    rows = []
    for prefix in ("", "/naive"):
        rows.append(race_withdrawals(http, prefix, sizes.workers, sizes.requests))
        rows.append(race_views(http, prefix, sizes.workers, sizes.requests))
        rows.append(race_charge(http, prefix, sizes.workers, client, tables.ledger)[0])
    return rows


def run(endpoint_url: str, sizes: Sizes = Sizes()) -> list[Row]:
    """Create the tables on ``endpoint_url``, serve the app, race it."""
    client = testing.local_client(endpoint_url)
    suffix = f"{random.getrandbits(32):08x}"
    tables = Tables(
        *(f"{name}-{suffix}" for name in ("accounts", "pages", "idem", "ledger"))
    )
    tables.create(client)
    with serving(create_app(client, tables, naive=True)) as base_url:
        return race(client, base_url, tables, sizes)


# -- the report ------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    columns = ["endpoint", "variant", "requests", "accepted", "sent again after 409"]
    columns += ["expected", "final", "lost or doubled"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for r in rows:
        lines.append(
            f"| {r.endpoint} | {r.variant} | {r.requests} | {r.accepted} | {r.retried}"
            f" | {r.expected} | {r.final} | {r.wrong} |"
        )
    return "\n".join(lines)


def safe_held(rows: list[Row]) -> bool:
    """Whether every dynsafe endpoint lost nothing and charged once."""
    return all(row.wrong == 0 for row in rows if row.variant == "dynsafe")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=Sizes.workers)
    parser.add_argument("--requests", type=int, default=Sizes.requests)
    parser.add_argument("--endpoint-url", help="a DynamoDB-compatible server to use")
    args = parser.parse_args(argv)
    sizes = Sizes(args.workers, args.requests)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        url = args.endpoint_url or stack.enter_context(testing.Dynalite()).endpoint_url
        rows = run(url, sizes)
    print(table(rows))
    print(f"\n{time.perf_counter() - started:.1f} s")
    held = safe_held(rows)
    print(
        "ok: the dynsafe endpoints lost nothing and charged once" if held else "FAILED"
    )
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
