from __future__ import annotations

from dataclasses import dataclass, replace

import pydantic
import pytest

import dynsafe

from ..conftest import Backend


@dataclass
class Account:
    pk: str
    balance: int
    owner: str | None = None
    version: int | None = None


class InsufficientFundsError(Exception):
    pass


class AccountRepository(dynsafe.Repository[Account]):
    owner_attribute = "owner"

    def withdraw(self, account_id: str, amount: int) -> Account:
        def take(account: Account) -> Account:
            if account.balance < amount:
                raise InsufficientFundsError(account_id)
            return replace(account, balance=account.balance - amount)

        return self.update(account_id, take)


class PlainRepository(dynsafe.Repository[Account]):
    pass


class Order(pydantic.BaseModel):
    pk: str
    total: int
    version: int | None = None


def table_of(backend: Backend) -> dynsafe.Table:
    return dynsafe.Table(backend.client(), backend.table(), key=("pk",))


def test_repository_gives_typed_versioned_operations(moto: Backend) -> None:
    repo = PlainRepository(table_of(moto))
    created = repo.create(Account("a1", 100))
    assert created == Account("a1", 100, None, 1)
    saved = repo.save(replace(created, balance=90))
    assert (saved.balance, saved.version) == (90, 2)
    with pytest.raises(dynsafe.VersionConflictError):
        repo.save(replace(created, balance=80))
    updated = repo.update("a1", lambda a: replace(a, balance=a.balance + 5))
    assert (updated.balance, updated.version) == (95, 3)
    assert repo.get("a1") == updated
    repo.delete(updated)
    assert repo.get({"pk": "a1"}) is None


def test_domain_methods_and_their_exceptions(moto: Backend) -> None:
    repo = AccountRepository(table_of(moto)).for_owner("bo")
    repo.create(Account("a1", 10))
    assert repo.withdraw("a1", 4).balance == 6
    with pytest.raises(InsufficientFundsError):
        repo.withdraw("a1", 100)
    assert repo.get("a1").balance == 6  # type: ignore[union-attr]


def test_non_owner_gets_its_own_error_for_every_operation(moto: Backend) -> None:
    table = table_of(moto)
    mine = AccountRepository(table).for_owner("bo")
    theirs = AccountRepository(table).for_owner("eve")
    account = mine.create(Account("a1", 10))
    assert account.owner == "bo"
    with pytest.raises(dynsafe.NotOwnerError):
        theirs.get("a1")
    with pytest.raises(dynsafe.NotOwnerError):
        theirs.withdraw("a1", 1)
    with pytest.raises(dynsafe.NotOwnerError):
        theirs.save(replace(account, balance=0))
    with pytest.raises(dynsafe.NotOwnerError) as caught:
        theirs.delete(account)
    assert not isinstance(caught.value, dynsafe.VersionConflictError)
    assert mine.get("a1") == account


def test_owner_condition_is_in_the_same_write(moto: Backend) -> None:
    # Between eve's read and eve's write, a raw writer hands the item to bo
    # without touching the version: only the condition in the write can notice.
    table = table_of(moto)
    eve = AccountRepository(table).for_owner("eve")
    eve.create(Account("a1", 10))

    def drain(account: Account) -> Account:
        stored = table.get({"pk": "a1"})
        assert stored is not None
        table.put({**stored, "owner": "bo"})
        return replace(account, balance=0)

    with pytest.raises(dynsafe.NotOwnerError):
        eve.update("a1", drain)
    assert table.get({"pk": "a1"})["balance"] == 10  # type: ignore[index]


def test_owner_repository_needs_an_owner(moto: Backend) -> None:
    repo = AccountRepository(table_of(moto))
    with pytest.raises(dynsafe.ValidationError, match="for_owner"):
        repo.create(Account("a1", 1))


def test_save_keeps_attributes_the_model_does_not_have(moto: Backend) -> None:
    table = table_of(moto)
    repo = PlainRepository(table)
    account = repo.create(Account("a1", 1))
    versioned = dynsafe.VersionedTable(table)
    item = versioned.get({"pk": "a1"})
    assert item is not None
    versioned.put({**item, "extra": "kept"})
    fresh = repo.get("a1")
    assert fresh is not None
    repo.save(replace(fresh, balance=2))
    assert table.get({"pk": "a1"})["extra"] == "kept"  # type: ignore[index]
    assert account.version == 1


def test_pydantic_models(moto: Backend) -> None:
    repo: dynsafe.Repository[Order] = dynsafe.Repository(table_of(moto), model=Order)
    order = repo.create(Order(pk="o1", total=5))
    assert order == Order(pk="o1", total=5, version=1)
    assert repo.update("o1", lambda o: o.model_copy(update={"total": 6})).total == 6


def test_models_without_a_version_field_or_kind_are_refused(moto: Backend) -> None:
    @dataclass
    class NoVersion:
        pk: str

    with pytest.raises(dynsafe.ValidationError, match="version"):
        dynsafe.Repository(table_of(moto), model=NoVersion)
    with pytest.raises(TypeError, match="dataclass nor a pydantic"):
        dynsafe.Repository(table_of(moto), model=int)
    with pytest.raises(TypeError, match="does not say its model"):
        dynsafe.Repository(table_of(moto))
