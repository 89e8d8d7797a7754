"""A repository a service could copy: accounts with owners and a withdraw method.

Runs as it is on the embedded atomic backend:
`python docs/examples/versioned_accounts.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import dynsafe
from dynsafe import testing


# --8<-- [start:repository]
@dataclass
class Account:
    pk: str
    balance: int
    owner: str | None = None
    version: int | None = None


class InsufficientFundsError(Exception):
    """The account cannot cover the withdrawal; nothing was written."""


class AccountRepository(dynsafe.Repository[Account]):
    owner_attribute = "owner"  # every write is conditioned on the caller owning it

    def open(self, account_id: str, balance: int = 0) -> Account:
        return self.create(Account(account_id, balance))

    def withdraw(self, account_id: str, amount: int) -> Account:
        def take(account: Account) -> Account:
            if account.balance < amount:
                raise InsufficientFundsError(account_id)
            return replace(account, balance=account.balance - amount)

        # Read, apply, write under the version check; on a conflict, apply `take`
        # again to the item that won. `take` may run several times: keep it pure.
        return self.update(account_id, take)


# --8<-- [end:repository]


def main() -> None:
    with testing.locked_moto() as client:
        testing.create_table(client, "accounts")
        table = dynsafe.Table(client, "accounts", key=("pk",))
        # --8<-- [start:usage]
        accounts = AccountRepository(table).for_owner("user-17")
        accounts.open("a1", balance=100)
        account = accounts.withdraw("a1", 30)
        assert (account.balance, account.version) == (70, 2)

        strangers = AccountRepository(table).for_owner("user-99")
        try:
            strangers.withdraw("a1", 70)
            raise AssertionError("a stranger withdrew")
        except dynsafe.NotOwnerError:
            status = 403  # not a 409: distinct from a version conflict
        # --8<-- [end:usage]
        assert status == 403
        assert accounts.get("a1") == account
    print("ok")


if __name__ == "__main__":
    main()
