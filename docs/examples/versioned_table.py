"""The VersionedTable contract, end to end, on the embedded atomic backend."""

from __future__ import annotations

from typing import Any

import dynsafe
from dynsafe import testing


def main() -> None:
    with testing.locked_moto() as client:
        testing.create_table(client, "accounts")
        table = dynsafe.Table(client, "accounts", key=("pk",))
        # --8<-- [start:contract]
        accounts = dynsafe.VersionedTable(table)  # version attribute "version"
        acct = accounts.create({"pk": "a1", "balance": 100})  # stored with version 1
        acct = accounts.get({"pk": "a1"})  # consistent read; None if absent
        assert acct is not None
        acct = accounts.put({**acct, "owner": "bo"})  # checks acct's version, bumps it
        acct = accounts.update(
            {"pk": "a1"}, lambda item: {**item, "balance": item["balance"] - 30}
        )

        @dynsafe.versioned(accounts, key=lambda account_id, amount: {"pk": account_id})
        def withdraw(item: dict[str, Any], account_id: str, amount: int) -> Any:
            return {**item, "balance": item["balance"] - amount}

        acct = withdraw("a1", 10)  # returns the stored item
        accounts.delete(acct)  # checks the version by default
        # --8<-- [end:contract]
        assert accounts.get({"pk": "a1"}) is None
    print("ok")


if __name__ == "__main__":
    main()
