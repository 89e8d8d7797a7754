from __future__ import annotations

import pickle
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

import dynsafe
from dynsafe import errors
from dynsafe._table import Table

CODES: list[tuple[str, type[dynsafe.DynsafeError], bool]] = [
    ("ConditionalCheckFailedException", errors.ConditionFailedError, False),
    ("TransactionConflictException", errors.TransactionConflictError, True),
    ("TransactionInProgressException", errors.TransactionInProgressError, True),
    (
        "IdempotentParameterMismatchException",
        errors.IdempotentParameterMismatchError,
        False,
    ),
    ("ProvisionedThroughputExceededException", errors.ThrottledError, True),
    ("ThrottlingException", errors.ThrottledError, True),
    ("RequestLimitExceeded", errors.ThrottledError, True),
    ("ValidationException", errors.ValidationError, False),
    ("ResourceNotFoundException", errors.TableNotFoundError, False),
]


def _stubbed_table() -> tuple[Table, Stubber]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return Table(client, "accounts", key=("pk",)), Stubber(client)


@pytest.mark.parametrize(("code", "cls", "retryable"), CODES)
def test_every_code_translates_through_a_stubbed_request(
    code: str, cls: type[dynsafe.DynsafeError], retryable: bool
) -> None:
    table, stub = _stubbed_table()
    stub.add_client_error("update_item", service_error_code=code, service_message="m")
    with stub, pytest.raises(cls) as caught:
        table.update({"pk": "a"}, dynsafe_update())
    error = caught.value
    assert type(error) is cls
    assert error.code == code
    assert error.retryable is retryable
    assert error.table == "accounts"
    assert error.key == {"pk": "a"}
    assert isinstance(error.__cause__, ClientError)


def dynsafe_update() -> Any:
    from dynsafe._expressions import Update

    return Update().set("n", 1)


def test_conditional_check_failure_carries_the_returned_item() -> None:
    table, stub = _stubbed_table()
    stub.add_client_error(
        "update_item",
        service_error_code="ConditionalCheckFailedException",
        service_message="The conditional request failed",
        modeled_fields={"Item": {"pk": {"S": "a"}, "version": {"N": "7"}}},
    )
    with stub, pytest.raises(errors.ConditionFailedError) as caught:
        table.update({"pk": "a"}, dynsafe_update())
    assert caught.value.item == {"pk": "a", "version": 7}
    assert caught.value.item_returned is True


def test_transaction_cancellation_names_the_callers_actions() -> None:
    table, stub = _stubbed_table()
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        modeled_fields={
            "CancellationReasons": [
                {"Code": "None"},
                {
                    "Code": "ConditionalCheckFailed",
                    "Message": "failed",
                    "Item": {"pk": {"S": "b"}, "n": {"N": "1"}},
                },
            ]
        },
    )
    actions = [("put", "accounts", {"pk": "a"}), ("update", "ledger", {"pk": "b"})]
    check = {"TableName": "accounts", "Key": {"pk": {"S": "a"}}}
    request = {
        "TransactItems": [{"ConditionCheck": {**check, "ConditionExpression": "x"}}]
    }
    with stub, pytest.raises(errors.TransactionCanceledError) as caught:
        table.send("TransactWriteItems", request, actions=actions)
    error = caught.value
    assert [r.code for r in error.reasons] == ["None", "ConditionalCheckFailed"]
    (failure,) = error.failures
    assert (failure.index, failure.action, failure.table) == (1, "update", "ledger")
    assert failure.key == {"pk": "b"}
    assert failure.item == {"pk": "b", "n": 1}
    assert error.retryable is False
    assert "#1 update ConditionalCheckFailed" in str(error)


def test_cancellation_only_by_conflicts_is_retryable() -> None:
    error = errors.TransactionCanceledError(
        "x",
        reasons=[
            errors.CancellationReason(0, code="TransactionConflict"),
            errors.CancellationReason(1, code="None"),
        ],
    )
    assert error.conflicted
    assert error.retryable


def test_unknown_code_stays_a_dynsafe_error_with_its_code() -> None:
    error = errors.translate(
        ClientError({"Error": {"Code": "Weird", "Message": "odd"}}, "GetItem"),
        operation="GetItem",
    )
    assert type(error) is errors.DynsafeError
    assert error.code == "Weird"


def test_lost_response_of_a_write_is_outcome_unknown_and_of_a_read_transport() -> None:
    timeout = ReadTimeoutError(endpoint_url="x")
    write = errors.translate(timeout, operation="UpdateItem")
    read = errors.translate(timeout, operation="GetItem")
    never_sent = errors.translate(
        ConnectTimeoutError(endpoint_url="x"), operation="PutItem"
    )
    assert isinstance(write, errors.OutcomeUnknownError)
    assert isinstance(read, errors.TransportError)
    assert read.retryable
    assert isinstance(never_sent, errors.TransportError)


def test_size_validation_becomes_item_too_large() -> None:
    error = errors.translate(
        ClientError(
            {
                "Error": {
                    "Code": "ValidationException",
                    "Message": "Item size has exceeded the maximum allowed size",
                }
            },
            "PutItem",
        ),
        operation="PutItem",
    )
    assert isinstance(error, errors.ItemTooLargeError)
    assert isinstance(error, ValueError)


ALL_ERRORS = [
    errors.VersionConflictError(
        "v",
        table="t",
        key={"pk": "a"},
        expected_version=1,
        actual_version=2,
        item={"pk": "a", "secret": "s3cr3t"},
        item_returned=True,
    ),
    errors.TransactionCanceledError(
        "c", reasons=[errors.CancellationReason(0, "put", "t", {"pk": "a"}, "None")]
    ),
    errors.BoundExceededError("b", floor=0, delta=-1),
    errors.NotOwnerError("o", owner="bo"),
    errors.IdempotencyInProgressError("i", retry_after=1.5),
    errors.OutcomeUnknownError("u", operation="PutItem"),
    errors.ValidationError("bad"),
]


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda e: type(e).__name__)
def test_errors_pickle_with_their_fields(error: errors.DynsafeError) -> None:
    error.attempts = 3
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.__dict__ == error.__dict__
    assert str(copy) == str(error)


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda e: type(e).__name__)
def test_str_is_one_line_without_item_contents(error: errors.DynsafeError) -> None:
    text = str(error)
    assert "\n" not in text
    assert "s3cr3t" not in text


def test_every_error_hangs_from_the_root_and_misuse_errors_from_builtins() -> None:
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, errors.DynsafeError), name
    assert issubclass(errors.ValidationError, ValueError)
    assert issubclass(errors.ItemNotFoundError, LookupError)
    assert issubclass(errors.InvalidValueError, TypeError)
    assert issubclass(errors.BoundExceededError, errors.ConditionFailedError)
