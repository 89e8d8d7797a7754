"""One example of each primitive, run on the embedded atomic backend.

`python docs/examples/quickstart.py` runs it as it is; the tests do too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr

import dynsafe
from dynsafe import testing


def main() -> None:
    with testing.locked_moto() as client:
        for name in ("accounts", "pages", "wallets", "ledger", "idempotency"):
            testing.create_table(client, name)
        # --8<-- [start:tables]
        # Any boto3 Table resource works; dynsafe.Table(client, name) is faster.
        accounts_table = dynsafe.Table(client, "accounts", key=("pk",))
        pages = dynsafe.Table(client, "pages", key=("pk",))
        wallets = dynsafe.Table(client, "wallets", key=("pk",))
        ledger = dynsafe.Table(client, "ledger", key=("pk",))
        # --8<-- [end:tables]

        # --8<-- [start:versioned]
        accounts = dynsafe.VersionedTable(accounts_table)
        accounts.create({"pk": "a1", "balance": 100})

        def withdraw(item: dict[str, Any]) -> dict[str, Any]:
            if item["balance"] < 30:
                raise ValueError("insufficient funds")  # nothing is written
            return {**item, "balance": item["balance"] - 30}

        account = accounts.update({"pk": "a1"}, withdraw)  # retried on conflict
        assert (account["balance"], account["version"]) == (70, 2)
        # --8<-- [end:versioned]

        # --8<-- [start:counter]
        views = dynsafe.Counter(pages, {"pk": "page#home"}, "views")
        assert views.add(1) == 1  # one UpdateItem with ADD, no read
        assert views.add(5, token="req-17") == 6
        assert views.add(5, token="req-17") == 6  # the same token counts once
        stock = dynsafe.Counter(pages, {"pk": "sku#9"}, "stock")
        stock.add(2)
        try:
            stock.add(-3, floor=0)
            refused = False
        except dynsafe.BoundExceededError:
            refused = True  # refused in the same request: never below the floor
        # --8<-- [end:counter]

        # --8<-- [start:transaction]
        wallets.put({"pk": "w1", "balance": 50})
        with dynsafe.transaction() as tx:  # all or nothing, on a clean exit
            tx.update(
                wallets,
                {"pk": "w1"},
                add={"balance": -10},
                condition=Attr("balance").gte(10),
            )
            tx.update(wallets, {"pk": "w2"}, add={"balance": 10})
            tx.put(
                ledger, {"pk": "tx#77", "amount": 10}, condition=Attr("pk").not_exists()
            )
        # --8<-- [end:transaction]

        # --8<-- [start:idempotent]
        store = dynsafe.IdempotencyStore(
            dynsafe.Table(client, "idempotency", key=("pk",)),
            ttl=timedelta(hours=24),
            lease=timedelta(seconds=30),
        )
        charges: list[str] = []

        @dynsafe.idempotent(store, key=lambda order: order["order_id"])
        def charge(order: dict[str, Any]) -> dict[str, Any]:
            charges.append(order["order_id"])  # the side effect, once per key
            return {"charged": order["amount"]}

        first = charge({"order_id": "o-1", "amount": 10})
        again = charge({"order_id": "o-1", "amount": 10})  # a retried request
        assert first == again == {"charged": 10}
        assert charges == ["o-1"]
        # --8<-- [end:idempotent]

        assert views.value() == 6
        assert stock.value() == 2
        assert refused
        assert wallets.get({"pk": "w2"}) == {"pk": "w2", "balance": 10}
    print("ok")


if __name__ == "__main__":
    main()
