"""The items a versioned table last stored or saw, for updates to start from.

With ``reuse_last_item=True`` an update starts from the item its table last stored or
saw for the key, instead of reading it first. A stale item costs one conflict, never
correctness: the write is still conditioned on the version it started from, and the
failed condition brings back the item that is stored.

:class:`LastItems` keeps those items for the keys written most recently, so a table
that writes many keys holds a bounded number of them. It knows items by their key's
identity, not tables: ``versioned`` decides when to use it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["REMEMBERED_KEYS", "LastItems"]

Item = dict[str, Any]

REMEMBERED_KEYS = 1024
"""How many keys' last items a table remembers when asked to reuse them."""


class LastItems:
    """The last item stored or seen per key, for the keys remembered most recently.

    Args:
        size: The most keys remembered; past it, the key remembered longest ago is
            forgotten first.

    Safe to share between threads; processes each keep their own.
    """

    def __init__(self, size: int = REMEMBERED_KEYS) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Item] = OrderedDict()
        # The threads sharing a table remember items at once, and moving a key to
        # the end then forgetting the oldest is several steps on the OrderedDict.
        self._lock = threading.Lock()

    def get(self, identity: Hashable) -> Item | None:
        """The item last remembered for the key ``identity``; ``None`` if none is."""
        with self._lock:
            return self._items.get(identity)

    def remember(self, identity: Hashable, item: Item | None) -> None:
        """Remember ``item`` for the key ``identity``; ``None`` forgets the key."""
        with self._lock:
            self._items.pop(identity, None)
            if item is not None:
                self._items[identity] = item
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
