"""Repositories: typed models over a :class:`~dynsafe.VersionedTable`, with ownership.

A service subclasses :class:`Repository` for its model and gets ``get``, ``create``,
``save``, ``update`` and ``delete`` with the versioned semantics, plus its own
domain methods::

    @dataclass
    class Account:
        pk: str
        balance: int
        owner: str | None = None
        version: int | None = None

    class AccountRepository(dynsafe.Repository[Account]):
        owner_attribute = "owner"

        def withdraw(self, account_id: str, amount: int) -> Account:
            def take(account: Account) -> Account:
                if account.balance < amount:
                    raise InsufficientFunds(account_id)
                return replace(account, balance=account.balance - amount)

            return self.update(account_id, take)

Models are dataclasses, or pydantic models when pydantic is installed. A model must
have a field for the version attribute (``version`` by default).

Ownership: with ``owner_attribute`` set, a repository acts for one owner
(``repo.for_owner("user-17")``). Every write and delete is conditioned on the stored
owner being that owner, in the same request, so there is no window between a check
and the write; a caller who does not own the item gets :class:`NotOwnerError`,
distinct from a version conflict.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Generic, TypeVar

from boto3.dynamodb.conditions import ConditionBase

from dynsafe._expressions import literal
from dynsafe._table import TableLike
from dynsafe.errors import ConditionFailedError, NotOwnerError, ValidationError
from dynsafe.retry import RetryPolicy
from dynsafe.versioned import VersionedTable

__all__ = ["Repository"]

M = TypeVar("M")
R = TypeVar("R", bound="Repository[Any]")
Item = dict[str, Any]


class _Codec(Generic[M]):
    """Turns models into items and back: dataclasses or pydantic models."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        if dataclasses.is_dataclass(model):
            self.fields = [field.name for field in dataclasses.fields(model)]
            self._dump: Callable[[Any], Item] = dataclasses.asdict
        elif hasattr(model, "model_validate") and hasattr(model, "model_fields"):
            self.fields = list(getattr(model, "model_fields"))  # noqa: B009
            self._dump = lambda instance: dict(instance.model_dump())
        else:
            raise TypeError(
                f"{model.__name__} is neither a dataclass nor a pydantic model"
            )

    def to_item(self, instance: M) -> Item:
        if not isinstance(instance, self.model):
            raise TypeError(
                f"expected {self.model.__name__}, not {type(instance).__name__}"
            )
        return self._dump(instance)

    def from_item(self, item: Mapping[str, Any]) -> M:
        values = {name: item[name] for name in self.fields if name in item}
        if dataclasses.is_dataclass(self.model):
            return self.model(**values)
        validate: Callable[[Any], M] = getattr(self.model, "model_validate")  # noqa: B009
        return validate(values)


