"""Shared pieces of the race tests: run workers together, count what they did."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

THINK = 0.0005
"""Seconds a handler spends between its read and its write, as real ones do."""


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``count`` threads that start together; return results."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def in_processes(
    count: int, work: Callable[..., T], args: Sequence[tuple[Any, ...]]
) -> list[T]:
    """Run ``work(*args[i])`` in ``count`` spawned processes; return results.

    ``work`` must be a module-level function; each process makes its own clients.
    """
    context = multiprocessing.get_context("spawn")
    with context.Pool(count) as pool:
        return pool.starmap(work, args)
