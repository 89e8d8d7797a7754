"""A small Flask service on dynsafe: withdrawals, a view counter, idempotent charges.

Endpoints, JSON in and out:

    POST /accounts                 {"id": "a1", "balance": 100}     201
    GET  /accounts/<id>                                              200
    POST /accounts/<id>/withdraw   {"amount": 30}                    200, 404, 409, 422
    POST /pages/<id>/views                                           200 {"views": n}
    GET  /pages/<id>/views                                           200 {"views": n}
    POST /charges                  {"account": "a1", "amount": 25}   201, 400, 409, 422
         with an Idempotency-Key header; a retry gets the first answer back

The ``X-User`` header names the caller, standing in for your authentication: an
account belongs to the user who opened it, and only that user may withdraw.

``create_app(..., naive=True)`` also serves the same endpoints under ``/naive``,
written the way they often are (a read, then a plain write; a charge with no
idempotency), so that ``service_race.py`` can show what they lose.

Serve it on loopback against dynalite: ``python docs/examples/service.py``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from flask import Blueprint, Flask, Response, abort, g, jsonify, request
from werkzeug.exceptions import HTTPException

import dynsafe
from dynsafe import testing

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

logger = logging.getLogger("service")


# --8<-- [start:tables]
@dataclass(frozen=True)
class Tables:
    """The service's tables, each keyed by a string ``pk``."""

    accounts: str = "accounts"
    pages: str = "pages"
    idempotency: str = "idempotency"
    ledger: str = "ledger"

    def create(self, client: DynamoDBClient) -> None:
        for name in (self.accounts, self.pages, self.idempotency, self.ledger):
            testing.create_table(client, name)


# --8<-- [end:tables]


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

    def open(self, account_id: str, balance: int) -> Account:
        return self.create(Account(account_id, balance))

    def withdraw(
        self, account_id: str, amount: int, policy: dynsafe.RetryPolicy | None = None
    ) -> Account:
        def take(account: Account) -> Account:
            if account.balance < amount:
                raise InsufficientFundsError(account_id)
            return replace(account, balance=account.balance - amount)

        # Read, apply, write under the version check; on a conflict, apply `take`
        # again to the account as the winner left it. `take` must stay pure.
        return self.update(account_id, take, policy=policy)


# --8<-- [end:repository]


# --8<-- [start:errors]
STATUS: dict[type[Exception], int] = {
    InsufficientFundsError: 422,
    dynsafe.NotOwnerError: 403,  # the owner condition failed inside the write
    dynsafe.IdempotencyKeyMismatchError: 422,  # the key came with another body
    dynsafe.ConflictError: 409,  # retries ran out, the key exists, or is in use
    dynsafe.IdempotencyOwnershipError: 409,  # the lease ran out; another holder answers
    dynsafe.ItemNotFoundError: 404,
    dynsafe.ValidationError: 400,
    dynsafe.ThrottledError: 503,
    dynsafe.TransportError: 503,
    dynsafe.OutcomeUnknownError: 504,  # the write may have landed: read, then retry
    dynsafe.DynsafeError: 500,
}
"""HTTP status by error class; an error takes the entry of its closest class."""

RETRY_AFTER_SECONDS = 1
"""What a 409 for a charge in progress, or a 503, tells the client to wait."""


def status_of(error: Exception) -> int:
    """The HTTP status of ``error``: that of its closest class in STATUS, else 500."""
    return next((STATUS[cls] for cls in type(error).__mro__ if cls in STATUS), 500)


def error_response(error: Exception) -> tuple[Response, int]:
    """The one error handler: every error the routes raise becomes a JSON answer."""
    if isinstance(error, HTTPException):
        status, message = error.code or 500, str(error.description)
    else:
        status, message = status_of(error), getattr(error, "message", str(error))
    if status >= 500:
        logger.warning("%s answered with %d", type(error).__name__, status)
        message = "the service could not complete the request"
    response = jsonify(error=type(error).__name__, message=message)
    # A charge in progress finishes in milliseconds; error.retry_after is the end
    # of its lease, when a crashed holder's claim could be taken over.
    if isinstance(error, dynsafe.IdempotencyInProgressError) or status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, status