class Repository(Generic[M]):
    """Typed, versioned access to one kind of item; subclass it for your model.

    Args:
        table: A boto3 ``Table`` resource, a :class:`dynsafe.Table`, or a
            :class:`VersionedTable` to share.
        model: The model class; taken from ``Repository[Model]`` when omitted.
        owner: The identity this repository acts for, when ``owner_attribute`` is
            set; see :meth:`for_owner`.
        policy: The retry policy of ``update``.

    Class attributes:
        owner_attribute: The attribute naming an item's owner, or ``None``.
        version_attribute: The version attribute (a field of the model).

    Safe to share between threads.

    Raises:
        TypeError: the model is not a dataclass or pydantic model.
        ValidationError: the model has no version field.
    """

    owner_attribute: ClassVar[str | None] = None
    version_attribute: ClassVar[str] = "version"

    def __init__(
        self,
        table: TableLike | VersionedTable,
        *,
        model: type[M] | None = None,
        owner: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if isinstance(table, VersionedTable):
            self.items = table
        else:
            self.items = VersionedTable(
                table, version_attribute=self.version_attribute, policy=policy
            )
        self._codec = _Codec(model or self._model_from_subclass())
        if self.version_attribute not in self._codec.fields:
            raise ValidationError(
                f"{self._codec.model.__name__} needs a {self.version_attribute!r} field"
            )
        self.owner = owner

    @classmethod
    def _model_from_subclass(cls) -> type[M]:
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is Repository:
                (model,) = typing.get_args(base)
                if isinstance(model, type):
                    return model
        raise TypeError(
            f"{cls.__name__} does not say its model: subclass Repository[Model]"
            " or pass model="
        )

    def for_owner(self: R, owner: str) -> R:
        """A repository of the same table and model acting for ``owner``."""
        bound = copy.copy(self)
        bound.owner = owner
        return bound

    # -- keys and owners ------------------------------------------------------------

    def _key(self, key: Mapping[str, Any] | str | int) -> Item:
        if isinstance(key, Mapping):
            return self.items.table.check_key(key)
        names = self.items.table.key_names
        if len(names) != 1:
            raise ValidationError(
                f"the key has {len(names)} attributes: pass a mapping"
            )
        return {names[0]: key}

    def _owner_condition(self) -> ConditionBase | None:
        if self.owner_attribute is None:
            return None
        if self.owner is None:
            raise ValidationError(
                f"{type(self).__name__} names an owner attribute: use for_owner(...)"
            )
        # The stored item belongs to the caller, checked in the same write.
        condition: ConditionBase = literal(self.owner_attribute).eq(self.owner)
        return condition

    def _check_owner(self, item: Mapping[str, Any] | None, key: Item) -> None:
        if self.owner_attribute is None or item is None:
            return
        if item.get(self.owner_attribute) != self.owner:
            raise NotOwnerError(
                "the item belongs to another owner",
                owner=self.owner,
                table=self.items.table.name,
                key=key,
            )

    def _not_owner(self, error: ConditionFailedError) -> NotOwnerError:
        return NotOwnerError(
            "the item belongs to another owner",
            owner=self.owner,
            table=error.table,
            key=error.key,
            code=error.code,
            operation=error.operation,
            item=error.item,
            item_returned=error.item_returned,
        )

    # -- the operations --------------------------------------------------------------

    def get(self, key: Mapping[str, Any] | str | int) -> M | None:
        """Read a model; ``None`` when absent. One consistent ``GetItem``.

        Raises:
            NotOwnerError: the item belongs to another owner.
        """
        key = self._key(key)
        item = self.items.get(key)
        self._check_owner(item, key)
        return self._codec.from_item(item) if item is not None else None

    def create(self, instance: M) -> M:
        """Store a new model at the start version, owned by this repository's owner.

        One ``PutItem``.

        Raises:
            ItemExistsError: the key is taken.
        """
        item = {k: v for k, v in self._codec.to_item(instance).items() if v is not None}
        item.pop(self.version_attribute, None)
        if self.owner_attribute is not None:
            self._owner_condition()
            item[self.owner_attribute] = self.owner
        return self._codec.from_item(self.items.create(item))

    def save(self, instance: M) -> M:
        """Store a changed model if the stored version is still the model's.

        Attributes of the item that the model does not have are kept. Cost: one
        ``GetItem`` and one ``PutItem``.

        Raises:
            VersionConflictError: the stored version is another.
            NotOwnerError: the item belongs to another owner.
            ItemNotFoundError: the item is gone.
        """
        changes = self._codec.to_item(instance)
        key = self.items.table.key_of(changes)
        current = self.items.get(key)
        self._check_owner(current, key)
        merged = {**(current or {}), **changes}
        if current is None:
            merged.pop(self.version_attribute, None)
        return self._write(
            lambda: self.items.put(merged, condition=self._owner_condition())
        )

    def update(
        self,
        key: Mapping[str, Any] | str | int,
        mutation: Callable[[M], M],
        *,
        policy: RetryPolicy | None = None,
    ) -> M:
        """Read-modify-write a model, retrying conflicts (see VersionedTable.update).

        Raises:
            NotOwnerError: the item belongs to another owner.
            ItemNotFoundError: no such item.
            VersionConflictError: conflicts outlasted the retry policy.
        """
        key = self._key(key)

        def on_item(item: Item) -> Item:
            self._check_owner(item, key)
            changed = self._codec.to_item(mutation(self._codec.from_item(item)))
            return {**item, **changed}

        return self._write(
            lambda: self.items.update(
                key, on_item, condition=self._owner_condition(), policy=policy
            )
        )

    def delete(self, instance: M) -> None:
        """Delete a model if the stored version is still the model's.

        One ``DeleteItem``.

        Raises:
            VersionConflictError: the stored version is another.
            NotOwnerError: the item belongs to another owner.
        """
        item = self._codec.to_item(instance)

        with self._owner_errors():
            self.items.delete(item, condition=self._owner_condition())

    def _write(self, write: Callable[[], Item]) -> M:
        with self._owner_errors():
            stored = write()
        return self._codec.from_item(stored)

    @contextlib.contextmanager
    def _owner_errors(self) -> Iterator[None]:
        try:
            yield
        except ConditionFailedError as error:
            if self.owner_attribute is not None and type(error) is ConditionFailedError:
                # The version held, so the owner condition is what failed.
                raise self._not_owner(error) from error
            raise
