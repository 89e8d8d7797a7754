"""The recent tokens of one counter, kept on its item in two generation slots.

An add with a token must be counted once however often it is sent, without a read
before the write and without a ledger item (a transaction costs twice the write
units, cannot return the new value, and dynalite has none). So the add's own
``UpdateItem`` stores a digest of the token on the item, on the condition that it
is not there yet. The hard part is to bound what the item keeps, without a read:

- time is cut into *generations* of ``window`` seconds of the wall clock;
- the item keeps the generation of its newest tokens in a *label* attribute, and the
  tokens of generation ``e`` in slot ``e % 2``;
- an add in generation ``g`` that finds the label at ``g`` adds its token to slot
  ``g % 2``; at ``g - 1`` it overwrites slot ``g % 2`` (it held ``g - 2``); older
  than that, it also removes the other slot. Each case is conditioned on the
  label it expects, and every case on the token being in neither slot.

So a token is only dropped by an add two generations after its own: it stays more
than ``window`` seconds (less the clock skew between writers) and less than twice
that, and the item holds the tokens of at most two generations. A writer whose
guess of the label was wrong fails its condition, learns the label from the item,
and sends again: one more request per writer per generation.

An earlier idea, one attribute per generation with a ``REMOVE`` of old ones, leaks:
an add only knows the names of the generations it removes, and an item written
once every few windows would keep every attribute it ever had.

This module knows tokens and conditions, not tables: ``counter`` sends the requests.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import ConditionBase, Not

from dynsafe._expressions import Update, literal
from dynsafe.errors import ValidationError

__all__ = ["DIGEST_BYTES", "Tokens", "check_token", "check_window", "digest"]

DIGEST_BYTES = 12
"""Bytes stored per token, whatever the token's length."""


def check_token(token: Any) -> str | None:
    """Return ``token`` if it is ``None`` or a non-empty string.

    Raises:
        ValidationError: it is not.
    """
    if token is None:
        return None
    if not isinstance(token, str) or not token:
        raise ValidationError(f"a token is a non-empty string, not {token!r}")
    return token


def check_window(window: Any) -> float:
    """Return ``window`` in seconds if it is a positive finite number.

    Raises:
        ValidationError: it is not.
    """
    if isinstance(window, bool) or not isinstance(window, (int, float)):
        raise ValidationError(f"token_window is a number of seconds, not {window!r}")
    if not math.isfinite(window) or window <= 0:
        raise ValidationError(f"token_window must be positive, not {window!r}")
    return float(window)


def digest(token: str) -> bytes:
    """The digest stored for ``token``.

    96 bits: two different tokens share one with odds of about 1 in 2**96.
    """
    return hashlib.blake2b(token.encode("utf-8"), digest_size=DIGEST_BYTES).digest()


@dataclass(frozen=True)
class Tokens:
    """Where one counter keeps its tokens, and the actions that keep them bounded.

    Attributes:
        slots: The two slot attributes, for even and odd generations.
        label: The attribute holding the generation of the newest tokens.
        window: The length of a generation, in seconds.
    """

    slots: tuple[str, str]
    label: str
    window: float

    @classmethod
    def of(cls, attribute: str, window: float) -> Tokens:
        """The token attributes of the counter ``attribute``."""
        prefix = f"{attribute}#tokens"
        return cls((f"{prefix}#0", f"{prefix}#1"), f"{prefix}#generation", window)

    def generation(self, now: float) -> int:
        """The generation that the wall-clock time ``now`` is in."""
        return math.floor(now / self.window)

    def stored_generation(self, item: Mapping[str, Any] | None) -> int | None:
        """The label on ``item``, or ``None`` if it has none."""
        label = None if item is None else item.get(self.label)
        if isinstance(label, bool) or not isinstance(label, int):
            return None
        return label

    def holds(self, item: Mapping[str, Any] | None, token_digest: bytes) -> bool:
        """Whether ``item`` has the token in one of its slots."""
        if item is None:
            return False
        return any(token_digest in (item.get(slot) or ()) for slot in self.slots)

    def absent(self, token_digest: bytes) -> ConditionBase:
        """The condition that neither slot holds the token."""
        # contains() on a missing slot is false, so NOT contains() holds there.
        first: ConditionBase = Not(literal(self.slots[0]).contains(token_digest))
        return first & Not(literal(self.slots[1]).contains(token_digest))

    def record(
        self, update: Update, token_digest: bytes, now: int, stored: int | None
    ) -> ConditionBase:
        """Add the token's actions to ``update``; return the condition on the label.

        Args:
            update: The add's update.
            token_digest: The token's digest.
            now: The generation of the writer's clock.
            stored: The label the writer believes the item has; ``None`` for
                "none, or ``now``".
        """
        label = literal(self.label)
        if stored is None or stored >= now:
            # A label ahead of ``now`` is a faster clock's: join its generation.
            current = now if stored is None else stored
            update.set(self.label, current)
            update.add(self.slots[current % 2], {token_digest})
            # The item has no tokens yet, or is at this generation: add to its slot.
            same: ConditionBase = label.not_exists() | label.eq(current)
            return same
        update.set(self.label, now).set(self.slots[now % 2], {token_digest})
        if stored == now - 1:
            # One generation on: the slot overwritten held generation now - 2.
            previous: ConditionBase = label.eq(now - 1)
            return previous
        update.remove(self.slots[(now + 1) % 2])
        # Two or more generations on: both slots are older than the window.
        stale: ConditionBase = label.lt(now - 1)
        return stale
