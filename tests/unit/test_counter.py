from __future__ import annotations

import pickle
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

import dynsafe
from dynsafe import testing
from dynsafe._table import Table
from dynsafe._versioning import Versioning
from dynsafe.counter import Counter, ShardedCounter

from ..conftest import Backend

WINDOW = 300.0


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 10 * WINDOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def no_sleep(_: float) -> None:
    pass


FAST = dynsafe.RetryPolicy(sleep=no_sleep)


@pytest.fixture(params=["moto", "dynalite"])
def functional(request: pytest.FixtureRequest) -> Backend:
    """Plain moto and dynalite: single-threaded functional tests run on both."""
    backend: Backend = request.getfixturevalue(request.param)
    return backend


def table_on(backend: Backend) -> Table:
    return Table(backend.client(), backend.table(), key=("pk",))


def stubbed() -> tuple[Table, Stubber]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return Table(client, "counters", key=("pk",)), Stubber(client)


def offline() -> Table:
    """A table whose client answers nothing: any request sent fails the test."""
    table, stub = stubbed()
    stub.activate()
    return table


# -- the requests sent -----------------------------------------------------------------


def test_add_is_one_update_item_with_add_and_updated_new() -> None:
    table, stub = stubbed()
    stub.add_response(
        "update_item",
        {"Attributes": {"n": {"N": "8"}}},
        {
            "TableName": "counters",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "ADD #n0 :v0",
            "ExpressionAttributeNames": {"#n0": "n"},
            "ExpressionAttributeValues": {":v0": {"N": "1"}},
            "ReturnValues": "UPDATED_NEW",
        },
    )
    with stub:
        assert Counter(table, {"pk": "a"}, "n").add(1) == 8
    stub.assert_no_pending_responses()
    assert table.stats.by_operation() == {"UpdateItem": 1}


