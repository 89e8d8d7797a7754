"""DS103: reserved words used as bare attribute names in expression strings.

DynamoDB rejects each of these at run time with "Attribute name is a reserved keyword".
"""

import boto3

client = boto3.client("dynamodb")
table = boto3.resource("dynamodb").Table("metrics")

PROJECTION = "pk, name, email"  # expect: DS103


def plain(key, delta):
    table.update_item(
        Key=key,
        UpdateExpression="SET value = value + :d",  # expect: DS103
        ExpressionAttributeValues={":d": delta},
    )


def implicit_concatenation(key):
    table.update_item(
        Key=key,
        UpdateExpression=(
            "SET #a = :a, "
            "size = :s"  # expect: DS103
        ),
        ExpressionAttributeNames={"#a": "area"},
        ExpressionAttributeValues={":a": 1, ":s": 2},
    )


def fstring_literal_part(key, attribute):
    table.update_item(
        Key=key,
        UpdateExpression=f"SET {attribute} = :v, status = :s",  # expect: DS103
        ExpressionAttributeValues={":v": 1, ":s": "done"},
    )


def through_a_variable(key):
    expression = "SET #n = :n REMOVE comment"  # expect: DS103
    table.update_item(
        Key=key,
        UpdateExpression=expression,
        ExpressionAttributeNames={"#n": "nickname"},
        ExpressionAttributeValues={":n": "x"},
    )


def module_constant():
    return table.scan(ProjectionExpression=PROJECTION)


def key_condition(day):
    return table.query(
        KeyConditionExpression="pk = :pk AND date > :d",  # expect: DS103
        ExpressionAttributeValues={":pk": "p", ":d": day},
    )


def nested_path():
    return table.scan(
        FilterExpression="profile.level > :l",  # expect: DS103
        ExpressionAttributeValues={":l": 3},
    )


def add_clause(key):
    table.update_item(Key=key, UpdateExpression="ADD count :one", ExpressionAttributeValues={":one": 1})  # expect: DS103


def client_transaction(key):
    client.transact_write_items(
        TransactItems=[
            {
                "ConditionCheck": {
                    "TableName": "metrics",
                    "Key": key,
                    "ConditionExpression": "attribute_exists(pk) AND state = :s",  # expect: DS103
                    "ExpressionAttributeValues": {":s": {"S": "open"}},
                }
            }
        ],
        ClientRequestToken="check-1",
    )


def format_method(key, attribute):
    table.update_item(
        Key=key,
        UpdateExpression="SET {} = :v, timestamp = :t".format(attribute),  # expect: DS103
        ExpressionAttributeValues={":v": 1, ":t": 2},
    )


def concatenated(key):
    table.update_item(
        Key=key,
        UpdateExpression="SET a = :a" + ", user = :u",  # expect: DS103
        ExpressionAttributeValues={":a": 1, ":u": "me"},
    )


def request_dict_spread(key):
    params = {
        "Key": key,
        "UpdateExpression": "SET owner = :o",  # expect: DS103
        "ExpressionAttributeValues": {":o": "me"},
    }
    table.update_item(**params)


def two_words_one_line(key):
    table.update_item(Key=key, UpdateExpression="SET #x = :x", ConditionExpression="data = :d OR zone = :z", ExpressionAttributeNames={"#x": "x"}, ExpressionAttributeValues={":x": 1, ":d": 2, ":z": 3})  # expect: DS103
