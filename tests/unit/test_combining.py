from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from dynsafe.combining import Combiner, Failed


def test_a_lone_caller_runs_its_own_batch_of_one() -> None:
    combiner: Combiner[int] = Combiner()
    batches: list[list[int]] = []

    def run(batch: Sequence[int]) -> list[int]:
        batches.append(list(batch))
        return [x * 10 for x in batch]

    assert combiner.submit("k", 4, run) == 40
    assert batches == [[4]]


def test_waiting_callers_are_combined_in_arrival_order_and_bounded() -> None:
    combiner: Combiner[int] = Combiner(max_batch=3)
    gate = threading.Event()
    leading = threading.Event()
    batches: list[list[int]] = []
    results: dict[int, int] = {}

    def run(batch: Sequence[int]) -> list[int]:
        if batch[0] == 0:
            leading.set()
            gate.wait(5)  # the first leader holds the lead while others queue
        batches.append(list(batch))
        return [x + 100 for x in batch]

    def call(x: int) -> None:
        results[x] = combiner.submit("k", x, run)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert leading.wait(5)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 8)]
    for index, thread in enumerate(others):
        thread.start()
        time.sleep(0.01 * (index == 0))
    time.sleep(0.1)
    gate.set()
    for thread in [first, *others]:
        thread.join(5)
    assert results == {i: i + 100 for i in range(8)}
    assert batches[0] == [0]
    assert all(len(batch) <= 3 for batch in batches)
    flat = [x for batch in batches for x in batch]
    assert sorted(flat) == list(range(8))


def test_failed_outcomes_are_raised_to_their_own_caller_only() -> None:
    combiner: Combiner[int] = Combiner()
    boom = ValueError("mine")

    def run(batch: Sequence[int]) -> list[object]:
        return [Failed(boom) if x == 1 else x for x in batch]

    with pytest.raises(ValueError, match="mine") as caught:
        combiner.submit("k", 1, run)
    assert caught.value is boom
    assert combiner.submit("k", 2, run) == 2


def test_an_error_of_the_batch_fails_every_caller_of_it() -> None:
    combiner: Combiner[int] = Combiner()

    def run(batch: Sequence[int]) -> list[int]:
        raise RuntimeError("write failed")

    with pytest.raises(RuntimeError, match="write failed"):
        combiner.submit("k", 1, run)


def test_keys_do_not_share_batches() -> None:
    combiner: Combiner[str] = Combiner()
    seen: list[list[str]] = []
    lock = threading.Lock()

    def run(batch: Sequence[str]) -> list[str]:
        with lock:
            seen.append(list(batch))
        time.sleep(0.01)
        return list(batch)

    threads = [
        threading.Thread(target=combiner.submit, args=(key, key, run))
        for key in ["a", "b", "a", "b"]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(set(batch)) == 1 for batch in seen)


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Combiner(max_batch=0)


def test_many_threads_all_return_under_sustained_load() -> None:
    combiner: Combiner[int] = Combiner(max_batch=4)
    done = []
    lock = threading.Lock()

    def run(batch: Sequence[int]) -> list[int]:
        time.sleep(0.001)
        return list(batch)

    def worker(w: int) -> None:
        for i in range(50):
            assert combiner.submit("hot", w * 1000 + i, run) == w * 1000 + i
        with lock:
            done.append(w)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(done) == list(range(12))
