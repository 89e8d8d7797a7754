"""Many writers on one counter: dynsafe counts every add once; get + put does not.

Runs on atomic backends only (locked moto, dynalite): plain moto loses ``ADD``
increments that DynamoDB never would. Each test runs the unsafe variant in the same
run and asserts that it does break the invariant, so that the test can fail.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import dynsafe
from dynsafe import testing
from dynsafe._table import Table

from ..conftest import Backend

THREADS = 8
PROCESSES = 4
PER_WORKER = 25
STOCK = 40
PATIENT = dynsafe.RetryPolicy(attempts=50, deadline=None, max_delay=0.05)


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together by one barrier."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait(timeout=60)
        try:
            results[index] = work(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def table_of(endpoint_url: str | None, name: str) -> Table:
    return Table(testing.local_client(endpoint_url), name, key=("pk",))


def stored(table: Table, pk: str) -> int:
    value = dynsafe.Counter(table, {"pk": pk}, "n").value()
    assert isinstance(value, int)
    return value


# -- the unsafe variants: what dynsafe replaces ----------------------------------------


def unsafe_add(table: Table, pk: str, delta: int) -> int:
    """Read the value, then put value + delta with no condition."""
    value = stored(table, pk)
    time.sleep(0)  # let another thread run between the read and the write
    table.put({"pk": pk, "n": value + delta})
    return value + delta


def unsafe_take(table: Table, pk: str) -> bool:
    """Read the stock and, if some is left, put one less with no condition."""
    value = stored(table, pk)
    if value <= 0:
        return False
    time.sleep(0)
    table.put({"pk": pk, "n": value - 1})
    return True


def take_all(take: Callable[[], bool]) -> int:
    """Take one unit at a time until none is left; return how many were taken.

    Stops at four times the stock, so that a floor that does not hold fails the
    test instead of looping forever.
    """
    taken = 0
    while taken < 4 * STOCK and take():
        taken += 1
    return taken


def safe_take(counter: dynsafe.Counter, seen: list[int]) -> bool:
    try:
        seen.append(int(counter.add(-1, floor=0)))
    except dynsafe.BoundExceededError:
        return False
    return True


# -- threads ---------------------------------------------------------------------------


def test_threads_adds_give_exactly_the_sum_and_get_then_put_loses(
    atomic: Backend,
) -> None:
    table = Table(atomic.client(), atomic.table(), key=("pk",))
    views = dynsafe.Counter(table, {"pk": "views"}, "n", policy=PATIENT)

    returned = in_threads(THREADS, lambda _: [views.add(1) for _ in range(PER_WORKER)])
    total = THREADS * PER_WORKER
    assert views.value() == total
    # Each add saw its own new value: all distinct, from 1 to the total.
    assert sorted(v for values in returned for v in values) == list(range(1, total + 1))

    in_threads(
        THREADS, lambda _: [unsafe_add(table, "naive", 1) for _ in range(PER_WORKER)]
    )
    assert stored(table, "naive") < total, "get + put should lose increments"


def test_threads_stock_never_goes_below_the_floor_and_get_then_put_oversells(
    atomic: Backend,
) -> None:
    table = Table(atomic.client(), atomic.table(), key=("pk",))
    stock = dynsafe.Counter(table, {"pk": "sku#9"}, "n", policy=PATIENT)
    stock.add(STOCK)
    seen: list[int] = []

    taken = in_threads(THREADS, lambda _: take_all(lambda: safe_take(stock, seen)))
    assert sum(taken) == STOCK
    assert stock.value() == 0
    assert min(seen) == 0
    assert sorted(seen) == list(range(STOCK))

    table.put({"pk": "naive", "n": STOCK})
    oversold = in_threads(
        THREADS, lambda _: take_all(lambda: unsafe_take(table, "naive"))
    )
    assert sum(oversold) > STOCK, "get + put should sell more than the stock"


def test_threads_lost_responses_count_once_with_tokens_and_twice_without(
    atomic: Backend,
) -> None:
    client = atomic.client()
    table = Table(client, atomic.table(), key=("pk",))
    views = dynsafe.Counter(table, {"pk": "views"}, "n", policy=PATIENT)
    faults = testing.Faults(client)
    lost = 20
    faults.lose_response("UpdateItem", times=lost)

    def tokened(worker: int) -> None:
        for index in range(PER_WORKER):
            views.add(1, token=f"w{worker}-{index}")

    in_threads(THREADS, tokened)
    assert faults.fired["UpdateItem"] == lost
    assert views.value() == THREADS * PER_WORKER

    # One request per add, so that each lost response is one add counted twice.
    naive = dynsafe.Counter(table, {"pk": "naive"}, "n", policy=PATIENT, combine=False)
    faults.lose_response("UpdateItem", times=lost)

    def retry_blindly(_: int) -> None:
        for _ in range(PER_WORKER):
            while True:  # what a caller without a token would do
                try:
                    naive.add(1)
                    break
                except dynsafe.OutcomeUnknownError:
                    continue

    in_threads(THREADS, retry_blindly)
    assert naive.value() == THREADS * PER_WORKER + lost, "each lost add counts twice"


def test_threads_sharded_adds_give_exactly_the_sum(atomic: Backend) -> None:
    table = Table(atomic.client(), atomic.table(), key=("pk",))
    hot = dynsafe.ShardedCounter(table, {"pk": "likes"}, "n", shards=8, policy=PATIENT)

    def adds(_: int) -> None:
        for _ in range(PER_WORKER):
            hot.add(1)

    in_threads(THREADS, adds)
    assert hot.value() == THREADS * PER_WORKER


# -- processes -------------------------------------------------------------------------


def race_in_process(endpoint_url: str, name: str, barrier: Any, results: Any) -> None:
    """Four phases, each started together: safe adds, get + put adds, safe takes,
    get + put takes. Puts ``(phase, count)`` for each phase."""
    table = table_of(endpoint_url, name)
    views = dynsafe.Counter(table, {"pk": "views"}, "n", policy=PATIENT)
    stock = dynsafe.Counter(table, {"pk": "sku#9"}, "n", policy=PATIENT)
    seen: list[int] = []
    phases: list[tuple[str, Callable[[], int]]] = [
        ("add", lambda: len([views.add(1) for _ in range(PER_WORKER)])),
        (
            "naive add",
            lambda: len([unsafe_add(table, "naive", 1) for _ in range(PER_WORKER)]),
        ),
        ("take", lambda: take_all(lambda: safe_take(stock, seen))),
        ("naive take", lambda: take_all(lambda: unsafe_take(table, "naive stock"))),
    ]
    for phase, work in phases:
        barrier.wait(timeout=60)
        results.put((phase, work()))


def in_processes(backend: Backend, name: str) -> dict[str, int]:
    """Run the phases in spawned processes; return each phase's total count."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    args = (backend.endpoint_url, name, barrier, results)
    processes = [
        context.Process(target=race_in_process, args=args) for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    totals: dict[str, int] = {}
    deadline = time.monotonic() + 120
    for _ in range(4 * PROCESSES):
        phase, count = collect(results, processes, deadline)
        totals[phase] = totals.get(phase, 0) + count
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return totals


def collect(results: Any, processes: list[Any], deadline: float) -> tuple[str, int]:
    while True:
        try:
            outcome: tuple[str, int] = results.get(timeout=0.5)
            return outcome
        except queue.Empty:
            failed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            assert not failed, f"a worker process failed: exit codes {failed}"
            assert time.monotonic() < deadline, "the worker processes timed out"


def test_processes_count_every_add_and_keep_the_floor_and_get_then_put_does_not(
    atomic_server: Backend,
) -> None:
    name = atomic_server.table()
    table = table_of(atomic_server.endpoint_url, name)
    dynsafe.Counter(table, {"pk": "sku#9"}, "n").add(STOCK)
    table.put({"pk": "naive", "n": 0})
    table.put({"pk": "naive stock", "n": STOCK})

    totals = in_processes(atomic_server, name)

    assert stored(table, "views") == totals["add"] == PROCESSES * PER_WORKER
    assert totals["take"] == STOCK
    assert stored(table, "sku#9") == 0
    assert stored(table, "naive") < totals["naive add"], "get + put should lose adds"
    assert totals["naive take"] > STOCK, "get + put should sell more than the stock"
