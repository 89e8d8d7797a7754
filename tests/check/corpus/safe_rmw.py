"""DS101, safe variants: every write that uses what it read is conditioned on it."""

import boto3
from boto3.dynamodb.conditions import Attr

from dynsafe import VersionedTable

dynamodb = boto3.resource("dynamodb")
orders = dynamodb.Table("orders")
archive = dynamodb.Table("orders-archive")
client = boto3.client("dynamodb")


def versioned_put(order_id, line):
    item = orders.get_item(Key={"pk": order_id}, ConsistentRead=True)["Item"]
    expected = item["version"]
    item["items"].append(line)
    item["version"] = expected + 1
    orders.put_item(
        Item=item,
        ConditionExpression="version = :expected",
        ExpressionAttributeValues={":expected": expected},
    )


def client_condition_on_read(order_id):
    response = client.get_item(TableName="orders", Key={"pk": {"S": order_id}})
    seen = response["Item"]["seen"]["N"]
    client.update_item(
        TableName="orders",
        Key={"pk": {"S": order_id}},
        UpdateExpression="SET seen = :new",
        ConditionExpression="seen = :old",
        ExpressionAttributeValues={":new": {"N": str(int(seen) + 1)}, ":old": {"N": seen}},
    )


def boto3_condition(order_id):
    item = orders.get_item(Key={"pk": order_id})["Item"]
    orders.put_item(
        Item={**item, "paid": True, "version": item["version"] + 1},
        ConditionExpression=Attr("version").eq(item["version"]),
    )


def atomic_update_without_read(order_id):
    orders.update_item(
        Key={"pk": order_id},
        UpdateExpression="ADD seen :one",
        ExpressionAttributeValues={":one": 1},
    )


def create_if_missing(order_id):
    response = orders.get_item(Key={"pk": order_id})
    if "Item" in response:
        return response["Item"]
    fresh = {"pk": order_id, "seen": 0, "version": 1}
    orders.put_item(Item=fresh, ConditionExpression="attribute_not_exists(pk)")
    return fresh


def insert_only_after_read(order_id):
    item = orders.get_item(Key={"pk": order_id}).get("Item") or {"pk": order_id}
    item["seen"] = item.get("seen", 0) + 1
    orders.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")


def copy_to_another_table(order_id):
    item = orders.get_item(Key={"pk": order_id})["Item"]
    archive.put_item(Item=item)


def decision_only(order_id, now):
    item = orders.get_item(Key={"pk": order_id})["Item"]
    if item.get("locked"):
        return
    orders.update_item(
        Key={"pk": order_id},
        UpdateExpression="SET checked_at = :now",
        ExpressionAttributeValues={":now": now},
    )


def replaced_before_write(order_id):
    item = orders.get_item(Key={"pk": order_id})["Item"]
    print(item)
    item = {"pk": order_id, "seen": 0}
    orders.put_item(Item=item, ConditionExpression="attribute_exists(pk)")


def save(table, item, expected):
    table.put_item(
        Item={**item, "version": expected + 1},
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": expected},
    )


def through_a_guarded_helper(table, key):
    item = table.get_item(Key=key)["Item"]
    item["retries"] = item.get("retries", 0) + 1
    save(table, item, item["version"])


def condition_we_cannot_read(table, key, condition, values):
    item = table.get_item(Key=key)["Item"]
    table.put_item(Item=item, ConditionExpression=condition, ExpressionAttributeValues=values)


def transaction_with_condition(key):
    row = client.get_item(TableName="accounts", Key=key)["Item"]
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "accounts",
                    "Key": key,
                    "UpdateExpression": "SET balance = :b",
                    "ConditionExpression": "balance = :old",
                    "ExpressionAttributeValues": {
                        ":b": {"N": str(int(row["balance"]["N"]) - 10)},
                        ":old": row["balance"],
                    },
                }
            }
        ],
        ClientRequestToken="debit-" + key["pk"]["S"],
    )


def the_dynsafe_way(table, order_id, line):
    versioned = VersionedTable(table)
    versioned.update({"pk": order_id}, lambda item: {**item, "items": [*item["items"], line]})


class Cache:
    """Not DynamoDB: a get_item/put_item pair on something else is left alone."""

    def __init__(self):
        self.store = {}

    def get_item(self, key):
        return self.store.get(key)

    def put_item(self, key, value):
        self.store[key] = value

    def bump(self, key):
        value = self.get_item(key) or 0
        self.put_item(key, value + 1)


def boto3_create_only(order_id):
    item = orders.get_item(Key={"pk": order_id}).get("Item") or {"pk": order_id}
    guard = Attr("pk").not_exists()
    orders.put_item(Item={**item, "seen": 1}, ConditionExpression=guard)


def closure_helpers(client, table_name):
    def read(key):
        return client.get_item(TableName=table_name, Key=key)["Item"]

    def write(item, expected):
        client.put_item(
            TableName=table_name,
            Item=item,
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":v": expected},
        )

    item = read({"pk": {"S": "a"}})
    expected = item["version"]
    item["version"] = {"N": str(int(expected["N"]) + 1)}
    write(item, expected)
