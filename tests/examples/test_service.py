"""The service example: the race over HTTP on dynalite, and its statuses on moto.

The examples are scripts that import each other as top-level modules (see
conftest.py), so they are loaded with importlib here.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from typing import Any

import pytest

import dynsafe
from tests.conftest import Backend

service: Any = importlib.import_module("service")
service_race: Any = importlib.import_module("service_race")

USER = {"X-User": "user-17"}
_names = itertools.count()


def fresh_tables(client: Any) -> Any:
    suffix = f"svc{next(_names)}-{threading.get_native_id()}"
    tables = service.Tables(*(f"{role}-{suffix}" for role in ("a", "p", "i", "l")))
    tables.create(client)
    return tables


# -- the race over HTTP, on an atomic backend ------------------------------------------


def hold_first_charge(app: Any, client: Any, ledger: str) -> threading.Lock:
    """Keep the first charge in progress until a duplicate has been told 409.

    Without this the first charge may finish before the other threads send theirs,
    and they are all answered with the replay: the race would then not prove that a
    duplicate arriving mid-charge is turned away and comes back.
    """
    conflicted = threading.Event()
    first = threading.Lock()

    def seen(response: Any) -> Any:
        if response.status_code == 409:
            conflicted.set()
        return response

    app.after_request(seen)

    def gate(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == ledger and first.acquire(blocking=False):
            assert conflicted.wait(timeout=30), "no duplicate charge arrived"

    client.meta.events.register("provide-client-params.dynamodb.PutItem", gate)
    return first


def test_race_safe_endpoints_lose_nothing_naive_ones_lose_updates(
    dynalite: Backend,
) -> None:
    client = dynalite.client()
    tables = fresh_tables(client)
    app = service.create_app(client, tables, naive=True)
    held = hold_first_charge(app, client, tables.ledger)
    with service_race.serving(app) as base_url:
        http = service_race.Http(base_url)
        safe = service_race.race_withdrawals(http, "", 8, 8)
        naive = service_race.race_withdrawals(http, "/naive", 8, 8)
        safe_views = service_race.race_views(http, "", 8, 8)
        naive_views = service_race.race_views(http, "/naive", 8, 8)
        charge, ids = service_race.race_charge(http, "", 8, client, tables.ledger)
        naive_charge, _ = service_race.race_charge(
            http, "/naive", 8, client, tables.ledger
        )

    opening = 8 * 8 * 3 // 4
    assert safe.final == opening - safe.accepted == safe.expected
    assert safe.final >= 0
    assert safe.accepted <= opening
    assert naive.final > naive.expected  # withdrawals paid out, then overwritten

    assert safe_views.final == safe_views.accepted == 64
    assert naive_views.final < naive_views.accepted

    assert held.locked()  # the first charge was held in progress
    assert (charge.final, charge.accepted, len(ids)) == (1, 8, 1)
    assert charge.retried > 0  # the others were told 409 and came back
    assert naive_charge.final == naive_charge.accepted == 8
    assert service_race.safe_held([safe, safe_views, charge])
    assert min(naive.wrong, naive_views.wrong, naive_charge.wrong) > 0


def test_race_table_shows_every_row() -> None:
    rows = [
        service_race.Row("withdraw", "dynsafe", 10, 8, 1, 0, 0),
        service_race.Row("views", "naive", 10, 10, 0, 10, 7),
    ]
    text = service_race.table(rows)
    assert "| withdraw | dynsafe | 10 | 8 | 1 | 0 | 0 | 0 |" in text
    assert "| views | naive | 10 | 10 | 0 | 10 | 7 | 3 |" in text
    assert service_race.safe_held(rows)


# -- statuses, with Flask's test client on moto ----------------------------------------


@pytest.fixture
def app(moto: Backend) -> Any:
    client = moto.client()
    tables = fresh_tables(client)
    flask_app = service.create_app(client, tables, naive=True)
    flask_app.config["client"], flask_app.config["tables"] = client, tables
    return flask_app


def open_account(http: Any, account: str = "a1", balance: int = 100) -> None:
    reply = http.post(
        "/accounts", json={"id": account, "balance": balance}, headers=USER
    )
    assert reply.status_code == 201


def withdraw(http: Any, amount: Any, account: str = "a1", **headers: str) -> Any:
    return http.post(
        f"/accounts/{account}/withdraw",
        json={"amount": amount},
        headers={**USER, **headers},
    )


def test_withdraw_returns_the_new_balance_and_version(app: Any) -> None:
    http = app.test_client()
    open_account(http)
    reply = withdraw(http, 30)
    assert reply.status_code == 200
    assert reply.get_json() == {"id": "a1", "balance": 70, "version": 2}


def test_withdraw_past_the_balance_is_422_and_writes_nothing(app: Any) -> None:
    http = app.test_client()
    open_account(http, balance=10)
    reply = withdraw(http, 11)
    assert reply.status_code == 422
    assert reply.get_json()["error"] == "InsufficientFundsError"
    stored = http.get("/accounts/a1", headers=USER).get_json()
    assert (stored["balance"], stored["version"]) == (10, 1)


@pytest.mark.parametrize("prefix", ["", "/naive"])
def test_withdraw_from_a_missing_account_is_404(app: Any, prefix: str) -> None:
    reply = app.test_client().post(
        f"{prefix}/accounts/nope/withdraw", json={"amount": 1}, headers=USER
    )
    assert reply.status_code == 404
    assert app.test_client().get("/accounts/nope", headers=USER).status_code == 404


def test_withdraw_by_another_user_is_403(app: Any) -> None:
    http = app.test_client()
    open_account(http)
    reply = withdraw(http, 1, **{"X-User": "user-99"})
    assert reply.status_code == 403
    assert reply.get_json()["error"] == "NotOwnerError"


@pytest.mark.parametrize("amount", [0, -5, "ten", True, 1.5, None])
def test_withdraw_of_a_bad_amount_is_400(app: Any, amount: Any) -> None:
    http = app.test_client()
    open_account(http)
    assert withdraw(http, amount).status_code == 400


def test_requests_without_a_user_or_a_json_body_are_400(app: Any) -> None:
    http = app.test_client()
    open_account(http)
    assert http.post("/accounts/a1/withdraw", json={"amount": 1}).status_code == 400
    reply = http.post("/accounts/a1/withdraw", data="amount=1", headers=USER)
    assert reply.status_code == 400
    assert reply.get_json()["error"] == "BadRequest"


def test_opening_an_account_twice_is_409(app: Any) -> None:
    http = app.test_client()
    open_account(http)
    again = http.post("/accounts", json={"id": "a1", "balance": 5}, headers=USER)
    assert again.status_code == 409
    assert again.get_json()["error"] == "ItemExistsError"


def test_withdraw_that_keeps_conflicting_is_409(moto: Backend) -> None:
    client = moto.client()
    tables = fresh_tables(client)
    app = service.create_app(client, tables, policy=dynsafe.RetryPolicy.never())
    http = app.test_client()
    open_account(http)
    rival = dynsafe.VersionedTable(
        dynsafe.Table(moto.client(), tables.accounts, key=("pk",))
    )

    fired: list[bool] = []

    def rival_writes_first(**_: Any) -> None:
        # Another writer lands between this request's read and its write.
        if not fired:
            fired.append(True)
            rival.update({"pk": "a1"}, lambda item: {**item, "balance": 90})

    client.meta.events.register("before-call.dynamodb.PutItem", rival_writes_first)
    reply = withdraw(http, 30)
    assert reply.status_code == 409
    assert reply.get_json()["error"] == "VersionConflictError"
    assert http.get("/accounts/a1", headers=USER).get_json()["balance"] == 90


def test_view_counter_counts_each_post(app: Any) -> None:
    http = app.test_client()
    assert [http.post("/pages/home/views").get_json()["views"] for _ in range(3)] == [
        1,
        2,
        3,
    ]
    assert http.get("/pages/home/views").get_json() == {"page": "home", "views": 3}


# -- charges ---------------------------------------------------------------------------


def charge(http: Any, key: str | None, amount: int = 25) -> Any:
    headers = {} if key is None else {"Idempotency-Key": key}
    return http.post(
        "/charges", json={"account": "a1", "amount": amount}, headers=headers
    )


def ledger_size(app: Any, key: str) -> int:
    config = app.config
    count: int = service_race.ledger_entries(
        config["client"], config["tables"].ledger, key
    )
    return count


def test_charge_without_an_idempotency_key_is_400(app: Any) -> None:
    reply = charge(app.test_client(), None)
    assert reply.status_code == 400
    assert "Idempotency-Key" in reply.get_json()["message"]


def test_charge_replayed_returns_the_first_answer_and_charges_once(app: Any) -> None:
    http = app.test_client()
    first, second = charge(http, "k1"), charge(http, "k1")
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert first.get_json()["id"].startswith("charge#")
    assert first.headers["Idempotent-Replayed"] == "false"
    assert second.headers["Idempotent-Replayed"] == "true"
    assert ledger_size(app, "k1") == 1


def test_naive_charge_replayed_charges_again(app: Any) -> None:
    http = app.test_client()
    for _ in range(2):
        reply = http.post(
            "/naive/charges",
            json={"account": "a1", "amount": 25},
            headers={"Idempotency-Key": "k2"},
        )
        assert reply.status_code == 201
    assert ledger_size(app, "k2") == 2


def test_charge_with_a_used_key_and_another_body_is_422(app: Any) -> None:
    http = app.test_client()
    assert charge(http, "k3", amount=25).status_code == 201
    reply = charge(http, "k3", amount=26)
    assert reply.status_code == 422
    assert reply.get_json()["error"] == "IdempotencyKeyMismatchError"
    assert ledger_size(app, "k3") == 1


def test_charge_while_another_holds_the_key_is_409_with_retry_after(
    app: Any,
) -> None:
    http = app.test_client()
    store = dynsafe.IdempotencyStore(
        dynsafe.Table(app.config["client"], app.config["tables"].idempotency)
    )
    body = {"account": "a1", "amount": 25}
    seen: list[Any] = []

    def holder() -> dict[str, str]:
        # The same key arrives while this call holds its claim.
        seen.append(charge(http, "k4"))
        return {"id": "charge#first"}

    store.run("k4", holder, payload=body)
    (reply,) = seen
    assert reply.status_code == 409
    assert reply.get_json()["error"] == "IdempotencyInProgressError"
    assert reply.headers["Retry-After"] == str(service.RETRY_AFTER_SECONDS)
    replay = charge(http, "k4")
    assert (replay.status_code, replay.get_json()) == (201, {"id": "charge#first"})
    assert ledger_size(app, "k4") == 0  # only the holder ran, and it wrote no ledger


def test_charge_in_a_transaction_lands_with_its_record(moto: Backend) -> None:
    client = moto.client()
    tables = fresh_tables(client)
    app = service.create_app(client, tables, charge_in_transaction=True)
    app.config["client"], app.config["tables"] = client, tables
    http = app.test_client()
    first, second = charge(http, "k5"), charge(http, "k5")
    assert first.get_json() == second.get_json()
    assert ledger_size(app, "k5") == 1
    store = dynsafe.IdempotencyStore(dynsafe.Table(client, tables.idempotency))
    record = store.get_record("k5")
    assert record is not None
    assert record.completed


# -- status mapping --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (dynsafe.NotOwnerError("x"), 403),
        (dynsafe.VersionConflictError("x"), 409),
        (dynsafe.ItemExistsError("x"), 409),
        (dynsafe.IdempotencyInProgressError("x", retry_after=3.0), 409),
        (dynsafe.IdempotencyKeyMismatchError("x"), 422),
        (dynsafe.IdempotencyOwnershipError("x"), 409),
        (dynsafe.ItemNotFoundError("x"), 404),
        (dynsafe.InvalidValueError("x"), 400),
        (dynsafe.ThrottledError("x"), 503),
        (dynsafe.OutcomeUnknownError("x"), 504),
        (dynsafe.TableNotFoundError("x"), 500),
        (RuntimeError("x"), 500),
    ],
)
def test_status_of_takes_the_closest_class(error: Exception, status: int) -> None:
    assert service.status_of(error) == status


def test_server_errors_hide_their_message(app: Any) -> None:
    with app.test_request_context():
        response, status = service.error_response(
            dynsafe.TableNotFoundError("table t-secret is missing")
        )
    assert status == 500
    assert "secret" not in response.get_data(as_text=True)
