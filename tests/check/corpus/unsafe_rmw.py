"""DS101: an item is read, changed in Python and written back with no condition.

Every marked write can overwrite an update that another writer made between the read
and the write.
"""

import boto3
from boto3.dynamodb.conditions import Attr, Key

dynamodb = boto3.resource("dynamodb")
orders = dynamodb.Table("orders")
client = boto3.client("dynamodb")


def add_line(order_id, line):
    item = orders.get_item(Key={"pk": order_id})["Item"]
    item["items"].append(line)
    orders.put_item(Item=item)  # expect: DS101


def bump_with_client(order_id):
    response = client.get_item(TableName="orders", Key={"pk": {"S": order_id}})
    seen = int(response["Item"]["seen"]["N"]) + 1
    client.update_item(  # expect: DS101
        TableName="orders",
        Key={"pk": {"S": order_id}},
        UpdateExpression="SET seen = :seen",
        ExpressionAttributeValues={":seen": {"N": str(seen)}},
    )


def through_an_alias(order_id):
    t = orders
    current = t.get_item(Key={"pk": order_id}).get("Item", {})
    amount = current.get("amount", 0) + 5
    t.update_item(  # expect: DS101
        Key={"pk": order_id},
        UpdateExpression="SET amount = :a",
        ExpressionAttributeValues={":a": amount},
    )


def condition_that_ignores_the_read(order_id):
    item = orders.get_item(Key={"pk": order_id})["Item"]
    item["paid"] = True
    orders.put_item(Item=item, ConditionExpression="attribute_exists(pk)")  # expect: DS101


def condition_on_a_constant(order_id):
    item = orders.get_item(Key={"pk": order_id})["Item"]
    orders.update_item(  # expect: DS101
        Key={"pk": order_id},
        UpdateExpression="SET price = :p",
        ConditionExpression="price < :cap",
        ExpressionAttributeValues={":p": item["price"] * 2, ":cap": 1000},
    )


def query_then_put(customer):
    page = orders.query(KeyConditionExpression=Key("customer").eq(customer))
    for order in page["Items"]:
        order["seen"] = order.get("seen", 0) + 1
        orders.put_item(Item=order)  # expect: DS101


def values_built_in_a_dict(order_id):
    old = orders.get_item(Key={"pk": order_id}, ConsistentRead=True)["Item"]
    values = {":q": old["qty"] - 1}
    orders.update_item(  # expect: DS101
        Key={"pk": order_id},
        UpdateExpression="SET qty = :q",
        ExpressionAttributeValues=values,
    )


def inline_read(order_id):
    orders.put_item(Item={**orders.get_item(Key={"pk": order_id})["Item"], "paid": True})  # expect: DS101


class OrderStore:
    def __init__(self, table_name):
        self.table = boto3.resource("dynamodb").Table(table_name)

    def rename(self, order_id, title):
        item = self.table.get_item(Key={"pk": order_id})["Item"]
        item["title"] = title
        self.table.put_item(Item=item)  # expect: DS101

    def load(self, order_id):
        return self.table.get_item(Key={"pk": order_id})["Item"]

    def touch(self, order_id):
        item = self.load(order_id)
        item["touched"] = item.get("touched", 0) + 1
        self.table.put_item(Item=item)  # expect: DS101


def load(table, key):
    return table.get_item(Key=key, ConsistentRead=True)["Item"]


def save(table, item):
    table.put_item(Item=item)


def through_helpers(table, key):
    item = load(table, key)
    item["retries"] = item.get("retries", 0) + 1
    save(table, item)  # expect: DS101


def scan_and_fix(table):
    for item in table.scan()["Items"]:
        table.put_item(Item={**item, "migrated": True})  # expect: DS101


def paginated(key):
    pages = client.get_paginator("query").paginate(
        TableName="orders", KeyConditionExpression="pk = :k"
    )
    for page in pages:
        for item in page["Items"]:
            item["note"] = {"S": "checked"}
            client.put_item(TableName="orders", Item=item)  # expect: DS101


def transaction_without_condition(key):
    row = client.get_item(TableName="accounts", Key=key)["Item"]
    left = int(row["balance"]["N"]) - 10
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {  # expect: DS101
                    "TableName": "accounts",
                    "Key": key,
                    "UpdateExpression": "SET balance = :b",
                    "ExpressionAttributeValues": {":b": {"N": str(left)}},
                }
            }
        ],
        ClientRequestToken="debit-" + key["pk"]["S"],
    )


def written_back_next_iteration(keys):
    item = None
    for key in keys:
        if item is not None:
            orders.put_item(Item=item)  # expect: DS101
        item = orders.get_item(Key=key)["Item"]
        item["seen"] = True


def migrate_in_batches(table):
    with table.batch_writer() as batch:
        for item in table.scan(ConsistentRead=True)["Items"]:
            item["schema"] = 2
            batch.put_item(Item=item)  # expect: DS101


def boto3_condition_on_a_constant(table, key):
    item = table.get_item(Key=key)["Item"]
    item["seen"] = True
    table.put_item(Item=item, ConditionExpression=Attr("state").eq("open"))  # expect: DS101


def closure_helpers(client, table_name):
    def read(key):
        return client.get_item(TableName=table_name, Key=key)["Item"]

    def write(item):
        client.put_item(TableName=table_name, Item=item)

    item = read({"pk": {"S": "a"}})
    item["n"] = {"N": "2"}
    write(item)  # expect: DS101
