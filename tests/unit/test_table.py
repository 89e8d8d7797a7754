from __future__ import annotations

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from botocore.stub import ANY, Stubber

import dynsafe
from dynsafe._expressions import Update
from dynsafe._table import MAX_ITEM_BYTES, Table


def stubbed(key: tuple[str, ...] | None = ("pk",)) -> tuple[Table, Stubber]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return Table(client, "accounts", key=key), Stubber(client)


def test_update_sends_placeholders_condition_and_all_old_on_failure() -> None:
    table, stub = stubbed()
    stub.add_response(
        "update_item",
        {"Attributes": {"pk": {"S": "a"}, "value": {"N": "2"}}},
        {
            "TableName": "accounts",
            "Key": {"pk": {"S": "a"}},
            "UpdateExpression": "SET #n0 = :v0",
            "ConditionExpression": "#n0 < :v1",
            "ExpressionAttributeNames": {"#n0": "value"},
            "ExpressionAttributeValues": {":v0": {"N": "2"}, ":v1": {"N": "2"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            "ReturnValues": "ALL_NEW",
        },
    )
    with stub:
        result = table.update(
            {"pk": "a"}, Update().set("value", 2), condition=Attr("value").lt(2)
        )
    assert result == {"pk": "a", "value": 2}
    assert table.stats.by_operation() == {"UpdateItem": 1}


def test_get_is_consistent_and_returns_none_when_absent() -> None:
    table, stub = stubbed()
    stub.add_response(
        "get_item",
        {},
        {"TableName": "accounts", "Key": {"pk": {"S": "a"}}, "ConsistentRead": True},
    )
    with stub:
        assert table.get({"pk": "a"}) is None


def test_put_and_delete_request_shapes() -> None:
    table, stub = stubbed()
    stub.add_response(
        "put_item",
        {},
        {
            "TableName": "accounts",
            "Item": {"pk": {"S": "a"}, "n": {"N": "1"}},
            "ConditionExpression": "attribute_not_exists(#n0)",
            "ExpressionAttributeNames": {"#n0": "pk"},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )
    stub.add_response(
        "delete_item",
        {"Attributes": {"pk": {"S": "a"}}},
        {
            "TableName": "accounts",
            "Key": {"pk": {"S": "a"}},
            "ReturnValues": "ALL_OLD",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )
    with stub:
        table.put({"pk": "a", "n": 1}, condition=Attr("pk").not_exists())
        assert table.delete({"pk": "a"}) == {"pk": "a"}


def test_key_schema_is_described_once_and_cached() -> None:
    table, stub = stubbed(key=None)
    stub.add_response(
        "describe_table",
        {
            "Table": {
                "KeySchema": [
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                    {"AttributeName": "pk", "KeyType": "HASH"},
                ]
            }
        },
        {"TableName": "accounts"},
    )
    with stub:
        assert table.key_names == ("pk", "sk")
        assert table.key_names == ("pk", "sk")
    stub.assert_no_pending_responses()


def test_resource_table_is_unwrapped_to_its_client() -> None:
    resource = boto3.resource("dynamodb", region_name="us-east-1").Table("accounts")
    table = Table.of(resource, key=("pk",))
    assert table.name == "accounts"
    # A resource's client converts values itself; dynsafe uses a plain twin.
    assert table.client is not resource.meta.client
    assert table.client.meta.region_name == resource.meta.client.meta.region_name
    assert Table.of(resource).client is table.client
    assert Table.of(table) is table


def test_anything_else_is_not_a_table() -> None:
    with pytest.raises(TypeError, match="boto3 Table resource"):
        Table.of(object())


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ({}, "missing key attribute"),
        ({"pk": None}, "missing key attribute"),
        ({"pk": "a", "other": 1}, "not key attribute"),
    ],
)
def test_bad_keys_are_refused_before_sending(
    key: dict[str, object], message: str
) -> None:
    table, stub = stubbed()
    with stub, pytest.raises(dynsafe.ValidationError, match=message):
        table.get(key)


def test_items_over_400_kb_are_refused_before_sending() -> None:
    table, stub = stubbed()
    with stub, pytest.raises(dynsafe.ItemTooLargeError):
        table.put({"pk": "a", "blob": b"x" * MAX_ITEM_BYTES})


def test_botocore_parameter_errors_become_validation_errors() -> None:
    table, _ = stubbed()
    with pytest.raises(dynsafe.ValidationError, match="rejected by botocore"):
        table.send("GetItem", {"TableName": "accounts"})


def test_hooks_see_every_request_before_it_is_sent() -> None:
    table, stub = stubbed()
    seen: list[str] = []
    table.hooks.append(lambda operation, params: seen.append(operation))
    stub.add_response(
        "get_item", {}, {"TableName": "accounts", "Key": ANY, "ConsistentRead": ANY}
    )
    with stub:
        table.get({"pk": "a"}, consistent=False)
    assert seen == ["GetItem"]


@pytest.mark.parametrize("key", [(), ("a", "b", "c"), ("",)])
def test_bad_key_schemas_are_refused(key: tuple[str, ...]) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    with pytest.raises(dynsafe.ValidationError):
        Table(client, "t", key=key)
