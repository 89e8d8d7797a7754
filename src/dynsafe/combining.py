"""Write combining: one queue of pending work per key inside a process.

When several threads write the same item, sending one conditional write each makes
them collide: all but one fail their condition and try again. Combining makes the
first caller the *leader*: it takes the queued work of the others, hands the batch to
a function the primitive gave (which applies it in order and writes once), and gives
each caller its own result or exception. Callers queued meanwhile form the next
batch, led by the first of them, so a leader never serves forever and no caller
starves: work is taken in arrival order, at most ``max_batch`` at a time.

This module knows nothing of versions or counters; it only batches and hands out
results. It is safe across threads; processes combine separately.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Combiner", "Failed"]

W = TypeVar("W")
R = TypeVar("R")


@dataclass(frozen=True)
class Failed:
    """The outcome of one piece of work that raised: the caller re-raises it."""

    error: BaseException


@dataclass(eq=False)
class _Slot(Generic[W]):
    work: W
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Any = None
    lead: bool = False


@dataclass
class _Queue(Generic[W]):
    pending: deque[_Slot[W]] = field(default_factory=deque)
    leading: bool = False


Batch = Callable[[Sequence[W]], Sequence[Any]]
"""Runs a batch in order and returns one outcome per piece: a result or ``Failed``."""


class Combiner(Generic[W]):
    """Batches work on the same key from concurrent threads.

    Args:
        max_batch: The most pieces of work one batch takes.

    Raises:
        ValueError: ``max_batch`` is below 1.
    """

    def __init__(self, max_batch: int = 32) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queues: dict[Hashable, _Queue[W]] = {}

    def submit(self, key: Hashable, work: W, run: Batch[W]) -> Any:
        """Queue ``work`` under ``key``; return its result or raise its exception.

        The calling thread may run batches of other callers' work with ``run``.
        Exceptions of ``run`` itself fail every piece of its batch.
        """
        slot = _Slot(work)
        with self._lock:
            queue = self._queues.setdefault(key, _Queue())
            queue.pending.append(slot)
            lead = not queue.leading
            queue.leading = True
        if not lead:
            slot.done.wait()
            if not slot.lead:
                return _unwrap(slot.outcome)
        self._lead(key, slot, run)
        return _unwrap(slot.outcome)

    def _lead(self, key: Hashable, own: _Slot[W], run: Batch[W]) -> None:
        # The leader's own work is first in the queue, so one batch serves it;
        # then the lead passes to the oldest waiting caller, and no leader serves
        # others forever.
        own.lead = False
        own.done.clear()
        self._run(self._take(key), run)
        self._hand_over(key)

    def _take(self, key: Hashable) -> list[_Slot[W]]:
        with self._lock:
            pending = self._queues[key].pending
            return [pending.popleft() for _ in range(min(self.max_batch, len(pending)))]

    @staticmethod
    def _run(batch: list[_Slot[W]], run: Batch[W]) -> None:
        try:
            outcomes = list(run([slot.work for slot in batch]))
        except BaseException as error:  # handed to every caller of the batch
            outcomes = [Failed(error)] * len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.outcome = outcome
            slot.done.set()

    def _hand_over(self, key: Hashable) -> None:
        with self._lock:
            queue = self._queues[key]
            if not queue.pending:
                queue.leading = False
                del self._queues[key]
                return
            successor = queue.pending[0]
        successor.lead = True
        successor.done.set()


def _unwrap(outcome: Any) -> Any:
    if isinstance(outcome, Failed):
        raise outcome.error
    return outcome
