"""The Lambda handler example, called with API Gateway proxy events on moto."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

import dynsafe
from tests.conftest import Backend

lambda_handler: Any = importlib.import_module("lambda_handler")
service: Any = importlib.import_module("service")


class FakeContext:
    """The part of a Lambda context the handler reads."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def accounts(moto: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    name = moto.table()
    monkeypatch.setenv("ACCOUNTS_TABLE", name)
    lambda_handler.accounts.cache_clear()
    repository = service.AccountRepository(
        dynsafe.Table(moto.client(), name, key=("pk",))
    )
    repository.for_owner("user-17").open("a1", 100)
    yield repository
    lambda_handler.accounts.cache_clear()  # its client belongs to this moto


def event(
    method: str,
    resource: str,
    account: str = "a1",
    body: Any = None,
    user: str | None = "user-17",
) -> dict[str, Any]:
    claims = {"sub": user} if user is not None else {}
    return {
        "httpMethod": method,
        "resource": resource,
        "path": resource.replace("{id}", account),
        "pathParameters": {"id": account},
        "headers": {"Content-Type": "application/json"},
        "requestContext": {"authorizer": {"claims": claims}},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(event: dict[str, Any], context: Any = None) -> tuple[int, dict[str, Any]]:
    answer = lambda_handler.handler(event, context or FakeContext(30_000))
    assert answer["headers"]["Content-Type"] == "application/json"
    return answer["statusCode"], json.loads(answer["body"])


WITHDRAW = "/accounts/{id}/withdraw"


def test_withdraw_answers_the_new_balance(accounts: Any) -> None:
    status, body = call(event("POST", WITHDRAW, body={"amount": 30}))
    assert (status, body) == (200, {"id": "a1", "balance": 70, "version": 2})
    assert accounts.for_owner("user-17").get("a1").balance == 70


def test_get_reads_the_account(accounts: Any) -> None:
    assert call(event("GET", "/accounts/{id}")) == (
        200,
        {"id": "a1", "balance": 100, "version": 1},
    )


def test_base64_body_is_decoded(accounts: Any) -> None:
    sent = event("POST", WITHDRAW)
    sent["body"] = base64.b64encode(b'{"amount": 5}').decode()
    sent["isBase64Encoded"] = True
    assert call(sent)[1]["balance"] == 95


def test_without_a_context_deadline_the_default_policy_applies(accounts: Any) -> None:
    answer = lambda_handler.handler(event("POST", WITHDRAW, body={"amount": 1}), None)
    assert answer["statusCode"] == 200


@pytest.mark.parametrize(
    ("sent", "status", "error"),
    [
        (event("POST", WITHDRAW, body={"amount": 101}), 422, "InsufficientFundsError"),
        (event("POST", WITHDRAW, "nope", body={"amount": 1}), 404, "ItemNotFoundError"),
        (
            event("POST", WITHDRAW, body={"amount": 1}, user="user-99"),
            403,
            "NotOwnerError",
        ),
    ],
)
def test_errors_get_the_services_statuses(
    accounts: Any, sent: dict[str, Any], status: int, error: str
) -> None:
    answer_status, body = call(sent)
    assert (answer_status, body["error"]) == (status, error)
    assert accounts.for_owner("user-17").get("a1").balance == 100


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        (event("POST", WITHDRAW, body={"amount": 0}), 400),
        (event("POST", WITHDRAW, body=["amount", 1]), 400),
        (event("POST", WITHDRAW, body={"amount": 1}, user=None), 401),
        (event("GET", "/accounts/{id}", "nope"), 404),
        (event("DELETE", "/accounts/{id}"), 404),
    ],
)
def test_bad_requests_are_refused_before_any_write(
    accounts: Any, sent: dict[str, Any], status: int
) -> None:
    assert call(sent)[0] == status
    assert accounts.for_owner("user-17").get("a1").version == 1


def test_unparsable_body_is_400(accounts: Any) -> None:
    sent = event("POST", WITHDRAW)
    sent["body"] = "amount=1"
    assert call(sent) == (400, {"message": "the body must be a JSON object"})


def test_retries_stop_before_the_invocation_runs_out() -> None:
    policy = lambda_handler._policy(FakeContext(3_500))
    assert policy.deadline == pytest.approx(3.5 - lambda_handler.ANSWER_MARGIN)
    assert lambda_handler._policy(FakeContext(200)).deadline == 0.1
    assert lambda_handler._policy(FakeContext(60_000)).deadline == 10.0
    assert lambda_handler._policy(None) is None
