"""An AWS Lambda handler behind API Gateway, on the service's account repository.

Routes (a REST API with Lambda proxy integration):

    GET  /accounts/{id}
    POST /accounts/{id}/withdraw   {"amount": 30}

The caller is the user the Cognito authorizer names
(``requestContext.authorizer.claims.sub``); the table is named by the
``ACCOUNTS_TABLE`` environment variable. Errors get the same statuses as in the
Flask service, from the same table (``service.STATUS``).

Deploy this file with ``service.py`` next to it (which imports Flask; move its
"domain" part into a module of its own to leave Flask out of the package).
"""

from __future__ import annotations

import base64
import functools
import json
import os
from typing import Any

import boto3
from service import (
    AccountRepository,
    InsufficientFundsError,
    account_json,
    status_of,
)

import dynsafe

Event = dict[str, Any]
Answer = dict[str, Any]

ANSWER_MARGIN = 1.0
"""Seconds of the invocation kept for answering after the last retry."""


class _RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --8<-- [start:handler]
@functools.cache
def accounts() -> AccountRepository:
    """The repository, made once per container and reused by its invocations.

    A new client costs about 0.1 s; a warm container reuses this one.
    """
    client = boto3.client("dynamodb")
    table = dynsafe.Table(client, os.environ["ACCOUNTS_TABLE"], key=("pk",))
    return AccountRepository(table)


def handler(event: Event, context: Any) -> Answer:
    """Answer one API Gateway proxy event."""
    try:
        return _route(event, context)
    except _RequestError as error:
        return _answer(error.status, {"message": str(error)})
    except (dynsafe.DynsafeError, InsufficientFundsError) as error:
        status = status_of(error)
        message = getattr(error, "message", str(error)) if status < 500 else "error"
        return _answer(status, {"error": type(error).__name__, "message": message})


def _route(event: Event, context: Any) -> Answer:
    mine = accounts().for_owner(_caller(event))
    account_id = str((event.get("pathParameters") or {}).get("id", ""))
    route = (event.get("httpMethod"), event.get("resource"))
    if route == ("GET", "/accounts/{id}"):
        account = mine.get(account_id)
        if account is None:
            raise _RequestError(404, "no such account")
        return _answer(200, account_json(account))
    if route == ("POST", "/accounts/{id}/withdraw"):
        amount = _amount(_body(event))
        # Retry conflicts only while the invocation has time left to answer.
        account = mine.withdraw(account_id, amount, policy=_policy(context))
        return _answer(200, account_json(account))
    raise _RequestError(404, "no such route")


# --8<-- [end:handler]


def _policy(context: Any) -> dynsafe.RetryPolicy | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    seconds = remaining() / 1000 - ANSWER_MARGIN
    return dynsafe.RetryPolicy(deadline=max(0.1, min(10.0, seconds)))


def _caller(event: Event) -> str:
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _RequestError(401, "no authenticated caller")
    return subject


def _body(event: Event) -> dict[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode("utf-8")
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _RequestError(400, "the body must be a JSON object")
    return body


def _amount(body: dict[str, Any]) -> int:
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise _RequestError(400, "amount must be a whole number of at least 1")
    return amount


def _answer(status: int, body: dict[str, Any]) -> Answer:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
