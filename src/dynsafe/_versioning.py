"""The version check, the version bump and the write token, shared by every writer.

A versioned write is conditioned on the version it read and stores the next one, so
of two writers that read the same version only the first succeeds. Each write also
appends a unique *write token* to a short history kept on the item
(``dynsafe_tokens`` by default, the last :attr:`Versioning.history` tokens). When a
write's response is lost and a retry then fails its version check, the history tells
whether the first attempt landed:

- our token is in the history: it landed, exactly once;
- it is not, and every write since the version we expected is in the history: it
  did not land, and the write can be made again;
- otherwise (more writes since than the history holds, or the item is gone): nobody
  can tell, and the caller gets :class:`~dynsafe.errors.OutcomeUnknownError`.

This module knows versions and tokens, not tables: ``versioned``, ``transaction`` and
the repositories build their requests from it.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._expressions import literal
from dynsafe.errors import ValidationError

__all__ = ["Outcome", "Versioning"]


class Outcome(enum.Enum):
    """What the stored item says of a write whose answer was lost."""

    LANDED = "landed"
    NOT_LANDED = "not landed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Versioning:
    """Where an item keeps its version and write tokens, and how they move.

    Args:
        attribute: The version attribute.
        start: The version a created item gets.
        token_attribute: The attribute holding the recent write tokens.
        history: How many recent tokens an item keeps (1 to 32). More tokens tell
            the outcome of a lost write after more concurrent writes, at about 20
            bytes each.

    Raises:
        ValidationError: an argument is out of range.
    """

    attribute: str = "version"
    start: int = 1
    token_attribute: str = "dynsafe_tokens"
    history: int = 4

    def __post_init__(self) -> None:
        for name in (self.attribute, self.token_attribute):
            if not isinstance(name, str) or not name:
                raise ValidationError(
                    f"attribute names are non-empty strings: {name!r}"
                )
        if self.attribute == self.token_attribute:
            raise ValidationError("the version and token attributes must differ")
        if isinstance(self.start, bool) or not isinstance(self.start, int):
            raise ValidationError(f"the start version is an int, not {self.start!r}")
        if not 1 <= self.history <= 32:
            raise ValidationError(f"history is from 1 to 32 tokens, not {self.history}")

    @property
    def managed(self) -> tuple[str, str]:
        """The attributes dynsafe writes itself; callers may not change them."""
        return (self.attribute, self.token_attribute)

    @staticmethod
    def new_token() -> str:
        """A fresh write token: 96 random bits, 16 characters."""
        return secrets.token_urlsafe(12)

    def version_of(self, item: Mapping[str, Any] | None) -> int | None:
        """The item's version, or ``None`` if it has none.

        Raises:
            ValidationError: the stored version is not an integer.
        """
        if item is None:
            return None
        version = item.get(self.attribute)
        if version is None:
            return None
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValidationError(
                f"version attribute {self.attribute!r} holds {type(version).__name__},"
                " not an integer"
            )
        return version

    def tokens_of(self, item: Mapping[str, Any] | None) -> list[str]:
        """The item's recent write tokens, oldest first."""
        tokens = item.get(self.token_attribute) if item is not None else None
        if not isinstance(tokens, list):
            return []
        return [token for token in tokens if isinstance(token, str)]

    def expect(self, version: int | None, key_names: Sequence[str]) -> ConditionBase:
        """The condition that the stored item is at ``version``.

        ``None`` expects no item at all (a create).
        """
        if version is None:
            # No item under this key: its partition key attribute is absent.
            return literal(key_names[0]).not_exists()
        # The item is still at the version the writer read.
        condition: ConditionBase = literal(self.attribute).eq(version)
        return condition

    def next_version(self, version: int | None) -> int:
        """The version a write stores after ``version``."""
        return self.start if version is None else version + 1

    def stamp(
        self,
        item: Mapping[str, Any],
        token: str,
        expected: int | None,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """Return ``item`` with the next version and ``token`` added to the history.

        Args:
            item: The attributes to store.
            token: This write's token.
            expected: The version the write is conditioned on.
            previous: The stored item the write replaces, whose history goes on.
        """
        history = (
            self.tokens_of(previous) if previous is not None else self.tokens_of(item)
        )
        stamped = dict(item)
        stamped[self.attribute] = self.next_version(expected)
        stamped[self.token_attribute] = [*history, token][-self.history :]
        return stamped

    def outcome(
        self, current: Mapping[str, Any] | None, token: str, expected: int | None
    ) -> Outcome:
        """Tell from the current item whether a write with ``token`` landed.

        Args:
            current: The item as stored now, or ``None`` if there is none.
            token: The write's token.
            expected: The version the write was conditioned on.
        """
        if current is None:
            return Outcome.UNKNOWN
        tokens = self.tokens_of(current)
        if token in tokens:
            return Outcome.LANDED
        version = self.version_of(current)
        start = self.start if expected is None else expected + 1
        if version is not None and version - start + 1 <= len(tokens):
            # Every write since the expected version left its token here, and
            # ours is not among them.
            return Outcome.NOT_LANDED
        return Outcome.UNKNOWN

    def check_unchanged(
        self,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        key_names: Sequence[str],
    ) -> None:
        """Refuse a mutation that changed a key attribute or a managed attribute.

        Raises:
            ValidationError: it did.
        """
        for name in (*key_names, *self.managed):
            if before.get(name) != after.get(name):
                raise ValidationError(
                    f"the mutation changed {name!r}; key attributes, the version and"
                    " the write tokens are not the mutation's to change"
                )
