from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ReadTimeoutError

import dynsafe
from dynsafe import testing

from ..conftest import Backend

NO_WAIT = dynsafe.RetryPolicy(sleep=lambda _: None)


def accounts_on(backend: Backend, **options: Any) -> dynsafe.VersionedTable:
    table = dynsafe.Table(backend.client(), backend.table(), key=("pk",))
    return dynsafe.VersionedTable(table, policy=NO_WAIT, **options)


@pytest.fixture
def accounts(moto: Backend) -> dynsafe.VersionedTable:
    return accounts_on(moto)


def test_contract_calls_work_as_written(moto: Backend) -> None:
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table(moto.table())
    accounts = dynsafe.VersionedTable(table)
    acct: dict[str, Any] | None = accounts.create({"pk": "a1", "balance": 100})
    assert acct is not None
    assert acct["version"] == 1
    acct = accounts.get({"pk": "a1"})
    assert acct is not None
    acct = accounts.put({**acct, "owner": "bo"})
    assert (acct["version"], acct["owner"]) == (2, "bo")
    acct = accounts.update(
        {"pk": "a1"}, lambda item: {**item, "balance": item["balance"] - 30}
    )
    assert (acct["balance"], acct["version"]) == (70, 3)

    @dynsafe.versioned(accounts, key=lambda account_id, amount: {"pk": account_id})
    def withdraw(item: dict[str, Any], account_id: str, amount: int) -> dict[str, Any]:
        return {**item, "balance": item["balance"] - amount}

    stored = withdraw("a1", 10)
    assert (stored["balance"], stored["version"]) == (60, 4)
    assert accounts.get({"pk": "a1"}) == stored
    accounts.delete(stored)
    assert accounts.get({"pk": "a1"}) is None


def test_create_on_an_existing_key_raises_item_exists(
    accounts: dynsafe.VersionedTable,
) -> None:
    accounts.create({"pk": "a", "n": 1})
    with pytest.raises(dynsafe.ItemExistsError) as caught:
        accounts.create({"pk": "a", "n": 2})
    assert caught.value.item is not None
    assert caught.value.item["n"] == 1
    assert not caught.value.retryable


def test_put_with_a_stale_version_raises_version_conflict(
    accounts: dynsafe.VersionedTable,
) -> None:
    first = accounts.create({"pk": "a", "n": 1})
    accounts.put({**first, "n": 2})
    with pytest.raises(dynsafe.VersionConflictError) as caught:
        accounts.put({**first, "n": 3})
    error = caught.value
    assert (error.expected_version, error.actual_version) == (1, 2)
    assert error.item is not None
    assert error.item["n"] == 2
    assert accounts.table.stats.by_operation()["PutItem"] == 3  # never resent


def test_put_without_a_version_creates_only(accounts: dynsafe.VersionedTable) -> None:
    assert accounts.put({"pk": "a", "n": 1})["version"] == 1
    with pytest.raises(dynsafe.ItemExistsError):
        accounts.put({"pk": "a", "n": 1})


def test_delete_checks_the_version_by_default(accounts: dynsafe.VersionedTable) -> None:
    first = accounts.create({"pk": "a"})
    second = accounts.put(first)
    with pytest.raises(dynsafe.VersionConflictError):
        accounts.delete(first)
    accounts.delete(second)
    assert accounts.get({"pk": "a"}) is None


def test_delete_without_version_check(accounts: dynsafe.VersionedTable) -> None:
    accounts.create({"pk": "a"})
    accounts.delete({"pk": "a"}, check_version=False)
    assert accounts.get({"pk": "a"}) is None
    with pytest.raises(dynsafe.ValidationError, match="checks the version"):
        accounts.delete({"pk": "a"})


