"""DS104, safe variants: handlers that look at the code, re-raise, or are not DynamoDB."""

import logging

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)
s3 = boto3.client("s3")


class ConflictError(Exception):
    pass


class StorageError(Exception):
    pass


def create(table, item):
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise ConflictError("item exists") from error
        raise


def log_and_reraise(table, key):
    try:
        return table.get_item(Key=key)["Item"]
    except ClientError:
        logger.exception("read failed")
        raise


def reraise_by_name(table, key):
    try:
        table.delete_item(Key=key)
    except ClientError as error:
        logger.warning("delete failed: %s", error)
        raise error


def specific_exception(table, item):
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
    except table.meta.client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def translated_by_a_helper(table, key, translate):
    try:
        table.delete_item(Key=key)
    except ClientError as error:
        return translate(error)


def wrapped_in_a_generic_error(table, key):
    try:
        table.delete_item(Key=key)
    except ClientError as error:
        raise StorageError("delete failed") from error


def code_through_getattr(table, key):
    try:
        table.delete_item(Key=key)
    except ClientError as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code != "ResourceNotFoundException":
            raise


def not_dynamodb(bucket, name):
    try:
        s3.head_object(Bucket=bucket, Key=name)
    except ClientError:
        return False
    return True
