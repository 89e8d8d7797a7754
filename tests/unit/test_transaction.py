from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

import dynsafe
from dynsafe import testing
from dynsafe.transaction import REPLAY_WINDOW

from ..conftest import Backend

NO_WAIT = dynsafe.RetryPolicy(sleep=lambda _: None)
ANY_TOKEN = {"TransactItems": ANY, "ClientRequestToken": ANY}


@dataclass
class Bank:
    client: Any
    accounts: dynsafe.Table
    ledger: dynsafe.Table
    limits: dynsafe.Table
    sent: testing.RequestCounter

    def balance(self, pk: str) -> Any:
        item = self.accounts.get({"pk": pk})
        return None if item is None else item["balance"]


@pytest.fixture
def bank(moto: Backend) -> Bank:
    client = moto.client()
    tables = [dynsafe.Table(client, moto.table(), key=("pk",)) for _ in range(3)]
    tables[0].put({"pk": "a1", "balance": 100})
    tables[0].put({"pk": "a2", "balance": 0})
    tables[2].put({"pk": "a1", "frozen": False})
    accounts, ledger, limits = tables
    return Bank(client, accounts, ledger, limits, testing.RequestCounter(client))


@pytest.fixture
def versioned(bank: Bank) -> dynsafe.VersionedTable:
    return dynsafe.VersionedTable(bank.accounts)


def stubbed() -> tuple[dynsafe.Table, Stubber]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return dynsafe.Table(client, "accounts", key=("pk",)), Stubber(client)


def cancellation(*codes: str) -> dict[str, Any]:
    return {"CancellationReasons": [{"Code": code} for code in codes]}


# -- committing ---------------------------------------------------------------------


def test_transfer_commits_every_action_on_clean_exit(bank: Bank) -> None:
    accounts, ledger, limits = bank.accounts, bank.ledger, bank.limits
    # --8<-- [start:transfer]
    with dynsafe.transaction() as tx:
        # Take 10 from a1 only if it holds at least 10 ...
        tx.update(
            accounts,
            {"pk": "a1"},
            add={"balance": -10},
            condition=Attr("balance").gte(10),
        )
        # ... give them to a2 ...
        tx.update(accounts, {"pk": "a2"}, add={"balance": 10})
        # ... record the transfer once: a second tx#77 cancels everything ...
        tx.put(ledger, {"pk": "tx#77", "amount": 10}, condition=Attr("pk").not_exists())
        # ... and only while a1 is not frozen, an item this transaction does not write.
        tx.check(limits, {"pk": "a1"}, Attr("frozen").eq(False))
    # --8<-- [end:transfer]
    assert (bank.balance("a1"), bank.balance("a2")) == (90, 10)
    assert ledger.get({"pk": "tx#77"}) == {"pk": "tx#77", "amount": 10}
    assert bank.sent.counts["TransactWriteItems"] == 1


def test_an_error_inside_the_block_sends_nothing(bank: Bank) -> None:
    def change_of_mind() -> None:
        with dynsafe.transaction() as tx:
            tx.update(bank.accounts, {"pk": "a1"}, add={"balance": -10})
            raise RuntimeError("the caller changed its mind")

    with pytest.raises(RuntimeError):
        change_of_mind()
    assert bank.sent.counts["TransactWriteItems"] == 0
    assert bank.balance("a1") == 100


def test_a_transaction_used_directly_commits_once(bank: Bank) -> None:
    tx = dynsafe.Transaction()
    tx.put(bank.ledger, {"pk": "tx#1", "amount": 3})
    tx.delete(bank.accounts, {"pk": "a2"}, condition=Attr("balance").eq(0))
    tx.update(bank.accounts, {"pk": "a1"}, set={"owner": "bo"}, remove=["balance"])
    assert tx.actions == [
        ("put", bank.ledger.name, {"pk": "tx#1"}),
        ("delete", bank.accounts.name, {"pk": "a2"}),
        ("update", bank.accounts.name, {"pk": "a1"}),
    ]
    tx.commit()
    assert tx.committed
    assert bank.accounts.get({"pk": "a1"}) == {"pk": "a1", "owner": "bo"}
    assert bank.accounts.get({"pk": "a2"}) is None
    with pytest.raises(dynsafe.ValidationError, match="committed"):
        tx.commit()
    with pytest.raises(dynsafe.ValidationError, match="committed"):
        tx.put(bank.ledger, {"pk": "tx#2"})
    assert bank.sent.counts["TransactWriteItems"] == 1