def test_floor_is_the_condition_of_the_same_update() -> None:
    table, stub = stubbed()
    stub.add_response(
        "update_item",
        {"Attributes": {"n": {"N": "3"}}},
        {
            "TableName": "counters",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "ADD #n0 :v0",
            # 0 - 2 is below the floor, so an absent counter is refused too.
            "ConditionExpression": "attribute_type(#n0, :v1) AND #n0 >= :v2",
            "ExpressionAttributeNames": {"#n0": "n"},
            "ExpressionAttributeValues": {
                ":v0": {"N": "-2"},
                ":v1": {"S": "N"},
                ":v2": {"N": "2"},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ReturnValues": "UPDATED_NEW",
        },
    )
    with stub:
        assert Counter(table, {"pk": "a"}, "n").add(-2, floor=0) == 3
    assert table.stats.by_operation() == {"UpdateItem": 1}


def test_floor_and_ceiling_make_one_between_that_lets_an_absent_counter_in() -> None:
    table, stub = stubbed()
    stub.add_response(
        "update_item",
        {"Attributes": {"n": {"N": "1"}}},
        {
            "TableName": "counters",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "ADD #n0 :v0",
            "ConditionExpression": (
                "attribute_not_exists(#n0)"
                " OR (attribute_type(#n0, :v1) AND #n0 BETWEEN :v2 AND :v3)"
            ),
            "ExpressionAttributeNames": {"#n0": "n"},
            "ExpressionAttributeValues": {
                ":v0": {"N": "1"},
                ":v1": {"S": "N"},
                ":v2": {"N": "-1"},
                ":v3": {"N": "9"},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ReturnValues": "UPDATED_NEW",
        },
    )
    with stub:
        assert Counter(table, {"pk": "a"}, "n").add(1, floor=0, ceiling=10) == 1


def test_token_goes_into_the_same_update_with_its_generation() -> None:
    table, stub = stubbed()
    clock = Clock(7 * WINDOW + 1)  # generation 7, slot 1
    stub.add_response(
        "update_item",
        {"Attributes": {"n": {"N": "5"}, "n#tokens#generation": {"N": "7"}}},
        {
            "TableName": "counters",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "SET #n0 = :v0 ADD #n1 :v1, #n2 :v2",
            "ConditionExpression": (
                "(attribute_not_exists(#n0) OR #n0 = :v3)"
                " AND NOT contains(#n3, :v4) AND NOT contains(#n2, :v5)"
            ),
            "ExpressionAttributeNames": {
                "#n0": "n#tokens#generation",
                "#n1": "n",
                "#n2": "n#tokens#1",
                "#n3": "n#tokens#0",
            },
            "ExpressionAttributeValues": {
                ":v0": {"N": "7"},
                ":v1": {"N": "5"},
                ":v2": {"BS": [ANY]},
                ":v3": {"N": "7"},
                ":v4": {"B": ANY},
                ":v5": {"B": ANY},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ReturnValues": "UPDATED_NEW",
        },
    )
    with stub:
        counter = Counter(table, {"pk": "a"}, "n", clock=clock)
        assert counter.add(5, token="req-17") == 5
    assert table.stats.by_operation() == {"UpdateItem": 1}


def test_sharded_value_is_one_batch_get_of_every_shard() -> None:
    table, stub = stubbed()
    keys = [{"pk": {"S": f"likes#shard#{i:02d}"}} for i in range(3)]
    stub.add_response(
        "batch_get_item",
        {
            "Responses": {
                "counters": [
                    {"pk": {"S": "likes#shard#00"}, "n": {"N": "2"}},
                    {"pk": {"S": "likes#shard#02"}, "n": {"N": "5"}},
                ]
            }
        },
        {"RequestItems": {"counters": {"Keys": keys, "ConsistentRead": True}}},
    )
    with stub:
        assert ShardedCounter(table, {"pk": "likes"}, "n", shards=3).value() == 7
    assert table.stats.by_operation() == {"BatchGetItem": 1}


# -- the contract, as docs/counters.md shows it ----------------------------------------


def test_the_documented_contract(moto: Backend) -> None:
    resource = boto3.resource("dynamodb", region_name="us-east-1")
    table = resource.Table(moto.table())
    # --8<-- [start:contract]
    views = dynsafe.Counter(table, {"pk": "page#home"}, "views")
    assert views.add(1) == 1  # the new value; the item and attribute start at 0
    assert views.add(5, token="req-17") == 6
    assert views.add(5, token="req-17") == 6  # the same token never counts twice
    assert views.value() == 6  # a consistent read; 0 when absent

    stock = dynsafe.Counter(table, {"pk": "sku#9"}, "stock")
    stock.add(3)
    assert stock.add(-2, floor=0) == 1
    with pytest.raises(dynsafe.BoundExceededError):  # a ConditionFailedError
        stock.add(-2, floor=0)  # 1 - 2 < 0: refused by the same request

    hot = dynsafe.ShardedCounter(table, {"pk": "likes#post1"}, "n", shards=16)
    hot.add(1)
    assert hot.value() == 1  # one BatchGetItem over the 16 shards
    # --8<-- [end:contract]
    assert stock.value() == 1


# -- values ----------------------------------------------------------------------------


def test_add_creates_the_item_at_zero_and_returns_each_new_value(moto: Backend) -> None:
    table = table_on(moto)
    views = Counter(table, {"pk": "page#home"}, "views")
    assert views.value() == 0
    assert views.add(1) == 1
    assert views.add(5) == 6
    assert views.add(-2) == 4
    assert views.value() == 4
    assert table.get({"pk": "page#home"}) == {"pk": "page#home", "views": 4}


def test_boto3_table_resource_is_accepted_and_described_once(moto: Backend) -> None:
    name = moto.table()
    resource = boto3.resource("dynamodb", region_name="us-east-1").Table(name)
    counter = Counter(resource, {"pk": "a"}, "n")
    counter.add(1)
    counter.add(1)
    assert counter.table.stats.by_operation() == {"DescribeTable": 1, "UpdateItem": 2}


def test_decimal_deltas_are_exact_and_whole_results_are_ints(moto: Backend) -> None:
    counter = Counter(table_on(moto), {"pk": "a"}, "balance")
    assert counter.add(Decimal("0.1")) == Decimal("0.1")
    assert counter.add(Decimal("0.2")) == Decimal("0.3")
    whole = counter.add(Decimal("0.7"))
    assert whole == 1
    assert type(whole) is int
    big = 10**25  # moto adds with 28 digits, DynamoDB with 38
    assert counter.add(big) == big + 1


@pytest.mark.parametrize("delta", [1.5, True, "1", None, Decimal("NaN"), 10**40])
def test_bad_delta_is_refused_before_anything_is_sent(delta: Any) -> None:
    table = offline()
    counter = Counter(table, {"pk": "a"}, "n")
    with pytest.raises(dynsafe.InvalidValueError):
        counter.add(delta)
    assert table.stats.total == 0


def test_bad_bounds_and_tokens_are_refused_before_anything_is_sent() -> None:
    table = offline()
    counter = Counter(table, {"pk": "a"}, "n")
    with pytest.raises(dynsafe.ValidationError, match="above ceiling"):
        counter.add(1, floor=5, ceiling=4)
    with pytest.raises(dynsafe.InvalidValueError):
        counter.add(1, floor=0.5)  # type: ignore[arg-type]
    with pytest.raises(dynsafe.ValidationError, match="token"):
        counter.add(1, token="")
    with pytest.raises(dynsafe.ValidationError, match="token"):
        counter.add(1, token=17)  # type: ignore[arg-type]
    assert table.stats.total == 0


def test_key_attribute_cannot_be_a_counter(moto: Backend) -> None:
    table = Table(moto.client(), moto.table(key=("pk", "sk")), key=("pk", "sk"))
    for attribute in ("pk", "sk"):
        with pytest.raises(dynsafe.ValidationError, match="key attribute"):
            Counter(table, {"pk": "a", "sk": "b"}, attribute)
    with pytest.raises(dynsafe.ValidationError, match="missing key"):
        Counter(table, {"pk": "a"}, "n")
    with pytest.raises(dynsafe.ValidationError, match="non-empty"):
        Counter(table, {"pk": "a", "sk": "b"}, "")
    assert table.stats.total == 0


@pytest.mark.parametrize("window", [0, -1, float("inf"), "60", True])
def test_bad_token_window_is_refused(window: Any) -> None:
    table = offline()
    with pytest.raises(dynsafe.ValidationError, match="token_window"):
        Counter(table, {"pk": "a"}, "n", token_window=window)


def test_string_counter_on_the_stored_item_is_a_clear_validation_error(
    functional: Backend,
) -> None:
    table = table_on(functional)
    table.put({"pk": "a", "n": "twelve"})
    counter = Counter(table, {"pk": "a"}, "n")
    calls: list[Callable[[], object]] = [
        lambda: counter.add(1),
        lambda: counter.add(-1, floor=0),
        lambda: counter.add(1, token="t1"),
        counter.value,
    ]
    for call in calls:
        with pytest.raises(dynsafe.ValidationError, match="'n'") as caught:
            call()
        assert "not a number" in str(caught.value)
        assert not isinstance(caught.value, dynsafe.BoundExceededError)
    item = table.get({"pk": "a"})
    assert item is not None
    # moto keeps the SET of an update that then failed (DynamoDB does not), so
    # only the counter is compared on both backends.
    assert item["n"] == "twelve"


# -- floors and ceilings ---------------------------------------------------------------


def test_floor_refuses_a_decrement_below_it_and_carries_the_stored_item(
    functional: Backend,
) -> None:
    table = table_on(functional)
    stock = Counter(table, {"pk": "sku#9"}, "stock")
    stock.add(3)
    assert stock.add(-2, floor=0) == 1
    with pytest.raises(dynsafe.BoundExceededError) as caught:
        stock.add(-2, floor=0)
    error = caught.value
    assert isinstance(error, dynsafe.ConditionFailedError)
    assert (error.floor, error.ceiling, error.delta) == (0, None, -2)
    assert error.item == {"pk": "sku#9", "stock": 1}
    assert error.retryable is False
    assert "floor 0" in str(error)
    assert stock.value() == 1
    assert pickle.loads(pickle.dumps(error)).floor == 0


def test_bounds_count_an_absent_counter_as_zero(functional: Backend) -> None:
    table = table_on(functional)
    with pytest.raises(dynsafe.BoundExceededError):
        Counter(table, {"pk": "a"}, "n").add(-1, floor=0)
    assert table.get({"pk": "a"}) is None
    assert Counter(table, {"pk": "b"}, "n").add(2, floor=0, ceiling=2) == 2
    with pytest.raises(dynsafe.BoundExceededError) as caught:
        Counter(table, {"pk": "c"}, "n").add(3, ceiling=2)
    assert caught.value.ceiling == 2
    assert table.get({"pk": "c"}) is None


def test_ceiling_refuses_an_increment_past_it(moto: Backend) -> None:
    seats = Counter(table_on(moto), {"pk": "room"}, "taken")
    for expected in (1, 2):
        assert seats.add(1, ceiling=2) == expected
    with pytest.raises(dynsafe.BoundExceededError, match="ceiling 2"):
        seats.add(1, ceiling=2)
    assert seats.add(-1, floor=0, ceiling=2) == 1


def test_a_bound_failure_is_never_retried(moto: Backend) -> None:
    table = table_on(moto)
    stock = Counter(table, {"pk": "a"}, "n", policy=FAST)
    with pytest.raises(dynsafe.BoundExceededError) as caught:
        stock.add(-1, floor=0)
    assert caught.value.attempts == 1
    # moto sends no item back for an absent item, so one read tells why.
    assert table.stats.by_operation() == {"UpdateItem": 1, "GetItem": 1}


# -- exactly once ----------------------------------------------------------------------


def test_same_token_counts_once_and_returns_the_current_value(
    functional: Backend,
) -> None:
    views = Counter(table_on(functional), {"pk": "page#home"}, "views")
    assert views.add(5, token="req-17") == 5
    assert views.add(1, token="req-18") == 6
    assert views.add(5, token="req-17") == 6
    assert views.add(1) == 7
    assert views.value() == 7


def test_lost_response_then_retry_counts_once(functional: Backend) -> None:
    client = functional.client()
    table = Table(client, functional.table(), key=("pk",))
    views = Counter(table, {"pk": "page#home"}, "views", policy=FAST)
    views.add(10)
    faults = testing.Faults(client)
    faults.lose_response("UpdateItem")
    assert views.add(5, token="req-17") == 15
    assert faults.fired["UpdateItem"] == 1
    assert views.value() == 15
    # The resend failed its condition: DynamoDB sends the item back, dynalite does
    # not and one consistent read tells.
    reads = 0 if functional.returns_item else 1
    assert table.stats.by_operation() == {"UpdateItem": 3, "GetItem": reads + 1}


def test_lost_response_of_a_bounded_add_with_a_token_counts_once(
    functional: Backend,
) -> None:
    client = functional.client()
    stock = Counter(Table(client, functional.table()), {"pk": "s"}, "n", policy=FAST)
    stock.add(1)
    testing.Faults(client).lose_response("UpdateItem")
    # The resend finds the token, not the floor: the last unit was sold, once.
    assert stock.add(-1, floor=0, token="order-1") == 0
    with pytest.raises(dynsafe.BoundExceededError):
        stock.add(-1, floor=0, token="order-2")


def test_lost_response_without_a_token_is_outcome_unknown_and_not_resent(
    functional: Backend,
) -> None:
    client = functional.client()
    table = Table(client, functional.table(), key=("pk",))
    views = Counter(table, {"pk": "a"}, "views", policy=FAST)
    testing.Faults(client).lose_response("UpdateItem")
    with pytest.raises(dynsafe.OutcomeUnknownError, match="token=") as caught:
        views.add(1)
    assert caught.value.attempts == 1
    assert table.stats.by_operation() == {"UpdateItem": 1}
    assert views.value() == 1  # it was applied: a blind retry would count it twice


def test_lost_responses_past_the_policy_raise_outcome_unknown(moto: Backend) -> None:
    client = moto.client()
    policy = FAST.replace(attempts=3)
    views = Counter(Table(client, moto.table()), {"pk": "a"}, "n", policy=policy)
    testing.Faults(client).lose_response("UpdateItem", times=3)
    with pytest.raises(
        dynsafe.OutcomeUnknownError, match="once or not at all"
    ) as caught:
        views.add(1, token="t")
    assert type(caught.value) is dynsafe.OutcomeUnknownError
    assert caught.value.attempts == 3
    assert views.value() == 1
    assert views.add(1, token="t") == 1  # sent again with its token: still once


def test_throttling_after_a_lost_response_is_outcome_unknown(moto: Backend) -> None:
    client = moto.client()
    faults = testing.Faults(client)

    def throttle_the_rest(attempt: int, error: dynsafe.DynsafeError, _: float) -> None:
        if attempt == 1:
            faults.fail_before("UpdateItem", "ThrottlingException", times=2)

    policy = FAST.replace(attempts=3, on_retry=throttle_the_rest)
    views = Counter(Table(client, moto.table()), {"pk": "a"}, "n", policy=policy)
    faults.lose_response("UpdateItem")
    # The first attempt landed: a ThrottledError would say it did not.
    with pytest.raises(dynsafe.OutcomeUnknownError, match="ThrottledError") as caught:
        views.add(1, token="t")
    assert isinstance(caught.value.__cause__, dynsafe.ThrottledError)
    assert views.value() == 1


def test_no_resend_once_half_the_token_window_has_passed(moto: Backend) -> None:
    client = moto.client()
    clock = Clock()

    def slow_sleep(seconds: float) -> None:
        clock.now += WINDOW  # the retry comes long after the first attempt

    views = Counter(
        Table(client, moto.table()),
        {"pk": "a"},
        "n",
        clock=clock,
        policy=dynsafe.RetryPolicy(sleep=slow_sleep),
    )
    faults = testing.Faults(client)
    faults.lose_response("UpdateItem", times=2)
    with pytest.raises(dynsafe.OutcomeUnknownError, match="token window"):
        views.add(1, token="t")
    assert faults.fired["UpdateItem"] == 2
    assert views.value() == 1


def test_throttling_is_retried_and_counted_once(moto: Backend) -> None:
    client = moto.client()
    views = Counter(Table(client, moto.table()), {"pk": "a"}, "n", policy=FAST)
    testing.Faults(client).fail_before("UpdateItem", "ThrottlingException", times=2)
    assert views.add(1) == 1
    assert views.value() == 1


def test_tokens_are_remembered_for_a_window_and_forgotten_after_two(
    functional: Backend,
) -> None:
    table = table_on(functional)
    clock = Clock()
    views = Counter(table, {"pk": "a"}, "n", clock=clock, token_window=WINDOW)
    views.add(1, token="t1")
    clock.now += WINDOW  # the next generation still knows t1
    assert views.add(1, token="t1") == 1
    views.add(1, token="t2")
    clock.now += WINDOW  # t1 is two generations old, t2 one
    assert views.add(1, token="t2") == 2
    views.add(1, token="t3")
    assert views.add(1, token="t1") == 4  # past the window: counted again


def test_item_keeps_the_tokens_of_two_generations_at_most(functional: Backend) -> None:
    table = table_on(functional)
    clock = Clock()
    views = Counter(table, {"pk": "a"}, "n", clock=clock)
    for step in range(6):
        for index in range(3):
            views.add(1, token=f"t{step}-{index}")
        clock.now += WINDOW * (1 if step % 2 else 3)  # next, or skip generations
    views.add(1, token="last")
    item = table.get({"pk": "a"})
    assert item is not None
    slots = [item.get("n#tokens#0", set()), item.get("n#tokens#1", set())]
    assert sum(len(slot) for slot in slots) <= 4
    assert item["n"] == 19


def test_generation_change_costs_one_more_update_in_a_fresh_counter(
    functional: Backend,
) -> None:
    table = table_on(functional)
    clock = Clock()
    Counter(table, {"pk": "a"}, "n", clock=clock).add(1, token="old")
    clock.now += WINDOW
    table.stats.reset()
    fresh = Counter(table, {"pk": "a"}, "n", clock=clock)
    assert fresh.add(1, token="new") == 2
    reads = {} if functional.returns_item else {"GetItem": 1}
    assert table.stats.by_operation() == {"UpdateItem": 2, **reads}
    table.stats.reset()
    assert fresh.add(1, token="newer") == 3  # the counter now knows the generation
    assert table.stats.by_operation() == {"UpdateItem": 1}
    assert fresh.add(1, token="old") == 3  # one generation back is still known


def test_clock_behind_the_item_still_counts_once(moto: Backend) -> None:
    table = table_on(moto)
    ahead, behind = Clock(), Clock()
    ahead.now += 5 * WINDOW
    Counter(table, {"pk": "a"}, "n", clock=ahead).add(1, token="t1")
    late = Counter(table, {"pk": "a"}, "n", clock=behind)
    assert late.add(1, token="t2") == 2
    assert late.add(1, token="t2") == 2
    assert late.add(1, token="t1") == 2


# -- versioned items -------------------------------------------------------------------


def test_counter_leaves_the_version_and_write_tokens_alone(functional: Backend) -> None:
    table = table_on(functional)
    table.put({"pk": "a", "version": 3, "dynsafe_tokens": ["w1", "w2"], "title": "x"})
    counter = Counter(table, {"pk": "a"}, "views")
    counter.add(1)
    counter.add(1, token="t")
    item = table.get({"pk": "a"})
    assert item is not None
    assert (item["version"], item["dynsafe_tokens"], item["views"]) == (
        3,
        ["w1", "w2"],
        2,
    )


def test_bump_version_increments_the_version_and_nothing_else(moto: Backend) -> None:
    table = table_on(moto)
    table.put({"pk": "a", "version": 3, "dynsafe_tokens": ["w1"]})
    counter = Counter(table, {"pk": "a"}, "views", bump_version=True)
    assert counter.add(2) == 2
    item = table.get({"pk": "a"})
    assert item == {"pk": "a", "version": 4, "dynsafe_tokens": ["w1"], "views": 2}
    custom = Versioning(attribute="rev", start=0)
    Counter(table, {"pk": "b"}, "views", bump_version=custom).add(1)
    assert table.get({"pk": "b"}) == {"pk": "b", "rev": 0, "views": 1}


def test_versioning_attributes_cannot_be_the_counter() -> None:
    table = offline()
    for attribute in ("version", "dynsafe_tokens"):
        with pytest.raises(dynsafe.ValidationError, match="versioning"):
            Counter(table, {"pk": "a"}, attribute, bump_version=True)
    with pytest.raises(dynsafe.ValidationError, match="bump_version"):
        Counter(table, {"pk": "a"}, "n", bump_version="yes")  # type: ignore[arg-type]


# -- sharded counters ------------------------------------------------------------------


def test_sharded_adds_spread_over_shards_and_value_sums_them(moto: Backend) -> None:
    table = table_on(moto)
    hot = ShardedCounter(table, {"pk": "likes#post1"}, "n", shards=16)
    for _ in range(64):
        hot.add(1)
    table.stats.reset()
    assert hot.value() == 64
    assert table.stats.by_operation() == {"BatchGetItem": 1}
    used = [table.get(shard.key) for shard in hot.shards]
    assert sum(1 for item in used if item is not None) > 4
    assert hot.shards[7].key == {"pk": "likes#post1#shard#07"}


def test_sharded_token_goes_to_one_shard_and_counts_once(functional: Backend) -> None:
    client = functional.client()
    table = Table(client, functional.table(), key=("pk",))
    hot = ShardedCounter(table, {"pk": "likes"}, "n", shards=8, policy=FAST)
    hot.add(1, token="like-1")
    testing.Faults(client).lose_response("UpdateItem")
    hot.add(1, token="like-2")
    hot.add(1, token="like-1")
    hot.add(1, token="like-2")
    assert hot.value(consistent=True) == 2


def test_sharded_value_of_a_hundred_shards_is_one_request(moto: Backend) -> None:
    table = table_on(moto)
    hot = ShardedCounter(table, {"pk": "x"}, "n", shards=100)
    hot.shards[99].add(Decimal("0.5"))
    hot.shards[0].add(2)
    table.stats.reset()
    assert hot.value(consistent=False) == Decimal("2.5")
    assert table.stats.by_operation() == {"BatchGetItem": 1}


@pytest.mark.parametrize("shards", [0, 101, True, 2.0, "4"])
def test_bad_shard_count_is_refused(shards: Any) -> None:
    table = offline()
    with pytest.raises(dynsafe.ValidationError, match="shards"):
        ShardedCounter(table, {"pk": "x"}, "n", shards=shards)


def test_sharded_counter_needs_a_string_partition_key(moto: Backend) -> None:
    name = moto.table(key_types=["N"])
    table = Table(moto.client(), name, key=("pk",))
    with pytest.raises(dynsafe.ValidationError, match="string"):
        ShardedCounter(table, {"pk": 7}, "n")
    with pytest.raises(dynsafe.ValidationError, match="key attribute"):
        ShardedCounter(table_on(moto), {"pk": "x"}, "pk")


def test_reprs_name_the_counter() -> None:
    table = offline()
    assert "'views'" in repr(Counter(table, {"pk": "a"}, "views"))
    assert "shards=4" in repr(ShardedCounter(table, {"pk": "a"}, "n", shards=4))


# -- combining (merging queued adds) -------------------------------------------------


def test_merging_adds_only_where_no_caller_could_be_refused_differently() -> None:
    from dynsafe._counter_requests import AddRequest
    from dynsafe._counter_requests import merged as _merged
    from dynsafe._counter_requests import values_after_each as _values_after_each

    plain = [AddRequest(1), AddRequest(2), AddRequest(-1)]
    merged = _merged(plain)
    assert merged == AddRequest(2)
    assert _values_after_each(10, plain) == [9, 11, 10]
    floored = [AddRequest(-1, floor=0), AddRequest(-2, floor=0)]
    assert _merged(floored) == AddRequest(-3, floor=0)
    assert _merged([AddRequest(-1, floor=0), AddRequest(1, floor=0)]) is None
    assert _merged([AddRequest(1, ceiling=5), AddRequest(-1, ceiling=5)]) is None
    assert _merged([AddRequest(-1, floor=0), AddRequest(-1, floor=1)]) is None
    assert _merged([AddRequest(-1, floor=0, ceiling=9)] * 2) is None
    assert _merged([AddRequest(1)]) is None
