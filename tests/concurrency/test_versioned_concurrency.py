"""Many writers on one item: dynsafe loses nothing, the naive loop loses updates.

Runs on atomic backends only (locked moto, dynalite): plain moto would lose updates
that DynamoDB never would.
"""

from __future__ import annotations

import time
from typing import Any

import dynsafe
from dynsafe import testing

from ..conftest import Backend
from .race import THINK, in_processes, in_threads

PATIENT = dynsafe.RetryPolicy(attempts=200, deadline=None, max_delay=0.05)
THREADS = 8
PROCESSES = 4
PER_WORKER = 20


def add_one(item: dict[str, Any]) -> dict[str, Any]:
    time.sleep(THINK)
    return {**item, "n": item["n"] + 1}


def uncombined(endpoint_url: str | None, name: str) -> dynsafe.VersionedTable:
    table = dynsafe.Table(testing.local_client(endpoint_url), name, key=("pk",))
    return dynsafe.VersionedTable(table, policy=PATIENT, combine=False)


def safe_updates(
    endpoint_url: str | None,
    name: str,
    count: int,
    accounts: dynsafe.VersionedTable | None = None,
) -> list[int]:
    """Increment through dynsafe, one write per update; return stored versions."""
    accounts = accounts or uncombined(endpoint_url, name)
    return [accounts.update({"pk": "hot"}, add_one)["version"] for _ in range(count)]


def naive_updates(endpoint_url: str | None, name: str, count: int) -> int:
    """Increment with get then put, no condition: the code dynsafe replaces."""
    client = testing.local_client(endpoint_url)
    for _ in range(count):
        item = client.get_item(
            TableName=name, Key={"pk": {"S": "hot"}}, ConsistentRead=True
        )
        value = int(item["Item"]["n"]["N"])
        time.sleep(THINK)
        new = {"pk": {"S": "hot"}, "n": {"N": str(value + 1)}}
        client.put_item(TableName=name, Item=new)  # dynsafe: ignore[DS101]
    return count


def final_value(backend: Backend, name: str) -> int:
    item = dynsafe.Table(backend.client(), name, key=("pk",)).get({"pk": "hot"})
    assert item is not None
    return int(item["n"])


def fresh_item(backend: Backend) -> str:
    name = backend.table()
    dynsafe.VersionedTable(dynsafe.Table(backend.client(), name, key=("pk",))).create(
        {"pk": "hot", "n": 0}
    )
    return name


def assert_nothing_lost(backend: Backend, name: str, versions: list[int]) -> None:
    successes = len(versions)
    assert final_value(backend, name) == successes
    # Each success stored the version after the one it read: all distinct.
    assert sorted(versions) == list(range(2, successes + 2))


def test_threads_lose_no_update_and_the_naive_loop_does(atomic: Backend) -> None:
    name = fresh_item(atomic)
    shared = uncombined(atomic.endpoint_url, name)
    results = in_threads(
        THREADS, lambda _: safe_updates(atomic.endpoint_url, name, PER_WORKER, shared)
    )
    versions = [v for result in results for v in result]
    assert len(versions) == THREADS * PER_WORKER
    assert_nothing_lost(atomic, name, versions)

    naive = fresh_item(atomic)
    done = in_threads(
        THREADS, lambda _: naive_updates(atomic.endpoint_url, naive, PER_WORKER)
    )
    assert final_value(atomic, naive) < sum(done), "the naive loop should lose updates"


def test_processes_lose_no_update_and_the_naive_loop_does(
    atomic_server: Backend,
) -> None:
    backend = atomic_server
    name = fresh_item(backend)
    args = [(backend.endpoint_url, name, PER_WORKER)] * PROCESSES
    versions = [
        v for result in in_processes(PROCESSES, safe_updates, args) for v in result
    ]
    assert len(versions) == PROCESSES * PER_WORKER
    assert_nothing_lost(backend, name, versions)

    naive = fresh_item(backend)
    args = [(backend.endpoint_url, naive, PER_WORKER)] * PROCESSES
    done = in_processes(PROCESSES, naive_updates, args)
    assert final_value(backend, naive) < sum(done), "the naive loop should lose updates"
