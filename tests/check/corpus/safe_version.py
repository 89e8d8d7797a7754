"""DS102, safe variants: every write that checks a version also moves it on."""

from boto3.dynamodb.conditions import Attr


def bump_in_place(table, key, expected):
    table.update_item(
        Key=key,
        UpdateExpression="SET paid = :p, version = version + :one",
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":p": True, ":one": 1, ":v": expected},
    )


def bump_to_a_new_value(table, key, expected):
    table.update_item(
        Key=key,
        UpdateExpression="SET #s = :s, #v = :next",
        ConditionExpression="#v = :expected",
        ExpressionAttributeNames={"#s": "status", "#v": "version"},
        ExpressionAttributeValues={":s": "shipped", ":next": expected + 1, ":expected": expected},
    )


def bump_with_add(table, key, expected):
    table.update_item(
        Key=key,
        UpdateExpression="SET paid = :p ADD version :one",
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":p": True, ":one": 1, ":v": expected},
    )


def put_read_item_with_bump(table, key):
    item = table.get_item(Key=key)["Item"]
    expected = item["version"]
    item["version"] += 1
    table.put_item(
        Item=item,
        ConditionExpression="version = :expected",
        ExpressionAttributeValues={":expected": expected},
    )


def put_literal_with_next_version(table, key, current):
    table.put_item(
        Item={"pk": key, "paid": True, "version": current + 1},
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": current},
    )


def bumped_by_a_helper(table, key, next_version):
    item = table.get_item(Key=key)["Item"]
    expected = item["version"]
    next_version(item)
    table.put_item(
        Item=item,
        ConditionExpression=Attr("version").eq(expected),
    )


def spread_then_bump(table, key):
    item = table.get_item(Key=key)["Item"]
    table.put_item(
        Item={**item, "paid": True, "version": item["version"] + 1},
        ConditionExpression=Attr("version").eq(item["version"]),
    )


def delete_needs_no_bump(table, key, expected):
    table.delete_item(
        Key=key,
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": expected},
    )


def create_checks_absence(table, item):
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(version)")


def not_a_version(table, key, expected):
    table.update_item(
        Key=key,
        UpdateExpression="SET paid = :p",
        ConditionExpression="server = :s",
        ExpressionAttributeValues={":p": True, ":s": expected},
    )


def expression_we_cannot_read(table, key, expected, update_expression):
    table.update_item(
        Key=key,
        UpdateExpression=update_expression,
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": expected},
    )