def test_a_boto3_table_resource_mixes_with_a_dynsafe_table(bank: Bank) -> None:
    resource = boto3.resource("dynamodb", region_name="us-east-1")
    with dynsafe.transaction() as tx:
        tx.update(resource.Table(bank.accounts.name), {"pk": "a1"}, add={"balance": 1})
        tx.put(bank.ledger, {"pk": "tx#1"})
    assert bank.balance("a1") == 101


def test_request_shape_placeholders_all_old_and_the_token() -> None:
    table, stub = stubbed()
    tx = dynsafe.Transaction(token="order-42")
    tx.update(table, {"pk": "a"}, add={"n": 1}, condition=Attr("n").lt(5))
    tx.check(table, {"pk": "b"}, Attr("pk").exists())
    update = {
        "TableName": "accounts",
        "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "ADD #n0 :v0",
        "ConditionExpression": "#n0 < :v1",
        "ExpressionAttributeNames": {"#n0": "n"},
        "ExpressionAttributeValues": {":v0": {"N": "1"}, ":v1": {"N": "5"}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    check = {
        "TableName": "accounts",
        "Key": {"pk": {"S": "b"}},
        "ConditionExpression": "attribute_exists(#n0)",
        "ExpressionAttributeNames": {"#n0": "pk"},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    stub.add_response(
        "transact_write_items",
        {},
        {
            "TransactItems": [{"Update": update}, {"ConditionCheck": check}],
            "ClientRequestToken": "order-42",
        },
    )
    with stub:
        tx.commit()
    stub.assert_no_pending_responses()


# -- cancellation -------------------------------------------------------------------


def test_reasons_follow_the_order_the_actions_were_added(
    bank: Bank, versioned: dynsafe.VersionedTable
) -> None:
    stored = versioned.create({"pk": "v1", "balance": 5})
    versioned.put({**stored, "balance": 6})  # stored is now stale
    bank.ledger.put({"pk": "tx#1", "amount": 1})
    tx = dynsafe.Transaction(policy=NO_WAIT)
    tx.put(bank.ledger, {"pk": "tx#2"})
    tx.update(
        bank.accounts,
        {"pk": "a1"},
        add={"balance": -500},
        condition=Attr("balance").gte(500),
    )
    tx.check(bank.limits, {"pk": "a1"}, Attr("frozen").eq(False))
    tx.put_versioned(versioned, {**stored, "balance": 7})
    tx.delete(bank.ledger, {"pk": "tx#1"}, condition=Attr("amount").eq(2))
    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        tx.commit()
    reasons = caught.value.reasons
    assert [(r.index, r.action, r.table, r.key) for r in reasons] == [
        (0, "put", bank.ledger.name, {"pk": "tx#2"}),
        (1, "update", bank.accounts.name, {"pk": "a1"}),
        (2, "check", bank.limits.name, {"pk": "a1"}),
        (3, "put_versioned", bank.accounts.name, {"pk": "v1"}),
        (4, "delete", bank.ledger.name, {"pk": "tx#1"}),
    ]
    assert [r.code for r in reasons] == [
        "None",
        "ConditionalCheckFailed",
        "None",
        "ConditionalCheckFailed",
        "ConditionalCheckFailed",
    ]
    assert reasons[1].item == {"pk": "a1", "balance": 100}
    assert reasons[4].item == {"pk": "tx#1", "amount": 1}
    assert (reasons[3].version_conflict, (reasons[3].item or {}).get("balance")) == (
        True,
        6,
    )
    assert not any(r.version_conflict for r in reasons[:3] + reasons[4:])
    assert reasons[1].message
    assert caught.value.attempts == 1
    assert bank.ledger.get({"pk": "tx#2"}) is None


def test_helpers_tell_version_conflicts_from_the_callers_conditions(
    bank: Bank, versioned: dynsafe.VersionedTable
) -> None:
    stored = versioned.create({"pk": "v1", "balance": 5})
    versioned.put({**stored, "balance": 6})
    tx = dynsafe.Transaction()
    tx.put_versioned(versioned, {**stored, "balance": 7})
    tx.update(bank.accounts, {"pk": "a2"}, add={"n": 1}, condition=Attr("n").exists())
    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        tx.commit()
    error = caught.value
    assert [r.index for r in error.version_conflicts] == [0]
    assert [r.index for r in error.conditions_failed] == [1]
    assert [r.index for r in error.failures] == [0, 1]
    assert error.codes == ["ConditionalCheckFailed"]
    assert error.retryable is False
    assert "#0 put_versioned ConditionalCheckFailed (version)" in str(error)


@pytest.mark.parametrize(
    ("stale", "caller_condition_holds", "version_conflict"),
    [(True, True, True), (True, False, True), (False, False, False)],
)
def test_own_condition_on_a_versioned_action_is_told_apart_by_the_item(
    versioned: dynsafe.VersionedTable,
    stale: bool,
    caller_condition_holds: bool,
    version_conflict: bool,
) -> None:
    read = versioned.create({"pk": "v1", "balance": 5})
    if stale:
        versioned.put({**read, "balance": 6})
    limit = 1 if caller_condition_holds else 100
    tx = dynsafe.Transaction()
    tx.update_versioned(
        versioned, read, add={"balance": -1}, condition=Attr("balance").gte(limit)
    )
    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        tx.commit()
    (reason,) = caught.value.failures
    assert reason.version_conflict is version_conflict
    assert bool(caught.value.conditions_failed) is not version_conflict


CANCELLATION_CODES = [
    ("ConditionalCheckFailed", False),
    ("ItemCollectionSizeLimitExceeded", False),
    ("ValidationError", False),
    ("TransactionConflict", True),
    ("ThrottlingError", True),
    ("ProvisionedThroughputExceeded", True),
]


@pytest.mark.parametrize(("code", "retryable"), CANCELLATION_CODES)
def test_every_cancellation_code_is_mapped_and_retried_only_if_worth_it(
    code: str, retryable: bool
) -> None:
    table, stub = stubbed()
    tx = dynsafe.Transaction(policy=NO_WAIT.replace(attempts=3))
    tx.put(table, {"pk": "a"})
    tx.delete(table, {"pk": "b"})
    expected = {"TransactItems": ANY, "ClientRequestToken": tx.token}
    for _ in range(3 if retryable else 1):
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            modeled_fields=cancellation("None", code),
            expected_params=expected,
        )
    with stub, pytest.raises(dynsafe.TransactionCanceledError) as caught:
        tx.commit()
    stub.assert_no_pending_responses()
    assert [r.code for r in caught.value.reasons] == ["None", code]
    assert [r.action for r in caught.value.failures] == ["delete"]
    assert caught.value.retryable is retryable
    assert caught.value.attempts == (3 if retryable else 1)


# -- validation ---------------------------------------------------------------------

BIG = "x" * (300 * 1024)


def _two_on_one_item(tx: dynsafe.Transaction, t: dynsafe.Table) -> None:
    tx.put(t, {"pk": "a", "n": 1})
    tx.check(t, {"pk": "b"}, Attr("pk").exists())
    tx.update(t, {"pk": "a"}, add={"n": 1})


def _over_the_request_limit(tx: dynsafe.Transaction, t: dynsafe.Table) -> None:
    for n in range(14):
        tx.put(t, {"pk": f"k{n}", "blob": BIG})


def _too_many(tx: dynsafe.Transaction, t: dynsafe.Table) -> None:
    for n in range(101):
        tx.check(t, {"pk": f"k{n}"}, Attr("pk").exists())


def _other_region(tx: dynsafe.Transaction, t: dynsafe.Table) -> None:
    tx.put(t, {"pk": "a"})
    other = boto3.client("dynamodb", region_name="eu-west-1")
    tx.put(dynsafe.Table(other, "accounts", key=("pk",)), {"pk": "b"})


INVALID: list[tuple[str, Callable[[dynsafe.Transaction, dynsafe.Table], None], str]] = [
    ("two actions on one item", _two_on_one_item, r"action #2 \(update\).*as #0"),
    ("request over 4 MB", _over_the_request_limit, r"action #13 \(put\).*4194304"),
    ("101 actions", _too_many, r"action #100 \(check\).*at most 100"),
    (
        "item over 400 KB",
        lambda tx, t: tx.put(t, {"pk": "a", "blob": BIG + BIG}),
        r"action #0 \(put\).*409600",
    ),
    (
        "key without its attribute",
        lambda tx, t: tx.update(t, {"id": "a"}, add={"n": 1}),
        r"action #0 \(update\).*missing key attribute\(s\) pk",
    ),
    (
        "key with an extra attribute",
        lambda tx, t: tx.delete(t, {"pk": "a", "n": 1}),
        r"action #0 \(delete\).*n not key attribute",
    ),
    (
        "item without its key",
        lambda tx, t: tx.put(t, {"n": 1}),
        r"action #0 \(put\).*missing key",
    ),
    (
        "update of a key attribute",
        lambda tx, t: tx.update(t, {"pk": "a"}, set={"pk": "b"}),
        r"action #0 \(update\).*may not change pk",
    ),
    (
        "update with no change",
        lambda tx, t: tx.update(t, {"pk": "a"}),
        r"action #0 \(update\).*at least one action",
    ),
    (
        "remove given a bare string",
        lambda tx, t: tx.update(t, {"pk": "a"}, remove="n"),
        r"action #0 \(update\).*list of names",
    ),
    (
        "check without a condition",
        lambda tx, t: tx.check(t, {"pk": "a"}, None),  # type: ignore[arg-type]
        r"action #0 \(check\).*needs a condition",
    ),
    ("tables on clients for another region", _other_region, r"action #1.*eu-west-1"),
]


@pytest.mark.parametrize(
    ("build", "message"),
    [pytest.param(build, message, id=case) for case, build, message in INVALID],
)
def test_a_bad_action_is_refused_by_name_before_anything_is_sent(
    build: Callable[[dynsafe.Transaction, dynsafe.Table], None], message: str
) -> None:
    table, stub = stubbed()  # no responses: any request would fail the test
    tx = dynsafe.Transaction()
    with stub, pytest.raises(dynsafe.ValidationError, match=message) as caught:
        build(tx, table)
    assert caught.value.table == "accounts"
    assert table.stats.total == 0


def test_the_refused_action_is_left_out_and_the_rest_can_commit() -> None:
    table, stub = stubbed()
    tx = dynsafe.Transaction()
    tx.put(table, {"pk": "a"})
    with pytest.raises(dynsafe.ItemTooLargeError):
        tx.put(table, {"pk": "b", "blob": BIG + BIG})
    stub.add_response("transact_write_items", {}, ANY_TOKEN)
    with stub:
        tx.commit()
    assert tx.actions == [("put", "accounts", {"pk": "a"})]


def test_an_empty_transaction_is_refused() -> None:
    with pytest.raises(dynsafe.ValidationError, match="at least one action"):
        dynsafe.Transaction().commit()
    with pytest.raises(dynsafe.ValidationError), dynsafe.transaction():
        pass


@pytest.mark.parametrize("token", ["", "x" * 37, 42])
def test_a_token_must_be_1_to_36_characters(token: Any) -> None:
    with pytest.raises(dynsafe.ValidationError, match="1 to 36"):
        dynsafe.Transaction(token=token)


def test_the_error_names_the_key_but_never_the_items_contents() -> None:
    table, _ = stubbed()
    with pytest.raises(dynsafe.ItemTooLargeError) as caught:
        dynsafe.Transaction().put(table, {"pk": "a", "secret": "s3cr3t" + BIG + BIG})
    assert caught.value.key == {"pk": "a"}
    assert "s3cr3t" not in str(caught.value)


# -- versioned actions --------------------------------------------------------------


def test_versioned_put_bumps_the_version_and_records_the_token(
    bank: Bank, versioned: dynsafe.VersionedTable
) -> None:
    read = versioned.create({"pk": "v1", "balance": 5})
    tx = dynsafe.Transaction()
    new = tx.put_versioned(versioned, {"pk": "v2", "balance": 1})
    changed = tx.put_versioned(versioned, {**read, "balance": 4})
    tx.commit()
    assert (new["version"], changed["version"]) == (1, 2)
    assert versioned.get({"pk": "v1"}) == changed
    assert changed["dynsafe_tokens"] == [*read["dynsafe_tokens"], tx.token]
    assert versioned.get({"pk": "v2"}) == new


def test_versioned_put_of_a_key_that_exists_is_a_version_conflict(
    versioned: dynsafe.VersionedTable,
) -> None:
    versioned.create({"pk": "v1", "balance": 5})
    tx = dynsafe.Transaction()
    tx.put_versioned(versioned, {"pk": "v1", "balance": 1})
    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        tx.commit()
    assert [r.index for r in caught.value.version_conflicts] == [0]


def test_versioned_update_and_delete_honour_the_version_read(
    bank: Bank, versioned: dynsafe.VersionedTable
) -> None:
    first = versioned.create({"pk": "v1", "balance": 5, "note": "x"})
    second = versioned.create({"pk": "v2", "balance": 1})
    tx = dynsafe.Transaction()
    version = tx.update_versioned(
        versioned, first, set={"owner": "bo"}, add={"balance": 2}, remove=["note"]
    )
    tx.delete_versioned(versioned, second)
    tx.commit()
    stored = versioned.get({"pk": "v1"})
    assert stored is not None
    assert (version, stored["version"], stored["balance"]) == (2, 2, 7)
    assert (stored["owner"], "note" in stored) == ("bo", False)
    assert stored["dynsafe_tokens"] == [*first["dynsafe_tokens"], tx.token]
    assert versioned.get({"pk": "v2"}) is None

    stale = dynsafe.Transaction()
    stale.delete_versioned(versioned, first)
    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        stale.commit()
    assert caught.value.version_conflicts


def test_versioned_update_of_a_bare_key_creates_the_item(
    versioned: dynsafe.VersionedTable,
) -> None:
    tx = dynsafe.Transaction()
    assert tx.update_versioned(versioned, {"pk": "v9"}, set={"balance": 3}) == 1
    tx.commit()
    stored = versioned.get({"pk": "v9"})
    assert stored is not None
    assert (stored["balance"], stored["version"]) == (3, 1)


def test_versioned_actions_refuse_the_managed_attributes_and_an_unread_delete(
    versioned: dynsafe.VersionedTable,
) -> None:
    read = versioned.create({"pk": "v1", "balance": 5})
    tx = dynsafe.Transaction()
    with pytest.raises(dynsafe.ValidationError, match="may not change version"):
        tx.update_versioned(versioned, read, set={"version": 9})
    with pytest.raises(dynsafe.ValidationError, match="may not change dynsafe_tokens"):
        tx.update_versioned(versioned, read, remove=["dynsafe_tokens"])
    with pytest.raises(dynsafe.ValidationError, match="needs the item as read"):
        tx.delete_versioned(versioned, {"pk": "v1"})
    assert len(tx) == 0


def test_a_versioned_table_refuses_plain_actions(
    versioned: dynsafe.VersionedTable,
) -> None:
    tx = dynsafe.Transaction()
    with pytest.raises(TypeError, match="_versioned actions"):
        tx.update(versioned, {"pk": "v1"}, add={"balance": 1})
    assert len(tx) == 0


# -- tokens, retries and lost answers -----------------------------------------------


def test_conflicts_and_in_progress_are_resent_with_the_same_token() -> None:
    table, stub = stubbed()
    tx = dynsafe.Transaction(policy=NO_WAIT)
    tx.put(table, {"pk": "a"})
    tx.put(table, {"pk": "b"})
    same = {"TransactItems": ANY, "ClientRequestToken": tx.token}
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields=cancellation("TransactionConflict", "None"),
        expected_params=same,
    )
    for code in ("TransactionConflictException", "TransactionInProgressException"):
        stub.add_client_error(
            "transact_write_items", service_error_code=code, expected_params=same
        )
    stub.add_response("transact_write_items", {}, same)
    with stub:
        tx.commit()
    stub.assert_no_pending_responses()
    assert table.stats.by_operation() == {"TransactWriteItems": 4}


def test_idempotent_parameter_mismatch_is_typed_and_not_retried() -> None:
    table, stub = stubbed()
    tx = dynsafe.Transaction(token="reused", policy=NO_WAIT)
    tx.put(table, {"pk": "a"})
    stub.add_client_error(
        "transact_write_items",
        service_error_code="IdempotentParameterMismatchException",
        expected_params={"TransactItems": ANY, "ClientRequestToken": "reused"},
    )
    with stub, pytest.raises(dynsafe.IdempotentParameterMismatchError):
        tx.commit()
    assert table.stats.total == 1


def test_a_lost_answer_is_resent_as_the_identical_request() -> None:
    table, stub = stubbed()
    faults = testing.Faults(table.client)
    faults.lose_response("TransactWriteItems")
    tx = dynsafe.Transaction(policy=NO_WAIT)
    tx.update(table, {"pk": "a"}, add={"n": -1}, condition=Attr("n").gte(1))
    tx.update(table, {"pk": "b"}, add={"n": 1})
    sent: list[dict[str, Any]] = []
    table.hooks.append(lambda operation, params: sent.append(params))
    for _ in range(2):
        stub.add_response(
            "transact_write_items",
            {},
            {"TransactItems": ANY, "ClientRequestToken": tx.token},
        )
    with stub:
        tx.commit()
    stub.assert_no_pending_responses()
    assert faults.fired["TransactWriteItems"] == 1
    assert len(sent) == 2
    assert sent[0] == sent[1]
    assert sent[0]["ClientRequestToken"] == tx.token


def test_a_lost_answer_is_not_resent_once_the_token_may_have_expired() -> None:
    table, stub = stubbed()
    testing.Faults(table.client).lose_response("TransactWriteItems")
    now = [0.0]
    policy = NO_WAIT.replace(clock=lambda: now[0], deadline=None)
    tx = dynsafe.Transaction(policy=policy)
    tx.put(table, {"pk": "a"})

    def slow(operation: str, params: dict[str, Any]) -> None:
        now[0] += REPLAY_WINDOW  # the answer is lost this long after the send

    table.hooks.append(slow)
    stub.add_response("transact_write_items", {}, ANY_TOKEN)
    with stub, pytest.raises(dynsafe.OutcomeUnknownError):
        tx.commit()
    assert table.stats.total == 1


def test_a_lost_transfer_is_applied_once_when_its_ledger_refuses_the_replay(
    bank: Bank,
) -> None:
    # moto applies a replayed token again (see test below), so the ledger's
    # condition is what keeps the resend from moving the money twice.
    faults = testing.Faults(bank.client)
    faults.lose_response("TransactWriteItems")
    tx = dynsafe.Transaction(policy=NO_WAIT)
    tx.update(bank.accounts, {"pk": "a1"}, add={"balance": -10})
    tx.update(bank.accounts, {"pk": "a2"}, add={"balance": 10})
    tx.put(bank.ledger, {"pk": "tx#9", "amount": 10}, condition=Attr("pk").not_exists())
    with pytest.raises(dynsafe.OutcomeUnknownError) as caught:
        tx.commit()
    assert isinstance(caught.value.__cause__, dynsafe.TransactionCanceledError)
    assert (bank.balance("a1"), bank.balance("a2")) == (90, 10)
    assert bank.sent.counts["TransactWriteItems"] == 2


def test_a_lost_versioned_transfer_is_recognised_as_landed_and_applied_once(
    bank: Bank, versioned: dynsafe.VersionedTable
) -> None:
    source = versioned.create({"pk": "v1", "balance": 100})
    target = versioned.create({"pk": "v2", "balance": 0})
    testing.Faults(bank.client).lose_response("TransactWriteItems")
    tx = dynsafe.Transaction(policy=NO_WAIT)
    tx.put_versioned(versioned, {**source, "balance": 90})
    tx.put_versioned(versioned, {**target, "balance": 10})
    tx.commit()
    assert tx.committed
    stored = [versioned.get({"pk": pk}) for pk in ("v1", "v2")]
    assert [(s or {}).get("balance") for s in stored] == [90, 10]
    assert [(s or {}).get("version") for s in stored] == [2, 2]
    assert bank.sent.counts["TransactWriteItems"] == 2


def test_moto_applies_a_replayed_token_twice(bank: Bank) -> None:
    # Pins the backend gap docs/transactions.md describes (L-T1): if moto ever
    # replays tokens as DynamoDB does, this fails and the docs must change.
    params: dict[str, Any] = {
        "TransactItems": [
            {
                "Update": {
                    "TableName": bank.accounts.name,
                    "Key": {"pk": {"S": "a2"}},
                    "UpdateExpression": "ADD #b :one",
                    "ExpressionAttributeNames": {"#b": "balance"},
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ],
        "ClientRequestToken": "same-token",
    }
    bank.client.transact_write_items(**params)
    bank.client.transact_write_items(**params)
    assert bank.balance("a2") == 2


# -- run_transaction ----------------------------------------------------------------


def test_run_transaction_builds_again_from_fresh_reads_after_a_stale_version(
    bank: Bank, versioned: dynsafe.VersionedTable
) -> None:
    versioned.create({"pk": "v1", "balance": 100})
    versioned.create({"pk": "v2", "balance": 0})
    tokens: list[str] = []

    # --8<-- [start:run]
    def transfer(tx: dynsafe.Transaction) -> int:
        source, target = dynsafe.transact_get(
            [(versioned.table, {"pk": "v1"}), (versioned.table, {"pk": "v2"})]
        )
        assert source is not None
        assert target is not None
        if len(tokens) == 0:
            # Another writer changes v1 between this read and the commit.
            versioned.update({"pk": "v1"}, lambda item: {**item, "balance": 50})
        tokens.append(tx.token)
        amount = min(30, source["balance"])
        tx.put_versioned(versioned, {**source, "balance": source["balance"] - amount})
        tx.put_versioned(versioned, {**target, "balance": target["balance"] + amount})
        return int(amount)

    moved = dynsafe.run_transaction(transfer, policy=NO_WAIT)
    # --8<-- [end:run]
    assert moved == 30
    assert len(set(tokens)) == len(tokens) == 2
    balances = [(versioned.get({"pk": pk}) or {}).get("balance") for pk in ("v1", "v2")]
    assert balances == [20, 30]


def test_run_transaction_does_not_retry_a_failed_condition_of_the_caller(
    bank: Bank,
) -> None:
    calls: list[int] = []

    def overdraw(tx: dynsafe.Transaction) -> None:
        calls.append(1)
        tx.update(
            bank.accounts,
            {"pk": "a1"},
            add={"balance": -500},
            condition=Attr("balance").gte(500),
        )

    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        dynsafe.run_transaction(overdraw, policy=NO_WAIT)
    assert len(calls) == 1
    assert caught.value.conditions_failed


def test_run_transaction_resends_a_conflicted_commit_without_building_again(
    bank: Bank,
) -> None:
    def conflict() -> BaseException:
        response: Any = {
            "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
            **cancellation("None", "TransactionConflict"),
        }
        return ClientError(response, "TransactWriteItems")

    testing.Faults(bank.client).before("TransactWriteItems", conflict, times=2)
    built: list[str] = []

    def build(tx: dynsafe.Transaction) -> str:
        built.append(tx.token)
        tx.update(bank.accounts, {"pk": "a1"}, add={"balance": -1})
        tx.update(bank.accounts, {"pk": "a2"}, add={"balance": 1})
        return "done"

    assert dynsafe.run_transaction(build, policy=NO_WAIT) == "done"
    assert len(built) == 1
    assert (bank.balance("a1"), bank.balance("a2")) == (99, 1)


def test_run_transaction_resends_a_lost_answer_instead_of_building_again(
    bank: Bank, versioned: dynsafe.VersionedTable
) -> None:
    versioned.create({"pk": "v1", "balance": 10})
    testing.Faults(bank.client).lose_response("TransactWriteItems")
    built: list[str] = []

    def build(tx: dynsafe.Transaction) -> None:
        built.append(tx.token)
        (item,) = dynsafe.transact_get([(versioned.table, {"pk": "v1"})])
        assert item is not None
        tx.put_versioned(versioned, {**item, "balance": item["balance"] + 1})

    dynsafe.run_transaction(build, policy=NO_WAIT)
    assert len(built) == 1
    assert (versioned.get({"pk": "v1"}) or {}).get("balance") == 11


def test_run_transaction_sends_nothing_when_build_adds_nothing(bank: Bank) -> None:
    assert dynsafe.run_transaction(lambda tx: "nothing to do") == "nothing to do"
    assert bank.sent.total == 0


def test_the_last_error_says_how_many_attempts_were_made() -> None:
    table, stub = stubbed()
    tx = dynsafe.Transaction(policy=NO_WAIT.replace(attempts=2))
    tx.put(table, {"pk": "a"})
    for _ in range(2):
        stub.add_client_error(
            "transact_write_items", service_error_code="TransactionConflictException"
        )
    with stub, pytest.raises(dynsafe.TransactionConflictError) as caught:
        tx.commit()
    assert caught.value.attempts == 2


# -- transact_get -------------------------------------------------------------------


def test_transact_get_returns_items_in_order_with_none_for_missing(bank: Bank) -> None:
    bank.ledger.put({"pk": "tx#1", "amount": 10, "rate": Decimal("0.5")})
    items = dynsafe.transact_get(
        [
            (bank.ledger, {"pk": "tx#1"}),
            (bank.accounts, {"pk": "missing"}),
            (bank.accounts, {"pk": "a1"}),
        ]
    )
    assert items == [
        {"pk": "tx#1", "amount": 10, "rate": Decimal("0.5")},
        None,
        {"pk": "a1", "balance": 100},
    ]
    assert isinstance(items[2]["balance"], int)  # type: ignore[index]
    assert bank.sent.counts["TransactGetItems"] == 1


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "at least one"),
        ([("t", {"pk": f"k{n}"}) for n in range(101)], r"read #100.*at most 100"),
        ([("t", {"pk": "a"}), ("t", {"pk": "a"})], r"read #1.*same item as #0"),
        ([("t", {"pk": "a", "n": 1})], r"read #0.*not key attribute"),
        ([("t", {"id": "a"})], r"read #0.*missing key"),
    ],
)
def test_transact_get_refuses_bad_reads_before_sending(
    items: list[tuple[str, dict[str, Any]]], message: str
) -> None:
    table, stub = stubbed()
    with stub, pytest.raises(dynsafe.ValidationError, match=message):
        dynsafe.transact_get([(table, key) for _, key in items])
    assert table.stats.total == 0


def test_transact_get_reads_again_after_a_conflict() -> None:
    table, stub = stubbed()
    stub.add_client_error(
        "transact_get_items",
        service_error_code="TransactionCanceledException",
        modeled_fields=cancellation("TransactionConflict"),
    )
    stub.add_response(
        "transact_get_items", {"Responses": [{"Item": {"pk": {"S": "a"}}}]}
    )
    with stub:
        assert dynsafe.transact_get([(table, {"pk": "a"})], policy=NO_WAIT) == [
            {"pk": "a"}
        ]
    assert table.stats.by_operation() == {"TransactGetItems": 2}
