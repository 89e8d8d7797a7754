"""The mutations a versioned update carries, and how they are applied to an item.

- :data:`Mutation` is what an update applies: a pure function from the current item
  to the new one, run again on the fresh item after each conflict;
- a :class:`Batch` is the mutations one write carries: one, or several when updates
  of one key from threads of this process share a write. :func:`combiner_for` holds
  the process-wide queues that gather them;
- :func:`start_item` picks the item the mutations start from: the item as last
  seen, or the update's default for a key with none. A new item may not set the
  version or the write tokens itself (:func:`refuse_managed`);
- :func:`apply_all` applies a batch's mutations in order, each to the result of the
  last that succeeded, and gives each mutation's outcome back; the table then writes
  the final item once.

This module knows mutations and items, not requests: ``versioned`` sends them.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._table import Table
from dynsafe._versioned_attempts import Attempts
from dynsafe._versioning import Versioning
from dynsafe.combining import Combiner, Failed
from dynsafe.errors import ItemNotFoundError, OutcomeUnknownError, ValidationError

__all__ = [
    "Batch",
    "Default",
    "Mutation",
    "apply_all",
    "apply_mutation",
    "combiner_for",
    "refuse_managed",
    "start_item",
]

Item = dict[str, Any]
Mutation = Callable[[Item], Mapping[str, Any]]
"""A pure function from the current item to the new one; it may run several times."""

Default = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None
"""The item an update starts from when none is stored."""


@dataclass
class Batch:
    """The mutations one write carries, and what their attempts learnt."""

    key: Item
    identity: Hashable
    mutations: Sequence[Mutation]
    default: Default
    condition: ConditionBase | None
    state: Attempts


def start_item(
    batch: Batch, table: Table, versioning: Versioning
) -> tuple[Item, int | None]:
    """The item a batch's mutations start from, and its version.

    That is the item as last seen, or else the batch's default with the key, to be
    created (version ``None``).

    Raises:
        OutcomeUnknownError: an earlier attempt's answer was lost and no item is
            stored now.
        ItemNotFoundError: no item is stored and the batch has no default.
        ValidationError: the default sets a managed attribute.
    """
    state, key, default = batch.state, batch.key, batch.default
    if state.current is not None:
        return state.current, versioning.version_of(state.current)
    if state.lost_response:
        raise OutcomeUnknownError(
            "the write's answer was lost and the item is gone",
            table=table.name,
            key=key,
        )
    if default is None:
        raise ItemNotFoundError("no item to update", table=table.name, key=key)
    initial = default() if callable(default) else default
    refuse_managed(initial, table, versioning)
    return {**initial, **key}, None


def refuse_managed(
    item: Mapping[str, Any], table: Table, versioning: Versioning
) -> None:
    """Refuse a new item that sets the version or the write tokens itself.

    Raises:
        ValidationError: ``item`` sets an attribute that ``versioning`` manages.
    """
    present = [name for name in versioning.managed if name in item]
    if present:
        raise ValidationError(
            f"{', '.join(present)} are set by dynsafe; leave them out of a new item",
            table=table.name,
        )


def apply_all(
    batch: Batch, base: Item, expected: int | None, table: Table, versioning: Versioning
) -> tuple[list[Item | Failed], Item]:
    """Apply each mutation to the result of the last that succeeded.

    Args:
        batch: The mutations, in the order they are applied.
        base: The item the first mutation is applied to.
        expected: ``base``'s version; ``None`` when no item is stored.
        table: The table the result is written to.
        versioning: The table's versioning.

    Returns:
        Each mutation's outcome, the item after it or ``Failed`` with what it raised,
        and the item after the last mutation that succeeded.
    """
    outcomes: list[Item | Failed] = []
    item = base
    for mutation in batch.mutations:
        try:
            changed = apply_mutation(mutation, item, table, versioning)
            if len(batch.mutations) > 1:
                # A batch refuses the one mutation that makes the item too big.
                stamped = versioning.stamp(changed, batch.state.token, expected, base)
                table.serialize_checked(stamped)
        except Exception as error:  # the caller of this mutation gets it back
            outcomes.append(Failed(error))
            continue
        outcomes.append(changed)
        item = changed
    return outcomes, item


def apply_mutation(
    mutation: Mutation, base: Item, table: Table, versioning: Versioning
) -> Item:
    """Apply ``mutation`` to a copy of ``base`` and check what it returned.

    Raises:
        ValidationError: the mutation returned something that is not an item, or
            changed a key or managed attribute.
        Exception: whatever the mutation raised, unchanged.
    """
    changed = mutation(copy.deepcopy(base))
    if not isinstance(changed, Mapping):
        raise ValidationError(
            f"the mutation must return the new item, not {type(changed).__name__}",
            table=table.name,
        )
    changed = dict(changed)
    versioning.check_unchanged(base, changed, table.key_names)
    return changed


_combiners: dict[int, Combiner[Mutation]] = {}
_combiners_lock = threading.Lock()


def combiner_for(max_batch: int) -> Combiner[Mutation]:
    """The process-wide queues of updates waiting to share a write."""
    with _combiners_lock:
        if max_batch not in _combiners:
            _combiners[max_batch] = Combiner(max_batch)
        return _combiners[max_batch]