def test_update_of_a_missing_item_raises_not_found_unless_default(
    accounts: dynsafe.VersionedTable,
) -> None:
    with pytest.raises(dynsafe.ItemNotFoundError):
        accounts.update({"pk": "a"}, lambda item: item)
    created = accounts.update(
        {"pk": "a"}, lambda item: {**item, "n": item["n"] + 1}, default={"n": 0}
    )
    assert (created["n"], created["version"]) == (1, 1)
    again = accounts.update(
        {"pk": "a"}, lambda item: {**item, "n": item["n"] + 1}, default=lambda: {"n": 0}
    )
    assert (again["n"], again["version"]) == (2, 2)


def test_mutation_exception_propagates_unchanged_and_writes_nothing(
    accounts: dynsafe.VersionedTable,
) -> None:
    accounts.create({"pk": "a", "n": 1})
    accounts.table.stats.reset()
    boom = RuntimeError("insufficient funds")

    def refuse(item: dict[str, Any]) -> dict[str, Any]:
        raise boom

    with pytest.raises(RuntimeError) as caught:
        accounts.update({"pk": "a"}, refuse)
    assert caught.value is boom
    assert accounts.table.stats.by_operation() == {"GetItem": 1}


def test_unchanged_item_writes_nothing(accounts: dynsafe.VersionedTable) -> None:
    stored = accounts.create({"pk": "a", "n": 1})
    accounts.table.stats.reset()
    assert accounts.update({"pk": "a"}, lambda item: item) == stored
    assert accounts.table.stats.by_operation() == {"GetItem": 1}


def test_in_place_mutation_is_seen_as_a_change(
    accounts: dynsafe.VersionedTable,
) -> None:
    accounts.create({"pk": "a", "n": 1})

    def bump(item: dict[str, Any]) -> dict[str, Any]:
        item["n"] += 1
        return item

    assert accounts.update({"pk": "a"}, bump)["n"] == 2


@pytest.mark.parametrize(
    "mutation",
    [
        lambda item: {**item, "pk": "b"},
        lambda item: {**item, "version": 99},
        lambda item: {**item, "dynsafe_tokens": []},
        lambda item: {k: v for k, v in item.items() if k != "version"},
    ],
    ids=["key", "version", "tokens", "drops-version"],
)
def test_mutation_may_not_change_keys_or_managed_attributes(
    accounts: dynsafe.VersionedTable, mutation: Any
) -> None:
    accounts.create({"pk": "a", "n": 1})
    with pytest.raises(dynsafe.ValidationError, match="not the mutation's to change"):
        accounts.update({"pk": "a"}, mutation)
    assert accounts.get({"pk": "a"})["version"] == 1  # type: ignore[index]


def test_mutation_must_return_a_mapping(accounts: dynsafe.VersionedTable) -> None:
    accounts.create({"pk": "a"})
    with pytest.raises(dynsafe.ValidationError, match="must return the new item"):
        accounts.update({"pk": "a"}, lambda item: None)  # type: ignore[arg-type,return-value]


def test_create_refuses_managed_attributes(accounts: dynsafe.VersionedTable) -> None:
    with pytest.raises(dynsafe.ValidationError, match="set by dynsafe"):
        accounts.create({"pk": "a", "version": 5})


def test_caller_condition_failure_is_not_a_version_conflict_and_not_retried(
    accounts: dynsafe.VersionedTable,
) -> None:
    accounts.create({"pk": "a", "frozen": True, "n": 1})
    accounts.table.stats.reset()
    with pytest.raises(dynsafe.ConditionFailedError) as caught:
        accounts.update(
            {"pk": "a"},
            lambda item: {**item, "n": 2},
            condition=Attr("frozen").eq(False),
        )
    assert type(caught.value) is dynsafe.ConditionFailedError
    assert accounts.table.stats.by_operation() == {"GetItem": 1, "PutItem": 1}


def test_configurable_version_attribute_start_and_tokens(moto: Backend) -> None:
    accounts = accounts_on(
        moto,
        version_attribute="rev",
        start_version=0,
        token_attribute="_w",
        token_history=2,
    )
    item = accounts.create({"pk": "a"})
    assert item["rev"] == 0
    for _ in range(3):
        item = accounts.put(item)
    assert item["rev"] == 3
    assert len(item["_w"]) == 2


