"""DS105, safe variants: retries that cannot apply twice, and loops that are no retry."""

import time
import uuid

from botocore.exceptions import ClientError
from tenacity import retry, stop_after_attempt

from dynsafe import Counter

RETRYABLE = {"ThrottlingException", "TransactionConflictException"}


def stable_transaction_token(client, items):
    token = str(uuid.uuid4())
    for attempt in range(3):
        try:
            client.transact_write_items(TransactItems=items, ClientRequestToken=token)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in RETRYABLE:
                continue
            raise


def token_guarded_add(table, key, token):
    for attempt in range(3):
        try:
            table.update_item(
                Key=key,
                UpdateExpression="ADD points :p, applied :t",
                ConditionExpression="NOT contains(applied, :token)",
                ExpressionAttributeValues={":p": 5, ":t": {token}, ":token": token},
            )
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in RETRYABLE:
                continue
            raise


def idempotent_put(table, item):
    for attempt in range(3):
        try:
            table.put_item(Item=item)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in RETRYABLE:
                time.sleep(1)
                continue
            raise


def idempotent_set(table, key):
    while True:
        try:
            table.update_item(
                Key=key,
                UpdateExpression="SET paid = :p, points = if_not_exists(points, :zero)",
                ExpressionAttributeValues={":p": True, ":zero": 0},
            )
            break
        except ClientError as error:
            if error.response["Error"]["Code"] not in RETRYABLE:
                raise


def one_increment_per_order(table, orders):
    for order in orders:
        try:
            table.update_item(
                Key={"pk": order["customer"]},
                UpdateExpression="ADD spent :amount",
                ExpressionAttributeValues={":amount": order["amount"]},
            )
        except ClientError as error:
            print("skipped", order["pk"], error.response["Error"]["Code"])


def no_retry_on_failure(table, key):
    for attempt in range(3):
        try:
            table.update_item(Key=key, UpdateExpression="ADD visits :one", ExpressionAttributeValues={":one": 1})
        except ClientError:
            raise


@retry(stop=stop_after_attempt(3))
def decorated_with_stable_token(client, items, token):
    client.transact_write_items(TransactItems=items, ClientRequestToken=token)


def the_dynsafe_way(table, key, token):
    counter = Counter(table, key)
    for attempt in range(3):
        try:
            counter.add(5, token=token)
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in RETRYABLE:
                continue
            raise
