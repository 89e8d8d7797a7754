"""DS102: a write checks a version attribute and leaves it as it was.

The condition passes for every writer that read the same version, one after another,
because none of them moves the version on: the check protects nothing.
"""

from boto3.dynamodb.conditions import Attr

NAMES = {"#ver": "record_version"}


def update_checks_but_never_sets(table, key, expected):
    table.update_item(  # expect: DS102
        Key=key,
        UpdateExpression="SET #s = :s",
        ConditionExpression="#v = :v",
        ExpressionAttributeNames={"#s": "status", "#v": "version"},
        ExpressionAttributeValues={":s": "shipped", ":v": expected},
    )


def sets_the_checked_placeholder(table, key, expected):
    table.update_item(  # expect: DS102
        Key=key,
        UpdateExpression="SET version = :v, paid = :p",
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": expected, ":p": True},
    )


def sets_the_same_value_again(table, key, expected):
    table.update_item(  # expect: DS102
        Key=key,
        UpdateExpression="SET version = :new, paid = :p",
        ConditionExpression="version = :old",
        ExpressionAttributeValues={":new": expected, ":old": expected, ":p": True},
    )


def puts_the_read_item_back(table, key):
    item = table.get_item(Key=key)["Item"]
    item["paid"] = True
    table.put_item(  # expect: DS102
        Item=item,
        ConditionExpression="version = :expected",
        ExpressionAttributeValues={":expected": item["version"]},
    )


def literal_item_keeps_the_version(table, key, current):
    table.put_item(  # expect: DS102
        Item={"pk": key, "paid": True, "version": current},
        ConditionExpression="version = :v",
        ExpressionAttributeValues={":v": current},
    )


def literal_item_drops_the_version(table, key, current):
    table.put_item(  # expect: DS102
        Item={"pk": key, "paid": True},
        ConditionExpression="attribute_exists(pk) AND version = :v",
        ExpressionAttributeValues={":v": current},
    )


def boto3_condition_and_spread(table, key):
    item = table.get_item(Key=key)["Item"]
    table.put_item(Item={**item, "paid": True}, ConditionExpression=Attr("version").eq(item["version"]))  # expect: DS102


def names_from_a_module_constant(client, key, expected):
    client.update_item(  # expect: DS102
        TableName="orders",
        Key=key,
        UpdateExpression="SET paid = :p",
        ConditionExpression="#ver = :ver",
        ExpressionAttributeNames={**NAMES},
        ExpressionAttributeValues={":p": {"BOOL": True}, ":ver": {"N": str(expected)}},
    )


def inside_a_transaction(client, key, expected):
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {  # expect: DS102
                    "TableName": "orders",
                    "Key": key,
                    "UpdateExpression": "SET paid = :p",
                    "ConditionExpression": "rev = :rev",
                    "ExpressionAttributeValues": {":p": {"BOOL": True}, ":rev": expected},
                }
            }
        ],
        ClientRequestToken="pay-" + str(expected),
    )