def test_reserved_words_as_attribute_names(accounts: dynsafe.VersionedTable) -> None:
    item = accounts.create({"pk": "a", "value": 1, "name": "n", "status": "s"})
    item = accounts.update({"pk": "a"}, lambda i: {**i, "value": i["value"] + 1})
    assert item["value"] == 2


def test_key_schema_is_read_from_describe_table_once(moto: Backend) -> None:
    client = moto.client()
    name = moto.table(key=("pk", "sk"))
    accounts = dynsafe.VersionedTable(dynsafe.Table(client, name), policy=NO_WAIT)
    accounts.create({"pk": "a", "sk": "1"})
    accounts.update({"pk": "a", "sk": "1"}, lambda i: {**i, "n": 1})
    assert accounts.table.stats.by_operation()["DescribeTable"] == 1


def test_decimal_and_float_values_round_trip(accounts: dynsafe.VersionedTable) -> None:
    item = accounts.create({"pk": "a", "price": Decimal("9.99"), "ratio": 0.25})
    stored = accounts.get({"pk": "a"})
    assert stored == item
    assert stored is not None
    assert stored["price"] == Decimal("9.99")


@pytest.mark.parametrize(
    ("backend_name", "reads"),
    [
        # our read, the interfering read + put, our failed put, our put: no re-read
        ("moto", 2),
        # where no item comes back with the failed condition, one read more
        ("dynalite", 3),
    ],
)
def test_a_conflict_uses_the_returned_item_or_reads_again_where_none_comes_back(
    request: pytest.FixtureRequest, backend_name: str, reads: int
) -> None:
    accounts = accounts_on(request.getfixturevalue(backend_name))
    accounts.create({"pk": "a", "n": 0})
    interfering = {"done": False}

    def add_one(item: dict[str, Any]) -> dict[str, Any]:
        if not interfering["done"]:
            interfering["done"] = True
            accounts.put({**accounts.get({"pk": "a"}), "n": 100})  # type: ignore[dict-item]
        return {**item, "n": item["n"] + 1}

    accounts.table.stats.reset()
    assert accounts.update({"pk": "a"}, add_one)["n"] == 101
    assert accounts.table.stats.by_operation() == {"GetItem": reads, "PutItem": 3}


# -- lost answers ----------------------------------------------------------------------


def lossy(backend: Backend) -> tuple[dynsafe.VersionedTable, testing.Faults]:
    client = backend.client()
    table = dynsafe.Table(client, backend.table(), key=("pk",))
    return dynsafe.VersionedTable(table, policy=NO_WAIT), testing.Faults(client)


@pytest.fixture(params=["moto", "dynalite"])
def any_backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(request.param)
    return backend


def test_update_whose_answer_is_lost_is_applied_exactly_once(
    any_backend: Backend,
) -> None:
    accounts, faults = lossy(any_backend)
    accounts.create({"pk": "a", "n": 0})
    faults.lose_response("PutItem")
    stored = accounts.update({"pk": "a"}, lambda item: {**item, "n": item["n"] + 1})
    assert faults.fired["PutItem"] == 1
    assert stored["n"] == 1
    assert accounts.get({"pk": "a"}) == stored


def test_put_whose_answer_is_lost_succeeds_once(any_backend: Backend) -> None:
    accounts, faults = lossy(any_backend)
    item = accounts.create({"pk": "a", "n": 0})
    faults.lose_response("PutItem")
    stored = accounts.put({**item, "n": 5})
    assert (stored["n"], stored["version"]) == (5, 2)
    assert accounts.get({"pk": "a"}) == stored


def test_create_whose_answer_is_lost_succeeds_once(any_backend: Backend) -> None:
    accounts, faults = lossy(any_backend)
    faults.lose_response("PutItem")
    stored = accounts.create({"pk": "a", "n": 0})
    assert accounts.get({"pk": "a"}) == stored


