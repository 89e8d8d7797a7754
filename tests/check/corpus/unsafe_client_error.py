"""DS104: every ClientError around DynamoDB calls handled as one outcome.

Throttling, validation errors, a missing table and a failed condition all land in the
same handler, which answers "conflict" or nothing without looking at the error code.
"""

import logging

import botocore
from botocore.exceptions import ClientError
from botocore.exceptions import ClientError as AwsError

logger = logging.getLogger(__name__)


class ConflictError(Exception):
    pass


def create(table, item):
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError:  # expect: DS104
        raise ConflictError("item exists")


def read_or_none(table, key):
    try:
        return table.get_item(Key=key)["Item"]
    except ClientError as error:  # expect: DS104
        logger.warning("read failed: %s", error)
        return None


def delete_if_present(client, key):
    try:
        client.delete_item(TableName="t", Key=key, ConditionExpression="attribute_exists(pk)")
        return True
    except botocore.exceptions.ClientError:  # expect: DS104
        return False


def in_a_tuple(table, item):
    try:
        table.put_item(Item=item)
    except (ClientError, KeyError):  # expect: DS104
        pass


def remove(table, key):
    table.delete_item(Key=key)


def through_a_helper(table, key):
    try:
        remove(table, key)
    except ClientError as exc:  # expect: DS104
        raise ConflictError(str(exc)) from exc


def aliased_import(table, key, expected):
    try:
        table.update_item(
            Key=key,
            UpdateExpression="SET paid = :p, version = :next",
            ConditionExpression="version = :v",
            ExpressionAttributeValues={":p": True, ":v": expected, ":next": expected + 1},
        )
    except AwsError:  # expect: DS104
        return "conflict"
    return "ok"
