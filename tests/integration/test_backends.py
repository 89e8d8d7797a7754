"""The errors moto produces, translated, and the values that reach a real server."""

from __future__ import annotations

import string
import threading
from typing import Any

import pytest
from boto3.dynamodb.conditions import Attr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dynsafe
from dynsafe import testing
from dynsafe._expressions import Update
from dynsafe._table import Table

from ..conftest import Backend


def test_failed_condition_on_moto_carries_the_current_item(moto: Backend) -> None:
    table = Table(moto.client(), moto.table(), key=("pk",))
    table.put({"pk": "a", "value": 1})
    with pytest.raises(dynsafe.ConditionFailedError) as caught:
        table.update(
            {"pk": "a"}, Update().set("value", 2), condition=Attr("value").eq(5)
        )
    assert caught.value.item == {"pk": "a", "value": 1}
    assert caught.value.code == "ConditionalCheckFailedException"


def test_dynalite_sends_no_item_back_with_a_failed_condition(dynalite: Backend) -> None:
    table = Table(dynalite.client(), dynalite.table(), key=("pk",))
    table.put({"pk": "a", "value": 1})
    with pytest.raises(dynsafe.ConditionFailedError) as caught:
        table.update(
            {"pk": "a"}, Update().set("value", 2), condition=Attr("value").eq(5)
        )
    assert caught.value.item is None
    assert caught.value.item_returned is False


def test_missing_table_on_moto_is_table_not_found(moto: Backend) -> None:
    table = Table(moto.client(), "no-such-table", key=("pk",))
    with pytest.raises(dynsafe.TableNotFoundError):
        table.get({"pk": "a"})


def test_malformed_request_on_moto_is_a_validation_error(moto: Backend) -> None:
    name = moto.table()
    table = Table(moto.client(), name, key=("pk",))
    with pytest.raises(dynsafe.ValidationError) as caught:
        table.update({"pk": "a"}, Update().set("pk", "b"))  # keys cannot change
    assert caught.value.code == "ValidationException"


def test_cancelled_transaction_on_moto_names_actions(moto: Backend) -> None:
    name = moto.table()
    table = Table(moto.client(), name, key=("pk",))
    table.put({"pk": "b", "n": 1})
    put = table.write_params({"pk": "a"}, item={"pk": "a"})
    check = table.write_params({"pk": "b"}, condition=Attr("n").eq(2))
    check.pop("Item", None)
    request = {
        "TransactItems": [
            {
                "Put": {
                    k: v
                    for k, v in put.items()
                    if k != "ReturnValuesOnConditionCheckFailure"
                }
            },
            {"ConditionCheck": check},
        ]
    }
    actions = [("put", name, {"pk": "a"}), ("check", name, {"pk": "b"})]
    with pytest.raises(dynsafe.TransactionCanceledError) as caught:
        table.send("TransactWriteItems", request, actions=actions)
    reasons = caught.value.reasons
    assert [r.action for r in reasons] == ["put", "check"]
    assert [r.failed for r in reasons] == [False, True]
    assert reasons[1].item == {"pk": "b", "n": 1}


def test_all_three_backends_start_and_answer(
    moto: Backend, locked_server: Backend, dynalite: Backend
) -> None:
    for backend in (moto, locked_server, dynalite):
        table = Table(backend.client(), backend.table(), key=("pk",))
        table.put({"pk": "x", "n": 1})
        assert table.get({"pk": "x"}) == {"pk": "x", "n": 1}


def test_locked_moto_makes_conditional_creates_exclusive(locked: Backend) -> None:
    client = locked.client()
    name = locked.table()
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def create(worker: int) -> None:
        table = Table(client, name, key=("pk",))
        barrier.wait()
        try:
            table.put({"pk": "k", "w": worker}, condition=Attr("pk").not_exists())
            wins.append(worker)
        except dynsafe.ConditionFailedError:
            pass

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1


def test_faults_lose_the_response_after_the_write_is_applied(moto: Backend) -> None:
    client = moto.client()
    table = Table(client, moto.table(), key=("pk",))
    faults = testing.Faults(client)
    faults.lose_response("PutItem")
    with pytest.raises(dynsafe.OutcomeUnknownError):
        table.put({"pk": "a", "n": 1})
    assert table.get({"pk": "a"}) == {"pk": "a", "n": 1}
    assert faults.fired["PutItem"] == 1


names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    min_size=1,
    max_size=20,
).filter(lambda n: n not in ("pk", "__proto__"))
# dynalite, a JavaScript program, drops an attribute named __proto__ (found by this
# test); DynamoDB and moto keep it. Not dynsafe's to fix, so the name is left out.
numbers = st.one_of(
    st.integers(min_value=-(10**37), max_value=10**37),
    st.decimals(
        allow_nan=False,
        allow_infinity=False,
        places=6,
        min_value=-(10**20),
        max_value=10**20,
    ),
)
scalars = st.one_of(
    st.none(), st.booleans(), numbers, st.text(max_size=30), st.binary(max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.text(string.ascii_letters, min_size=1, max_size=5), inner, max_size=4
        ),
    ),
    max_leaves=8,
)


def _round_trip(backend: Backend, attributes: dict[str, Any]) -> None:
    table = Table(backend.client(), _table_for(backend), key=("pk",))
    update = Update()
    for name, value in attributes.items():
        update.set(name, value)
    table.update({"pk": "h"}, update)
    stored = table.get({"pk": "h"})
    assert stored is not None
    assert {k: v for k, v in stored.items() if k in attributes} == attributes
    table.delete({"pk": "h"})


_tables: dict[str, str] = {}


def _table_for(backend: Backend) -> str:
    if backend.name not in _tables:
        _tables[backend.name] = backend.table()
    return _tables[backend.name]


@pytest.fixture
def real_servers(locked_server: Backend, dynalite: Backend) -> list[Backend]:
    return [locked_server, dynalite]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(attributes=st.dictionaries(names, values, min_size=1, max_size=4))
def test_arbitrary_names_and_values_reach_servers_and_come_back_unchanged(
    real_servers: list[Backend], attributes: dict[str, Any]
) -> None:
    for backend in real_servers:
        _round_trip(backend, attributes)


PRECEDENCE = [
    # (condition, holds on {a: 1, b: 2, c: 3})
    (Attr("a").eq(1) & Attr("b").eq(2) & Attr("c").eq(0), False),
    (Attr("a").eq(0) | Attr("b").eq(2) & Attr("c").eq(3), True),
    ((Attr("a").eq(0) | Attr("b").eq(2)) & Attr("c").eq(0), False),
    (~(Attr("a").eq(1) & Attr("b").eq(0)), True),
    (~Attr("a").eq(1) & Attr("b").eq(2), False),
    (~(Attr("a").eq(0) | Attr("b").eq(0)) & Attr("c").exists(), True),
    (Attr("a").eq(0) & Attr("b").eq(0) | Attr("c").eq(3), True),
]


@pytest.mark.parametrize(("condition", "holds"), PRECEDENCE)
def test_flat_rendering_keeps_the_meaning_of_nested_conditions(
    real_servers: list[Backend], condition: Any, holds: bool
) -> None:
    for backend in real_servers:
        table = Table(backend.client(), _table_for(backend), key=("pk",))
        table.put({"pk": "p", "a": 1, "b": 2, "c": 3})
        try:
            table.update({"pk": "p"}, Update().set("seen", True), condition=condition)
            held = True
        except dynsafe.ConditionFailedError:
            held = False
        assert held is holds, backend.name