def lost_answer_with_rivals(
    backend: Backend, rival_writes: int, history: int
) -> tuple[dynsafe.VersionedTable, Any]:
    """A table whose next PutItem lands, then ``rival_writes`` rivals write, then
    the answer is lost."""
    from botocore.exceptions import ReadTimeoutError

    client = backend.client()
    name = backend.table()
    accounts = dynsafe.VersionedTable(
        dynsafe.Table(client, name, key=("pk",)), policy=NO_WAIT, token_history=history
    )
    rival = dynsafe.VersionedTable(
        dynsafe.Table(backend.client(), name, key=("pk",)),
        policy=NO_WAIT,
        token_history=history,
    )
    accounts.create({"pk": "a", "n": 0})

    def rivals_then_timeout() -> BaseException:
        for _ in range(rival_writes):
            rival.update({"pk": "a"}, lambda item: {**item, "n": item["n"] + 10})
        return ReadTimeoutError(endpoint_url="local")

    testing.Faults(client).after("PutItem", rivals_then_timeout)
    return accounts, rival


def test_lost_answer_then_rival_writes_resolve_from_the_token_history(
    moto: Backend,
) -> None:
    accounts, _ = lost_answer_with_rivals(moto, rival_writes=2, history=4)
    stored = accounts.update({"pk": "a"}, lambda item: {**item, "n": item["n"] + 1})
    assert stored["n"] == 1
    final = accounts.get({"pk": "a"})
    assert final is not None
    assert final["n"] == 21  # ours once, each rival's once


def test_lost_answer_past_the_history_raises_outcome_unknown(moto: Backend) -> None:
    accounts, _ = lost_answer_with_rivals(moto, rival_writes=2, history=1)
    with pytest.raises(dynsafe.OutcomeUnknownError):
        accounts.update({"pk": "a"}, lambda item: {**item, "n": item["n"] + 1})
    final = accounts.get({"pk": "a"})
    assert final is not None
    assert final["n"] == 21  # not applied a second time


def test_lost_answer_resolves_on_dynalite_by_reading_again(
    dynalite: Backend,
) -> None:
    # On dynalite no item comes back: the retry reads it again.
    accounts, _ = lost_answer_with_rivals(dynalite, rival_writes=1, history=4)
    assert accounts.update({"pk": "a"}, lambda i: {**i, "n": i["n"] + 1})["n"] == 1
    final = accounts.get({"pk": "a"})
    assert final is not None
    assert final["n"] == 11


def test_answer_lost_before_landing_then_a_rival_write_applies_ours_on_top(
    any_backend: Backend,
) -> None:
    client = any_backend.client()
    name = any_backend.table()
    accounts = dynsafe.VersionedTable(
        dynsafe.Table(client, name, key=("pk",)), policy=NO_WAIT
    )
    rival = dynsafe.VersionedTable(
        dynsafe.Table(any_backend.client(), name, key=("pk",))
    )
    accounts.create({"pk": "a", "n": 0})

    def rival_then_timeout() -> BaseException:
        rival.update({"pk": "a"}, lambda item: {**item, "n": item["n"] + 10})
        return ReadTimeoutError(endpoint_url="local")

    testing.Faults(client).before("PutItem", rival_then_timeout)
    stored = accounts.update({"pk": "a"}, lambda item: {**item, "n": item["n"] + 1})
    assert stored["n"] == 11
    assert stored["version"] == 3


def test_lost_answers_beyond_the_policy_raise_outcome_unknown(moto: Backend) -> None:
    client = moto.client()
    table = dynsafe.Table(client, moto.table(), key=("pk",))
    accounts = dynsafe.VersionedTable(
        table, policy=dynsafe.RetryPolicy(attempts=2, sleep=lambda _: None)
    )
    accounts.create({"pk": "a", "n": 0})
    faults = testing.Faults(client)
    faults.before("PutItem", lambda: ReadTimeoutError(endpoint_url="x"), times=5)
    with pytest.raises(dynsafe.OutcomeUnknownError):
        accounts.update({"pk": "a"}, lambda item: {**item, "n": 1})


