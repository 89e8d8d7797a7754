"""Write combining under real concurrency: every caller's own result, none lost."""

from __future__ import annotations

import threading
from typing import Any

import dynsafe
from dynsafe import testing

from ..conftest import Backend
from .race import in_processes, in_threads

PATIENT = dynsafe.RetryPolicy(attempts=500, deadline=None, max_delay=0.05)
THREADS = 16
PER_THREAD = 10


class RefusedError(Exception):
    pass


def add_one(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "n": item["n"] + 1}


def combined(endpoint_url: str | None, name: str) -> dynsafe.VersionedTable:
    table = dynsafe.Table(testing.local_client(endpoint_url), name, key=("pk",))
    return dynsafe.VersionedTable(table, policy=PATIENT)


def fresh_item(backend: Backend) -> str:
    name = backend.table()
    combined(backend.endpoint_url, name).create({"pk": "hot", "n": 0})
    return name


def increments(accounts: dynsafe.VersionedTable, count: int) -> list[int]:
    return [accounts.update({"pk": "hot"}, add_one)["n"] for _ in range(count)]


def process_increments(
    endpoint_url: str, name: str, threads: int, count: int
) -> list[int]:
    """One process, one shared table, ``threads`` threads: the values they got."""
    accounts = combined(endpoint_url, name)
    results = in_threads(threads, lambda _: increments(accounts, count))
    return [value for result in results for value in result]


def final(backend: Backend, name: str) -> int:
    item = combined(backend.endpoint_url, name).get({"pk": "hot"})
    assert item is not None
    return int(item["n"])


def test_threads_each_get_a_distinct_value_and_together_one_to_n(
    atomic: Backend,
) -> None:
    name = fresh_item(atomic)
    accounts = combined(atomic.endpoint_url, name)
    values = [
        v
        for r in in_threads(THREADS, lambda _: increments(accounts, PER_THREAD))
        for v in r
    ]
    total = THREADS * PER_THREAD
    assert sorted(values) == list(range(1, total + 1))
    assert final(atomic, name) == total
    stats = accounts.stats.totals()
    assert stats.batches > 0, "threads on one key should have combined"
    assert stats.attempts < total


def test_a_mutation_that_raises_leaves_the_others_applied(atomic: Backend) -> None:
    name = fresh_item(atomic)
    accounts = combined(atomic.endpoint_url, name)
    refused = []
    lock = threading.Lock()

    def work(index: int) -> int:
        if index % 4 == 0:

            def refuse(item: dict[str, Any]) -> dict[str, Any]:
                raise RefusedError(index)

            try:
                accounts.update({"pk": "hot"}, refuse)
            except RefusedError as error:
                with lock:
                    refused.append(error.args[0])
            return 0
        return int(accounts.update({"pk": "hot"}, add_one)["n"])

    values = in_threads(THREADS, work)
    applied = sorted(v for v in values if v)
    assert sorted(refused) == [i for i in range(THREADS) if i % 4 == 0]
    assert applied == list(range(1, len(applied) + 1))
    assert final(atomic, name) == len(applied) == THREADS - len(refused)


def test_processes_combining_within_each_lose_nothing(atomic_server: Backend) -> None:
    backend = atomic_server
    name = fresh_item(backend)
    args = [(backend.endpoint_url, name, 4, 8)] * 4
    values = [v for r in in_processes(4, process_increments, args) for v in r]
    assert sorted(values) == list(range(1, 4 * 4 * 8 + 1))
    assert final(backend, name) == 4 * 4 * 8


# -- counters ---------------------------------------------------------------------


def test_counter_adds_combine_across_counter_objects_each_get_its_own_value(
    atomic: Backend,
) -> None:
    client = atomic.client()
    table = dynsafe.Table(client, atomic.table(), key=("pk",))
    counter = testing.RequestCounter(client)

    def work(_: int) -> list[int]:
        # A new Counter per call, as a request handler would make one.
        return [
            int(dynsafe.Counter(table, {"pk": "views"}, "n").add(1))
            for _ in range(PER_THREAD)
        ]

    values = [v for r in in_threads(THREADS, work) for v in r]
    total = THREADS * PER_THREAD
    assert sorted(values) == list(range(1, total + 1))
    assert dynsafe.Counter(table, {"pk": "views"}, "n").value() == total
    assert counter.counts["UpdateItem"] < total, "adds should have shared writes"


def test_combined_decrements_keep_the_floor_exact_per_call(atomic: Backend) -> None:
    table = dynsafe.Table(atomic.client(), atomic.table(), key=("pk",))
    stock = 40
    dynsafe.Counter(table, {"pk": "sku"}, "stock").add(stock)
    left: list[int] = []
    lock = threading.Lock()

    def buy(_: int) -> int:
        bought = 0
        for _ in range(6):
            try:
                value = dynsafe.Counter(table, {"pk": "sku"}, "stock").add(-1, floor=0)
            except dynsafe.BoundExceededError:
                continue
            bought += 1
            with lock:
                left.append(int(value))
        return bought

    bought = in_threads(THREADS, buy)
    assert sum(bought) == stock  # 16 x 6 = 96 tries for 40 units
    assert sorted(left) == list(range(stock))
    assert dynsafe.Counter(table, {"pk": "sku"}, "stock").value() == 0


def test_updates_combine_across_table_objects_of_one_client(atomic: Backend) -> None:
    client = atomic.client()
    name = fresh_item(atomic)
    counter = testing.RequestCounter(client)

    def work(_: int) -> list[int]:
        results = []
        for _ in range(PER_THREAD):
            # A new VersionedTable per call, as a request handler would make one.
            accounts = dynsafe.VersionedTable(
                dynsafe.Table(client, name, key=("pk",)), policy=PATIENT
            )
            results.append(int(accounts.update({"pk": "hot"}, add_one)["n"]))
        return results

    values = [v for r in in_threads(THREADS, work) for v in r]
    total = THREADS * PER_THREAD
    assert sorted(values) == list(range(1, total + 1))
    assert final(atomic, name) == total
    assert counter.counts["PutItem"] < total, "updates should have shared writes"