# --8<-- [end:errors]


# -- reading the request ---------------------------------------------------------------


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    return body


def _whole(body: dict[str, Any], name: str, least: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        abort(400, f"{name} must be a whole number of at least {least}")
    return value


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        abort(400, f"{name} must be a non-empty string")
    return value


def _header(name: str) -> str:
    value = request.headers.get(name)
    if not value:
        abort(400, f"the {name} header is required")
    return value


def account_json(account: Account) -> dict[str, Any]:
    """An account as the API shows it."""
    return {"id": account.pk, "balance": account.balance, "version": account.version}


# -- the service -----------------------------------------------------------------------


def create_app(
    client: DynamoDBClient,
    tables: Tables = Tables(),
    *,
    naive: bool = False,
    policy: dynsafe.RetryPolicy | None = None,
    charge_in_transaction: bool = False,
) -> Flask:
    """The Flask app, on one shared client (boto3 clients are thread-safe).

    Args:
        client: The DynamoDB client.
        tables: The table names.
        naive: Also serve the naive endpoints under ``/naive``.
        policy: The retry policy of withdrawals, dynsafe's default if ``None``.
        charge_in_transaction: Write a charge's ledger item in the same
            transaction as its completed idempotency record (needs
            ``TransactWriteItems``, which dynalite does not have).
    """
    app = Flask(__name__)
    app.register_blueprint(_safe_routes(client, tables, policy, charge_in_transaction))
    if naive:
        app.register_blueprint(_naive_routes(client, tables), url_prefix="/naive")
    for kind in (dynsafe.DynsafeError, InsufficientFundsError, HTTPException):
        app.register_error_handler(kind, error_response)
    return app


def _safe_routes(
    client: DynamoDBClient,
    tables: Tables,
    policy: dynsafe.RetryPolicy | None,
    charge_in_transaction: bool,
) -> Blueprint:
    routes = Blueprint("safe", __name__)
    _account_routes(routes, client, tables, policy)
    _view_routes(routes, client, tables)
    _charge_routes(routes, client, tables, charge_in_transaction)
    return routes


# --8<-- [start:accounts]
def _account_routes(
    routes: Blueprint,
    client: DynamoDBClient,
    tables: Tables,
    policy: dynsafe.RetryPolicy | None,
) -> None:
    table = dynsafe.Table(client, tables.accounts, key=("pk",))
    accounts = AccountRepository(table, policy=policy)

    @routes.post("/accounts")
    def open_account() -> tuple[Response, int]:
        body = _body()
        mine = accounts.for_owner(_header("X-User"))
        account = mine.open(_text(body, "id"), _whole(body, "balance", 0))
        return jsonify(account_json(account)), 201

    @routes.get("/accounts/<account_id>")
    def get_account(account_id: str) -> Response:
        account = accounts.for_owner(_header("X-User")).get(account_id)
        if account is None:
            abort(404, "no such account")
        return jsonify(account_json(account))

    @routes.post("/accounts/<account_id>/withdraw")
    def withdraw(account_id: str) -> Response:
        amount = _whole(_body(), "amount", 1)
        account = accounts.for_owner(_header("X-User")).withdraw(account_id, amount)
        return jsonify(account_json(account))


# --8<-- [end:accounts]


# --8<-- [start:views]
def _view_routes(routes: Blueprint, client: DynamoDBClient, tables: Tables) -> None:
    pages = dynsafe.Table(client, tables.pages, key=("pk",))

    def views(page_id: str) -> dynsafe.Counter:
        # One UpdateItem with ADD per view: nothing is read, so nothing is lost.
        return dynsafe.Counter(pages, {"pk": page_id}, "views")

    @routes.post("/pages/<page_id>/views")
    def count_view(page_id: str) -> Response:
        return jsonify(page=page_id, views=views(page_id).add(1))

    @routes.get("/pages/<page_id>/views")
    def get_views(page_id: str) -> Response:
        return jsonify(page=page_id, views=views(page_id).value())


# --8<-- [end:views]


# --8<-- [start:charges]
def _charge_routes(
    routes: Blueprint,
    client: DynamoDBClient,
    tables: Tables,
    charge_in_transaction: bool,
) -> None:
    ledger = dynsafe.Table(client, tables.ledger, key=("pk",))
    store = dynsafe.IdempotencyStore(
        dynsafe.Table(client, tables.idempotency, key=("pk",)),
        ttl=timedelta(hours=24),
        lease=timedelta(seconds=10),  # a holder that crashed frees the key after 10 s
    )

    # The key names the request; the body must be the same when the key comes again.
    @dynsafe.idempotent(
        store, key=lambda key, body: key, payload=lambda key, body: body
    )
    def charge_once(key: str, body: dict[str, Any]) -> dict[str, Any]:
        charge_id = f"charge#{uuid.uuid4().hex}"
        entry = {"pk": charge_id, "idempotency_key": key, **body}
        if charge_in_transaction:
            # Commits with the completed record, or neither lands.
            dynsafe.idempotency_context().transaction.put(ledger, entry)
        else:
            ledger.put(entry, condition=Attr("pk").not_exists())  # a new id each time
        g.charge_executed = True
        return {"id": charge_id, **body}

    @routes.post("/charges")
    def charge() -> tuple[Response, int]:
        key = _header("Idempotency-Key")
        body = _body()
        wanted = {
            "account": _text(body, "account"),
            "amount": _whole(body, "amount", 1),
        }
        g.charge_executed = False
        response = jsonify(charge_once(key, wanted))
        response.headers["Idempotent-Replayed"] = str(not g.charge_executed).lower()
        return response, 201


# --8<-- [end:charges]


# -- the same endpoints, written naively -----------------------------------------------


# --8<-- [start:naive]
def _naive_routes(client: DynamoDBClient, tables: Tables) -> Blueprint:
    routes = Blueprint("naive", __name__)

    def read(table: str, key: str) -> dict[str, Any]:
        found = client.get_item(
            TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True
        )
        return dict(found.get("Item") or {"pk": {"S": key}})

    @routes.post("/accounts/<account_id>/withdraw")
    def withdraw(account_id: str) -> Response:
        amount = _whole(_body(), "amount", 1)
        item = read(tables.accounts, account_id)
        if "balance" not in item:
            abort(404, "no such account")
        if item.get("owner", {}).get("S") != _header("X-User"):
            abort(403, "not your account")
        balance = int(item["balance"]["N"])
        if balance < amount:
            raise InsufficientFundsError(account_id)
        # Another withdrawal between the read and this write is overwritten.
        item["balance"] = {"N": str(balance - amount)}
        client.put_item(TableName=tables.accounts, Item=item)  # dynsafe: ignore[DS101]
        return jsonify(id=account_id, balance=balance - amount)

    @routes.post("/pages/<page_id>/views")
    def count_view(page_id: str) -> Response:
        item = read(tables.pages, page_id)
        views = int(item.get("views", {}).get("N", "0")) + 1
        item["views"] = {"N": str(views)}
        client.put_item(TableName=tables.pages, Item=item)  # dynsafe: ignore[DS101]
        return jsonify(page=page_id, views=views)

    @routes.post("/charges")
    def charge() -> tuple[Response, int]:
        key = _header("Idempotency-Key")
        body = _body()
        charge_id = f"charge#{uuid.uuid4().hex}"
        entry = {
            "pk": {"S": charge_id},
            "idempotency_key": {"S": key},
            "account": {"S": _text(body, "account")},
            "amount": {"N": str(_whole(body, "amount", 1))},
        }
        client.put_item(TableName=tables.ledger, Item=entry)  # every retry charges
        return jsonify(id=charge_id), 201

    return routes


# --8<-- [end:naive]


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the app on loopback against a fresh dynalite until interrupted."""
    with testing.Dynalite() as dynalite:
        client = testing.local_client(dynalite.endpoint_url)
        Tables().create(client)
        create_app(client, naive=True).run(host=host, port=port, threaded=True)


if __name__ == "__main__":
    serve()
