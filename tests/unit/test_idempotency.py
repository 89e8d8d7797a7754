from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import pickle
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ReadTimeoutError

import dynsafe
from dynsafe import testing
from dynsafe.idempotency import JsonSerializer

from ..conftest import Backend

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

START = 1_700_000_000.0


class Clock:
    """A clock that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_clients: dict[str | None, DynamoDBClient] = {}
_names = itertools.count()


def client_of(backend: Backend) -> DynamoDBClient:
    """One client per backend for the whole module: a new one costs 0.2-0.6 s."""
    if backend.endpoint_url not in _clients:
        _clients[backend.endpoint_url] = backend.client()
    return _clients[backend.endpoint_url]


def new_table(backend: Backend, key: tuple[str, ...] = ("pk",)) -> str:
    name = f"idem-{next(_names)}"
    testing.create_table(client_of(backend), name, key)
    return name


@pytest.fixture(scope="module")
def moto_module() -> Iterator[Backend]:
    """Locked moto for the whole module; each test makes its own tables."""
    with testing.locked_moto():
        yield Backend(
            "locked-moto", None, returns_item=True, transactions=True, atomic=True
        )


@pytest.fixture
def locked(moto_module: Backend) -> Backend:
    return moto_module


@pytest.fixture(params=["locked-moto", "dynalite"])
def atomic(request: pytest.FixtureRequest) -> Backend:
    name = "moto_module" if request.param == "locked-moto" else "dynalite"
    backend: Backend = request.getfixturevalue(name)
    return backend


class Env:
    """One table, one store on it, a fake clock, and a count of executions."""

    def __init__(self, backend: Backend, **options: Any) -> None:
        self.backend = backend
        self.client = client_of(backend)
        self.name = new_table(backend)
        self.table = dynsafe.Table(self.client, self.name, key=("pk",))
        self.clock = Clock()
        options.setdefault("clock", self.clock)
        self.store = dynsafe.IdempotencyStore(self.table, **options)
        self.runs: list[Any] = []

    def items(self) -> list[dict[str, Any]]:
        return list(self.client.scan(TableName=self.name)["Items"])

    def charge(self, **options: Any) -> Any:
        @dynsafe.idempotent(self.store, key=lambda order: order["id"], **options)
        def charge(order: dict[str, Any]) -> dict[str, Any]:
            self.runs.append(order["id"])
            return {"charged": order["amount"]}

        return charge


@pytest.fixture
def env(locked: Backend) -> Env:
    return Env(locked)


# -- the contract ---------------------------------------------------------------------


def test_contract_example_runs_once_and_replays(locked: Backend) -> None:
    import boto3

    resource = boto3.resource("dynamodb", region_name="us-east-1")
    table = resource.Table(new_table(locked))
    charges: list[str] = []
    # --8<-- [start:contract]
    store = dynsafe.IdempotencyStore(
        table, ttl=timedelta(hours=24), lease=timedelta(seconds=30)
    )

    @dynsafe.idempotent(store, key=lambda order: order["order_id"])
    def charge(order: dict[str, Any]) -> dict[str, Any]:
        charges.append(order["order_id"])  # the side effect: once per order
        return {"charged": order["amount"]}

    order = {"order_id": "o-1", "amount": Decimal("9.99")}
    assert charge(order) == {"charged": Decimal("9.99")}  # runs, stores the result
    assert charge(order) == {"charged": Decimal("9.99")}  # replays it
    assert charges == ["o-1"]
    # --8<-- [end:contract]


def test_first_call_is_two_writes_and_replay_one_on_moto(env: Env) -> None:
    charge = env.charge()
    assert charge({"id": "a", "amount": 5}) == {"charged": 5}
    assert env.table.stats.by_operation() == {"PutItem": 2}
    env.table.stats.reset()
    assert charge({"id": "a", "amount": 5}) == {"charged": 5}
    assert env.table.stats.by_operation() == {"PutItem": 1}
    assert env.runs == ["a"]


def test_request_counts_per_backend(atomic: Backend) -> None:
    env = Env(atomic)
    charge = env.charge()
    charge({"id": "a", "amount": 5})
    first = env.table.stats.by_operation()
    env.table.stats.reset()
    assert charge({"id": "a", "amount": 5}) == {"charged": 5}
    replay = env.table.stats.by_operation()
    assert first == {"PutItem": 2}
    # dynalite sends no item back with a failed condition: one read tells instead.
    expected = {"PutItem": 1} if atomic.returns_item else {"PutItem": 1, "GetItem": 1}
    assert replay == expected
    assert env.runs == ["a"]


def test_read_first_replays_with_one_read(atomic: Backend) -> None:
    env = Env(atomic, read_first=True)
    charge = env.charge()
    charge({"id": "a", "amount": 5})
    assert env.table.stats.by_operation() == {"GetItem": 1, "PutItem": 2}
    env.table.stats.reset()
    assert charge({"id": "a", "amount": 5}) == {"charged": 5}
    assert env.table.stats.by_operation() == {"GetItem": 1}


REPLAYED: list[Any] = [
    None,
    0,
    "",
    [],
    {},
    False,
    1.5,
    10**40,
    Decimal("1.10"),
    Decimal("-0.000000000000000000000000000000000001"),
    b"\x00\xff",
    (1, (2, "x")),
    {1.5, "a"},
    frozenset({Decimal("2.5")}),
    {"$decimal": "not a tag", "$dict": {"$set": []}},
    {"nested": [{"a": None, "b": [Decimal("3.14"), {}, []]}], "e": ""},
    "caf\u00e9 \U0001f600 \ud800",
]


@pytest.mark.parametrize("value", REPLAYED, ids=repr)
def test_stored_results_replay_equal_and_of_the_same_type(env: Env, value: Any) -> None:
    @dynsafe.idempotent(env.store, key=lambda: "k")
    def produce() -> Any:
        env.runs.append(1)
        return value

    assert produce() is value
    replayed = produce()
    assert replayed == value
    assert type(replayed) is type(value)
    assert env.runs == [1]


def test_json_serializer_keeps_decimal_digits_exactly() -> None:
    serializer = JsonSerializer()
    text = serializer.dumps({"d": Decimal("1.10")})
    assert str(serializer.loads(text)["d"]) == "1.10"


def test_a_pluggable_serializer_stores_what_json_cannot(env: Env) -> None:
    class Pickled:
        def dumps(self, value: Any) -> str:
            return base64.b64encode(pickle.dumps(value)).decode()

        def loads(self, text: str) -> Any:
            return pickle.loads(base64.b64decode(text))

    moment = datetime(2026, 1, 2, tzinfo=timezone.utc)

    @dynsafe.idempotent(env.store, key=lambda: "k", serializer=Pickled())
    def when() -> datetime:
        env.runs.append(1)
        return moment

    assert when() == moment
    assert when() == moment
    assert env.runs == [1]


def test_an_unserializable_result_releases_the_claim(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda: "k")
    def when() -> datetime:
        env.runs.append(1)
        return datetime(2026, 1, 2)

    with pytest.raises(dynsafe.InvalidValueError, match="datetime"):
        when()
    assert env.items() == []
    with pytest.raises(dynsafe.InvalidValueError):
        when()
    assert env.runs == [1, 1]


# -- in progress and waiting ----------------------------------------------------------


def test_a_call_while_another_holds_the_key_is_in_progress(env: Env) -> None:
    seen: list[dynsafe.IdempotencyInProgressError] = []

    @dynsafe.idempotent(env.store, key=lambda n: "k", payload=lambda n: None)
    def work(n: int) -> int:
        env.clock.advance(10)
        if n == 0:
            with pytest.raises(dynsafe.IdempotencyInProgressError) as caught:
                work(1)
            seen.append(caught.value)
        return n

    assert work(0) == 0
    assert isinstance(seen[0], dynsafe.ConflictError)
    assert seen[0].retryable
    assert seen[0].retry_after == pytest.approx(20.0)
    assert seen[0].item is None  # the holder's token is never handed out


def test_wait_polls_until_the_holder_completes(env: Env) -> None:
    release, done = threading.Event(), threading.Event()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        release.set()
        assert done.wait(5)

    def slow(order: dict[str, Any]) -> dict[str, Any]:
        assert release.wait(5)
        return {"by": "holder"}

    holder = dynsafe.idempotent(env.store, key=lambda order: order["id"])(slow)
    policy = dynsafe.RetryPolicy(sleep=sleep, max_delay=2.0)
    waiter = dynsafe.idempotent(env.store, key=lambda order: order["id"], wait=policy)(
        lambda order: {"by": "waiter"}
    )
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(holder({"id": "a"})))
    thread.start()
    while env.store.get_record("a") is None:
        pass

    def join_then_finish() -> None:
        thread.join()
        done.set()

    thread_done = threading.Thread(target=join_then_finish)
    thread_done.start()
    assert waiter({"id": "a"}) == {"by": "holder"}
    thread_done.join()
    assert results == [{"by": "holder"}]
    # The first wait honours the holder's remaining lease, capped by max_delay.
    assert sleeps == [2.0]


# -- payloads -------------------------------------------------------------------------


def test_same_key_with_another_payload_is_a_mismatch(env: Env) -> None:
    charge = env.charge()
    charge({"id": "a", "amount": 5})
    with pytest.raises(dynsafe.IdempotencyKeyMismatchError):
        charge({"id": "a", "amount": 6})
    assert env.runs == ["a"]


def test_the_raw_payload_is_never_stored(env: Env) -> None:
    charge = env.charge()
    charge({"id": "a", "amount": 5, "card": "4111-secret"})
    (item,) = env.items()
    assert "4111-secret" not in repr(item)
    assert len(item["payload_hash"]["S"]) == 64


def test_the_payload_selector_chooses_the_parts_compared(env: Env) -> None:
    charge = env.charge(payload=lambda order: order["amount"])
    charge({"id": "a", "amount": 5, "trace": "t1"})
    assert charge({"id": "a", "amount": 5, "trace": "t2"}) == {"charged": 5}
    with pytest.raises(dynsafe.IdempotencyKeyMismatchError):
        charge({"id": "a", "amount": 7, "trace": "t1"})
    assert env.runs == ["a"]


def test_payload_by_argument_name_and_normalized_decimals(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda order, amount: order)
    def pay(order: str, amount: Decimal) -> str:
        env.runs.append(order)
        return order

    pay("a", Decimal("1.10"))
    assert pay(order="a", amount=Decimal("1.1")) == "a"
    assert env.runs == ["a"]


def test_a_payload_json_cannot_hold_is_refused_before_any_write(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda thing: "k")
    def use(thing: object) -> None:
        env.runs.append(1)

    with pytest.raises(dynsafe.InvalidValueError, match="payload"):
        use(object())
    assert env.table.stats.total == 0
    assert env.runs == []


def test_a_takeover_needs_the_same_payload(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda n: "k")
    def work(n: int) -> int:
        if n == 0:
            env.clock.advance(31)
            with pytest.raises(dynsafe.IdempotencyKeyMismatchError):
                work(1)
        return n

    assert work(0) == 0


# -- failures -------------------------------------------------------------------------


class DeclinedError(Exception):
    pass


def test_an_exception_releases_the_claim_and_propagates_unchanged(env: Env) -> None:
    raised = ValueError("boom")

    @dynsafe.idempotent(env.store, key=lambda n: "k")
    def work(n: int) -> int:
        env.runs.append(n)
        if len(env.runs) == 1:
            raise raised
        return n

    with pytest.raises(ValueError, match="boom") as caught:
        work(1)
    assert caught.value is raised
    assert env.items() == []
    assert work(1) == 1
    assert env.runs == [1, 1]


def test_chosen_exception_types_are_stored_and_replayed(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda n: "k", store_errors=(DeclinedError,))
    def work(n: int) -> int:
        env.runs.append(n)
        raise DeclinedError("card declined", n)

    for _ in range(2):
        with pytest.raises(DeclinedError) as caught:
            work(3)
        assert caught.value.args == ("card declined", 3)
    assert env.runs == [3]
    record = env.store.get_record("k")
    assert record is not None
    assert record.completed
    assert record.error == {
        "type": f"{__name__}:DeclinedError",
        "args": ["card declined", 3],
    }


def test_a_result_over_400_kb_is_refused_and_nothing_is_stored(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda: "k")
    def big() -> str:
        env.runs.append(1)
        return "x" * (410 * 1024)

    with pytest.raises(dynsafe.ItemTooLargeError) as caught:
        big()
    assert caught.value.key == {"pk": "idempotency#k"}
    assert env.table.stats.by_operation() == {"PutItem": 1, "DeleteItem": 1}
    assert env.items() == []
    assert env.runs == [1]


# -- leases and fencing ---------------------------------------------------------------


def successor_and_holder(env: Env) -> tuple[Any, list[BaseException]]:
    """A function whose first run pauses past its lease while a second takes over."""
    errors: list[BaseException] = []

    @dynsafe.idempotent(env.store, key=lambda who: "k", payload=lambda who: None)
    def work(who: str) -> str:
        env.runs.append(who)
        if who == "holder":
            env.clock.advance(31)
            assert work("successor") == "successor"
        return who

    return work, errors


def test_a_late_holder_is_fenced_and_the_successor_result_stands(env: Env) -> None:
    work, _ = successor_and_holder(env)
    with pytest.raises(dynsafe.IdempotencyOwnershipError):
        work("holder")
    assert env.runs == ["holder", "successor"]
    assert work("anyone") == "successor"
    record = env.store.get_record("k")
    assert record is not None
    assert record.completed


def test_a_late_holder_that_raises_cannot_delete_the_successor_record(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    raised = RuntimeError("late failure")

    @dynsafe.idempotent(env.store, key=lambda who: "k", payload=lambda who: None)
    def work(who: str) -> str:
        if who == "holder":
            env.clock.advance(31)
            work("successor")
            raise raised
        return who

    with (
        caplog.at_level(logging.WARNING, "dynsafe.idempotency"),
        pytest.raises(RuntimeError) as caught,
    ):
        work("holder")
    assert caught.value is raised
    assert "could not release" in caplog.text
    assert work("anyone") == "successor"


def test_a_late_completion_with_nobody_in_between_still_lands(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda: "k")
    def slow() -> str:
        env.clock.advance(100)
        return "done"

    assert slow() == "done"
    assert slow() == "done"


def test_the_token_is_exposed_and_matches_the_record(env: Env) -> None:
    tokens: list[str] = []

    @dynsafe.idempotent(env.store, key=lambda: "k")
    def work() -> str:
        claim = dynsafe.idempotency_context()
        record = env.store.get_record("k")
        assert record is not None
        assert record.status == "IN_PROGRESS"
        assert record.owner == claim.token
        assert claim.key == "k"
        tokens.append(claim.token)
        return claim.token

    assert work() == tokens[0]
    with pytest.raises(RuntimeError, match="only available"):
        dynsafe.idempotency_context()


def test_renew_extends_the_lease_so_no_takeover_happens(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda n: "k", payload=lambda n: None)
    def work(n: int) -> int:
        if n == 0:
            claim = dynsafe.idempotency_context()
            env.clock.advance(25)
            assert claim.renew() == START + 25 + 30
            env.clock.advance(25)
            with pytest.raises(dynsafe.IdempotencyInProgressError) as caught:
                work(1)
            assert caught.value.retry_after == pytest.approx(5.0)
        return n

    assert work(0) == 0


def test_renew_after_a_takeover_is_fenced(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda n: "k", payload=lambda n: None)
    def work(n: int) -> int:
        if n == 0:
            env.clock.advance(31)
            work(1)
            with pytest.raises(dynsafe.IdempotencyOwnershipError):
                dynsafe.idempotency_context().renew()
        return n

    with pytest.raises(dynsafe.IdempotencyOwnershipError):
        work(0)


def wait_until(check: Any, timeout: float = 5.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        done.wait(0.01)
    raise AssertionError("condition not reached")


def test_heartbeat_renews_the_lease_in_the_background(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda: "k")
    def long_work() -> str:
        claim = dynsafe.idempotency_context()
        env.clock.advance(20)
        with claim.heartbeat(interval=0.01):
            wait_until(lambda: claim.lease_expires == START + 50)
        record = env.store.get_record("k")
        assert record is not None
        assert record.lease_expires == START + 50
        return "done"

    assert long_work() == "done"


def test_heartbeat_reports_a_lost_claim_on_leaving(env: Env) -> None:
    taken_over = threading.Event()
    renewals_after: list[str] = []

    def hold_renewals(operation: str, params: dict[str, Any]) -> None:
        # Renewals wait while the key is taken over, so none of them can keep the
        # lease alive first; the next one is then refused.
        if operation == "UpdateItem":
            assert taken_over.wait(5)
            renewals_after.append(operation)

    env.table.hooks.append(hold_renewals)

    @dynsafe.idempotent(env.store, key=lambda n: "k", payload=lambda n: None)
    def work(n: int) -> int:
        if n == 0:
            claim = dynsafe.idempotency_context()
            with (  # noqa: PT012
                pytest.raises(dynsafe.IdempotencyOwnershipError),
                claim.heartbeat(interval=0.01),
            ):
                env.clock.advance(31)
                work(1)
                taken_over.set()
                wait_until(lambda: bool(renewals_after))
        return n

    with pytest.raises(dynsafe.IdempotencyOwnershipError):
        work(0)


# -- lost answers ---------------------------------------------------------------------


def faulty(backend: Backend) -> tuple[Env, testing.Faults]:
    """An Env on its own client, so that its faults stay with this test."""
    env = Env(backend)
    env.client = backend.client()
    env.table = dynsafe.Table(env.client, env.name, key=("pk",))
    env.store = dynsafe.IdempotencyStore(env.table, clock=env.clock)
    return env, testing.Faults(env.client)


def test_a_claim_whose_answer_was_lost_is_recognised_as_ours(locked: Backend) -> None:
    env, faults = faulty(locked)
    faults.lose_response("PutItem")
    charge = env.charge()
    assert charge({"id": "a", "amount": 1}) == {"charged": 1}
    assert faults.fired["PutItem"] == 1
    assert env.runs == ["a"]
    assert charge({"id": "a", "amount": 1}) == {"charged": 1}
    assert env.runs == ["a"]


def test_a_completion_whose_answer_was_lost_is_resolved_by_reading(
    locked: Backend,
) -> None:
    env, faults = faulty(locked)

    @dynsafe.idempotent(env.store, key=lambda: "k")
    def work() -> str:
        faults.lose_response("PutItem")
        env.runs.append(1)
        return "done"

    assert work() == "done"
    assert faults.fired["PutItem"] == 1
    assert work() == "done"
    assert env.runs == [1]


def test_a_completion_lost_before_it_landed_is_sent_again(locked: Backend) -> None:
    env, faults = faulty(locked)

    @dynsafe.idempotent(env.store, key=lambda: "k")
    def work() -> str:
        # The request never reaches DynamoDB, but the caller cannot know that.
        faults.before("PutItem", lambda: ReadTimeoutError(endpoint_url="local"))
        env.runs.append(1)
        return "done"

    assert work() == "done"
    assert env.table.stats.by_operation() == {"PutItem": 3, "GetItem": 1}
    assert work() == "done"
    assert env.runs == [1]


def test_a_release_whose_answer_was_lost_is_recognised_as_done(
    locked: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    env, faults = faulty(locked)

    @dynsafe.idempotent(env.store, key=lambda: "k")
    def work() -> str:
        faults.lose_response("DeleteItem")
        env.runs.append(1)
        raise DeclinedError("retry me")

    with (
        caplog.at_level(logging.WARNING, "dynsafe.idempotency"),
        pytest.raises(DeclinedError),
    ):
        work()
    assert faults.fired["DeleteItem"] == 1
    assert caplog.text == ""
    assert env.items() == []


# -- expiry, keys, namespaces ---------------------------------------------------------


def test_expiry_is_compared_in_code_and_the_ttl_attribute_is_set(env: Env) -> None:
    charge = env.charge()
    charge({"id": "a", "amount": 1})
    (item,) = env.items()
    assert item["expires_at"] == {"N": str(int(START) + 24 * 3600)}
    env.clock.advance(24 * 3600 + 1)  # moto never deletes expired items
    record = env.store.get_record("a")
    assert record is not None
    assert record.expired
    charge({"id": "a", "amount": 2})
    assert env.runs == ["a", "a"]


def test_the_ttl_attribute_can_be_renamed(locked: Backend) -> None:
    env = Env(locked, attribute_names={"expires_at": "ttl"}, ttl=60, lease=10)
    env.charge()({"id": "a", "amount": 1})
    (item,) = env.items()
    assert item["ttl"] == {"N": str(int(START) + 60)}
    assert "expires_at" not in item


def test_records_are_namespaced_by_a_fixed_prefix_not_the_function(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda order: order)
    def charge_v1(order: str) -> str:
        return "v1"

    @dynsafe.idempotent(env.store, key=lambda order: order)
    def renamed_charge(order: str) -> str:
        return "v2"

    @dynsafe.idempotent(env.store, key=lambda order: order, prefix="refunds")
    def refund(order: str) -> str:
        return "refund"

    assert charge_v1("o1") == "v1"
    assert renamed_charge("o1") == "v1"
    assert refund("o1") == "refund"
    keys = sorted(item["pk"]["S"] for item in env.items())
    assert keys == ["idempotency#o1", "refunds#o1"]


def test_any_partition_key_name_is_described_once(locked: Backend) -> None:
    table = dynsafe.Table(client_of(locked), new_table(locked, ("id",)))
    store = dynsafe.IdempotencyStore(table)
    for n in range(3):
        assert store.run(f"k{n}", lambda: 1) == 1
    assert table.stats.by_operation() == {"DescribeTable": 1, "PutItem": 6}
    assert store.record_key("k") == {"id": "idempotency#k"}


def test_a_single_table_design_uses_a_fixed_sort_key(locked: Backend) -> None:
    table = dynsafe.Table(client_of(locked), new_table(locked, ("pk", "sk")))
    store = dynsafe.IdempotencyStore(table, sort_key_value="IDEMPOTENCY")
    assert store.run("k", lambda: "ok") == "ok"
    assert store.run("k", lambda: "again") == "ok"
    record = store.get_record("k")
    assert record is not None
    assert record.completed
    assert store.record_key("k") == {"pk": "idempotency#k", "sk": "IDEMPOTENCY"}


def test_a_sort_key_without_its_value_is_refused_before_any_write(
    locked: Backend,
) -> None:
    table = dynsafe.Table(client_of(locked), new_table(locked, ("pk", "sk")))
    store = dynsafe.IdempotencyStore(table)
    with pytest.raises(dynsafe.ValidationError, match="sort_key_value"):
        store.run("k", lambda: 1)
    assert table.stats.by_operation() == {"DescribeTable": 1}


@pytest.mark.parametrize("bad", [7, None, b"k"])
def test_a_key_that_is_not_a_string_is_a_type_error(env: Env, bad: Any) -> None:
    @dynsafe.idempotent(env.store, key=lambda: bad)
    def work() -> None:
        env.runs.append(1)

    with pytest.raises(TypeError, match="string") as caught:
        work()
    assert isinstance(caught.value, dynsafe.InvalidValueError)
    assert env.table.stats.total == 0
    assert env.runs == []


def test_empty_and_oversized_keys_are_refused(env: Env) -> None:
    with pytest.raises(dynsafe.ValidationError, match="empty"):
        env.store.run("", lambda: 1)
    with pytest.raises(dynsafe.ValidationError, match="2048"):
        env.store.run("k" * 2040, lambda: 1)
    assert env.table.stats.total == 0


def test_admin_reads_and_deletes_a_record(env: Env) -> None:
    charge = env.charge()
    assert env.store.get_record("a") is None
    charge({"id": "a", "amount": 1})
    record = env.store.get_record("a")
    assert record is not None
    assert (record.key, record.status, record.lease_expires) == ("a", "COMPLETED", None)
    assert JsonSerializer().loads(str(record.result_text)) == {"charged": 1}
    assert env.store.delete_record("a") is True
    assert env.store.delete_record("a") is False
    charge({"id": "a", "amount": 1})
    assert env.runs == ["a", "a"]


def test_a_foreign_item_under_the_key_is_reported(env: Env) -> None:
    env.table.put({"pk": "idempotency#k", "status": "other"})
    with pytest.raises(dynsafe.DynsafeError, match="not an idempotency record"):
        env.store.run("k", lambda: 1)


# -- options --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": 10, "lease": 20},
        {"lease": 0},
        {"ttl": timedelta(seconds=-1)},
        {"lease": "30"},
        {"prefix": ""},
        {"attribute_names": {"colour": "c"}},
        {"attribute_names": {"owner": "status"}},
        {"key_names": ("status",)},
        {"key_names": ("pk", "sk")},
    ],
    ids=repr,
)
def test_bad_store_options_are_refused(
    locked: Backend, options: dict[str, Any]
) -> None:
    table = dynsafe.Table(client_of(locked), "unused", key=("pk",))
    with pytest.raises(dynsafe.ValidationError):
        dynsafe.IdempotencyStore(table, **options)


@pytest.mark.parametrize(
    "options",
    [{"wait": "yes"}, {"store_errors": (int,)}, {"prefix": ""}, {"payload": 3}],
    ids=repr,
)
def test_bad_decorator_options_are_refused_at_decoration(
    env: Env, options: dict[str, Any]
) -> None:
    with pytest.raises(dynsafe.ValidationError):
        dynsafe.idempotent(env.store, key=lambda: "k", **options)
    assert env.table.stats.total == 0


def test_generator_functions_are_refused_at_decoration(env: Env) -> None:
    def numbers() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        dynsafe.idempotent(env.store, key=lambda: "k")(numbers)


# -- async ----------------------------------------------------------------------------


def test_async_functions_run_once_and_replay(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda order: order["id"])
    async def charge(order: dict[str, Any]) -> dict[str, Any]:
        claim = dynsafe.idempotency_context()
        env.runs.append(claim.key)
        await asyncio.sleep(0)
        return {"charged": order["amount"]}

    async def twice() -> list[Any]:
        first = await charge({"id": "a", "amount": 3})
        return [first, await charge({"id": "a", "amount": 3})]

    assert asyncio.run(twice()) == [{"charged": 3}, {"charged": 3}]
    assert env.runs == ["a"]


def test_async_failures_release_the_claim(env: Env) -> None:
    @dynsafe.idempotent(env.store, key=lambda: "k")
    async def fail() -> None:
        env.runs.append(1)
        raise DeclinedError("no")

    for _ in range(2):
        with pytest.raises(DeclinedError):
            asyncio.run(fail())
    assert env.runs == [1, 1]
    assert env.items() == []


# -- transactional completion ---------------------------------------------------------


@pytest.fixture
def orders(env: Env) -> dynsafe.Table:
    return dynsafe.Table(env.client, new_table(env.backend), key=("pk",))


def test_business_writes_commit_with_the_completion(
    env: Env, orders: dynsafe.Table
) -> None:
    @dynsafe.idempotent(env.store, key=lambda order_id: order_id)
    def place(order_id: str) -> str:
        env.runs.append(order_id)
        dynsafe.idempotency_context().transaction.put(
            orders, {"pk": order_id, "state": "placed"}
        )
        return "placed"

    assert place("o1") == "placed"
    assert place("o1") == "placed"
    assert env.runs == ["o1"]
    assert orders.get({"pk": "o1"}) == {"pk": "o1", "state": "placed"}
    # The commit goes out on the first action's table, and counts there.
    assert env.table.stats.by_operation() == {"PutItem": 2}
    assert orders.stats.by_operation() == {"TransactWriteItems": 1, "GetItem": 1}


def test_a_fenced_holder_writes_neither_business_data_nor_completion(
    env: Env, orders: dynsafe.Table
) -> None:
    @dynsafe.idempotent(env.store, key=lambda who: "k", payload=lambda who: None)
    def place(who: str) -> str:
        dynsafe.idempotency_context().transaction.put(orders, {"pk": who})
        if who == "holder":
            env.clock.advance(31)
            place("successor")
        return who

    with pytest.raises(dynsafe.IdempotencyOwnershipError):
        place("holder")
    assert orders.get({"pk": "holder"}) is None
    assert orders.get({"pk": "successor"}) == {"pk": "successor"}
    assert place("anyone") == "successor"


def test_a_lost_transactional_completion_is_resolved_from_the_record(
    locked: Backend,
) -> None:
    env, faults = faulty(locked)
    orders = dynsafe.Table(env.client, new_table(locked), key=("pk",))
    faults.lose_response("TransactWriteItems")

    @dynsafe.idempotent(env.store, key=lambda: "k")
    def place() -> str:
        env.runs.append(1)
        dynsafe.idempotency_context().transaction.update(
            orders, {"pk": "o1"}, add={"count": 1}
        )
        return "placed"

    # moto ignores the request token, so the transaction's resend is refused by
    # the completion's own condition: the record says the first commit landed.
    assert place() == "placed"
    assert faults.fired["TransactWriteItems"] == 1
    assert orders.stats.by_operation()["TransactWriteItems"] == 2
    assert orders.get({"pk": "o1"}) == {"pk": "o1", "count": 1}
    assert place() == "placed"
    assert env.runs == [1]


def test_a_failed_business_condition_writes_nothing_and_releases(
    env: Env, orders: dynsafe.Table
) -> None:
    orders.put({"pk": "o1", "state": "shipped"})

    @dynsafe.idempotent(env.store, key=lambda: "k")
    def place() -> str:
        env.runs.append(1)
        dynsafe.idempotency_context().transaction.put(
            orders, {"pk": "o1", "state": "placed"}, condition=Attr("pk").not_exists()
        )
        return "placed"

    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        place()
    assert [reason.index for reason in caught.value.failures] == [0]
    assert env.store.get_record("k") is None
    assert orders.get({"pk": "o1"}) == {"pk": "o1", "state": "shipped"}


def test_docs_example_commits_the_order_with_the_completion(locked: Backend) -> None:
    client = client_of(locked)
    store = dynsafe.IdempotencyStore(
        dynsafe.Table(client, new_table(locked), key=("pk",))
    )
    orders = dynsafe.Table(client, new_table(locked), key=("pk",))
    stock = dynsafe.Table(client, new_table(locked), key=("pk",))
    stock.put({"pk": "sku-1", "available": 3})

    # --8<-- [start:transaction]
    @dynsafe.idempotent(store, key=lambda order: order["order_id"])
    def place(order: dict[str, Any]) -> dict[str, Any]:
        claim = dynsafe.idempotency_context()
        tx = claim.transaction  # committed with the completion record, or not at all
        tx.put(orders, {"pk": order["order_id"], "sku": order["sku"]})
        tx.update(
            stock,
            {"pk": order["sku"]},
            add={"available": -1},
            condition=Attr("available").gte(1),
        )
        return {"placed": order["order_id"]}

    order = {"order_id": "o-1", "sku": "sku-1"}
    assert place(order) == {"placed": "o-1"}  # one TransactWriteItems
    assert place(order) == {"placed": "o-1"}  # replayed: nothing written again
    # --8<-- [end:transaction]
    assert stock.get({"pk": "sku-1"}) == {"pk": "sku-1", "available": 2}
    assert orders.get({"pk": "o-1"}) == {"pk": "o-1", "sku": "sku-1"}


def test_docs_example_renews_the_lease_of_long_work(env: Env) -> None:
    store, steps = env.store, ["load", "transform", "save"]
    done: list[str] = []

    # --8<-- [start:heartbeat]
    @dynsafe.idempotent(store, key=lambda job_id: job_id)
    def rebuild(job_id: str) -> int:
        claim = dynsafe.idempotency_context()
        with claim.heartbeat():  # renews the lease every lease / 3, in a thread
            for step in steps:
                done.append(step)  # long work, longer than one lease
        return len(done)

    # --8<-- [end:heartbeat]
    assert rebuild("job-1") == 3
    assert rebuild("job-1") == 3
    assert done == steps