def test_throttling_is_retried(moto: Backend) -> None:
    client = moto.client()
    table = dynsafe.Table(client, moto.table(), key=("pk",))
    accounts = dynsafe.VersionedTable(table, policy=NO_WAIT)
    accounts.create({"pk": "a", "n": 0})
    faults = testing.Faults(client)
    faults.fail_before("PutItem", "ProvisionedThroughputExceededException", times=2)
    assert accounts.update({"pk": "a"}, lambda i: {**i, "n": 1})["n"] == 1
    assert faults.fired["PutItem"] == 2


# -- hot items: the last item seen, stats, adaptive backoff ---------------------------


def test_reuse_last_item_skips_the_read_and_a_stale_item_costs_one_conflict(
    moto: Backend,
) -> None:
    client = moto.client()
    name = moto.table()
    accounts = dynsafe.VersionedTable(
        dynsafe.Table(client, name, key=("pk",)), policy=NO_WAIT, reuse_last_item=True
    )
    rival = dynsafe.VersionedTable(dynsafe.Table(client, name, key=("pk",)))
    accounts.create({"pk": "a", "n": 0})
    accounts.update({"pk": "a"}, lambda i: {**i, "n": i["n"] + 1}, default={"n": 0})
    accounts.table.stats.reset()
    accounts.update({"pk": "a"}, lambda i: {**i, "n": i["n"] + 1})
    assert accounts.table.stats.by_operation() == {"PutItem": 1}  # no read

    rival.update({"pk": "a"}, lambda i: {**i, "n": i["n"] + 10})
    accounts.table.stats.reset()
    stored = accounts.update({"pk": "a"}, lambda i: {**i, "n": i["n"] + 1})
    assert stored["n"] == 13
    # the stale put failed and returned the current item; no read at all
    assert accounts.table.stats.by_operation() == {"PutItem": 2}
    assert accounts.stats.for_key(("a",)).conflicts == 1


def test_stats_count_attempts_and_conflicts_per_key(moto: Backend) -> None:
    accounts = accounts_on(moto)
    accounts.create({"pk": "a", "n": 0})
    for _ in range(3):
        accounts.update({"pk": "a"}, lambda i: {**i, "n": i["n"] + 1})
    stats = accounts.stats.for_key(("a",))
    assert (stats.attempts, stats.conflicts) == (3, 0)
    assert accounts.stats.totals().attempts == 3
    assert accounts.stats.for_key(("zz",)).attempts == 0


def test_adaptive_backoff_waits_longer_on_a_key_that_conflicts() -> None:
    import random

    import tenacity

    from dynsafe.retry import AdaptiveBackoff

    random.seed(7)
    state = tenacity.RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = 1
    quiet = AdaptiveBackoff(0.01, 1.0, lambda: 0.0)
    busy = AdaptiveBackoff(0.01, 1.0, lambda: 1.0)
    assert max(quiet(state) for _ in range(200)) <= 0.01
    assert max(busy(state) for _ in range(200)) > 0.05
    policy = dynsafe.RetryPolicy()
    assert policy.for_contention(lambda: 0.5).backoff is not None
    assert (
        dynsafe.RetryPolicy(adaptive=False).for_contention(lambda: 1.0).backoff is None
    )


def test_a_combined_mutation_that_makes_the_item_too_big_fails_alone(
    moto: Backend,
) -> None:
    accounts = accounts_on(moto)
    accounts.create({"pk": "a", "n": 0})
    key = {"pk": "a"}
    outcomes = accounts._update_batch(
        key,
        [
            lambda i: {**i, "n": i["n"] + 1},
            lambda i: {**i, "blob": b"x" * 500_000},
            lambda i: {**i, "n": i["n"] + 1},
        ],
    )
    assert [type(o).__name__ for o in outcomes] == ["dict", "Failed", "dict"]
    assert outcomes[2]["n"] == 2  # type: ignore[index]
    assert accounts.get(key)["n"] == 2  # type: ignore[index]
