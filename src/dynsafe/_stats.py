"""Per-key figures of contention: attempts, conflicts, combined batches.

Primitives record into a :class:`ContentionStats`; callers read it for metrics, and
the adaptive backoff reads each key's recent conflict rate from it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace

__all__ = ["ContentionStats", "KeyStats"]

_SMOOTHING = 0.2
"""Weight of the newest attempt in a key's conflict rate (an exponential average)."""


@dataclass(frozen=True)
class KeyStats:
    """What writes to one key met.

    Attributes:
        attempts: Conditional writes sent.
        conflicts: Writes that lost to another writer.
        batches: Writes that carried combined work (one per batch).
        combined: Pieces of work those batches carried in all.
        largest_batch: The most pieces one batch carried.
        conflict_rate: Recent share of attempts that conflicted (0 to 1).
    """

    attempts: int = 0
    conflicts: int = 0
    batches: int = 0
    combined: int = 0
    largest_batch: int = 0
    conflict_rate: float = 0.0

    @property
    def mean_batch(self) -> float:
        """Pieces of work per batch, on average."""
        return self.combined / self.batches if self.batches else 0.0


class ContentionStats:
    """Figures per key for one table, kept for the most recently used keys.

    Safe to share between threads.

    Args:
        max_keys: How many keys to keep figures for; the least recently written go.
    """

    def __init__(self, max_keys: int = 1024) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[Hashable, KeyStats] = OrderedDict()
        self._max_keys = max_keys
        self._totals = KeyStats()

    def _change(self, key: Hashable, **delta: int) -> None:
        with self._lock:
            current = self._keys.pop(key, KeyStats())
            self._keys[key] = _add(current, delta)
            self._totals = _add(self._totals, delta)
            while len(self._keys) > self._max_keys:
                self._keys.popitem(last=False)

    def attempt(self, key: Hashable, conflicted: bool) -> None:
        """Record one conditional write and whether it lost a race."""
        self._change(key, attempts=1, conflicts=int(conflicted))

    def batch(self, key: Hashable, size: int) -> None:
        """Record one batch of ``size`` combined pieces of work."""
        self._change(key, batches=1, combined=size, largest_batch=size)

    def for_key(self, key: Hashable) -> KeyStats:
        """The figures of one key (zeros if none are kept)."""
        with self._lock:
            return self._keys.get(key, KeyStats())

    def totals(self) -> KeyStats:
        """The figures of all keys together since the table was made."""
        with self._lock:
            return self._totals


def _add(stats: KeyStats, delta: dict[str, int]) -> KeyStats:
    attempts = delta.get("attempts", 0)
    rate = stats.conflict_rate
    if attempts:
        rate = (1 - _SMOOTHING) * rate + _SMOOTHING * delta.get("conflicts", 0)
    return replace(
        stats,
        attempts=stats.attempts + attempts,
        conflicts=stats.conflicts + delta.get("conflicts", 0),
        batches=stats.batches + delta.get("batches", 0),
        combined=stats.combined + delta.get("combined", 0),
        largest_batch=max(stats.largest_batch, delta.get("largest_batch", 0)),
        conflict_rate=rate,
    )
