"""DS103, safe variants: reserved words behind placeholders, and words that are fine."""

import boto3
from boto3.dynamodb.conditions import Attr, Key

table = boto3.resource("dynamodb").Table("metrics")
LOG_LINE = "SET value = value + 1 is what we would have written"


def placeholders(key, delta):
    table.update_item(
        Key=key,
        UpdateExpression="SET #value = #value + :value, #s = :s",
        ExpressionAttributeNames={"#value": "value", "#s": "status"},
        ExpressionAttributeValues={":value": delta, ":s": "done"},
    )


def boto3_conditions(key):
    table.put_item(
        Item={"pk": key, "status": "new"},
        ConditionExpression=Attr("status").ne("closed") & Attr("size").lt(10),
    )
    return table.query(KeyConditionExpression=Key("pk").eq(key) & Key("date").gt("2024"))


def glued_fstrings(key, prefix, name):
    table.update_item(
        Key=key,
        UpdateExpression=f"SET {prefix}value = :v, #{name} = :n, total{prefix} = :t",
        ExpressionAttributeNames={f"#{name}": name},
        ExpressionAttributeValues={":v": 1, ":n": 2, ":t": 3},
    )


def keywords_and_functions(key):
    table.update_item(
        Key=key,
        UpdateExpression="SET a = :a, b = list_append(b, :l) ADD c :c REMOVE d DELETE e :e",
        ConditionExpression=(
            "attribute_exists(pk) AND NOT begins_with(sk, :p) "
            "AND n BETWEEN :lo AND :hi AND size(tags) > :z AND k IN (:x, :y)"
        ),
        ExpressionAttributeValues={
            ":a": 1,
            ":l": [1],
            ":c": 1,
            ":e": {"x"},
            ":p": "p",
            ":lo": 1,
            ":hi": 2,
            ":z": 0,
            ":x": 1,
            ":y": 2,
        },
    )


def reserved_words_outside_expressions(key):
    print(LOG_LINE)
    table.query(
        KeyConditionExpression="pk = :pk",
        ProjectionExpression="#n, email, #d",
        ExpressionAttributeNames={"#n": "name", "#d": "date"},
        ExpressionAttributeValues={":pk": key},
        Select="SPECIFIC_ATTRIBUTES",
        ReturnConsumedCapacity="TOTAL",
    )


def expression_from_a_parameter(key, expression):
    table.update_item(Key=key, UpdateExpression=expression)
