"""Atomic counters: one ``UpdateItem`` per add, bounds in its condition, exactly once.

This module is the public home of the counters; their code lives in private modules:

- :class:`AddRequest` is one add as data: the delta, the token, the bounds.
  ``Counter._request`` builds and validates it; ``Counter._send`` sends it and tells
  the caller what DynamoDB answered. Nothing is read before the write. The request,
  its exact arithmetic (``Number``) and its bounds condition live in
  ``_counter_requests``.
- ``_counter_tokens.Tokens`` keeps the recent tokens of one counter on its item,
  in two *generation* slots, so that an add resent after a lost response is
  recognised without a read, a ledger item or a transaction.
- :class:`Counter` is one number on one item (``_counter_writes``);
  :class:`ShardedCounter` spreads one number over up to 100 items, past DynamoDB's
  write limit for one partition (``_sharded``).

DynamoDB's ``ADD`` adds to the stored number inside the service, so two concurrent
adds never lose one another, as a read followed by a write of ``value + 1`` does.
"""

from __future__ import annotations

from dynsafe._counter_requests import AddRequest, Number
from dynsafe._counter_writes import Counter
from dynsafe._sharded import MAX_SHARDS, ShardedCounter

__all__ = ["MAX_SHARDS", "AddRequest", "Counter", "Number", "ShardedCounter"]
