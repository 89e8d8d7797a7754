"""DS105: a manual retry around a request that is not safe to send twice.

When a reply is lost (a timeout after the write landed), the next attempt applies the
increment or the transaction a second time.
"""

import time
import uuid

from botocore.exceptions import ClientError
from tenacity import retry, stop_after_attempt

RETRYABLE = {"ThrottlingException", "ProvisionedThroughputExceededException"}


def add_points(table, user, points):
    for attempt in range(5):
        try:
            table.update_item(  # expect: DS105
                Key={"pk": user},
                UpdateExpression="ADD points :p",
                ExpressionAttributeValues={":p": points},
            )
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in RETRYABLE:
                time.sleep(2**attempt)
                continue
            raise


def transfer(client, items):
    while True:
        try:
            client.transact_write_items(TransactItems=items)  # expect: DS105
            break
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionConflictException":
                raise
            time.sleep(0.1)


def new_token_each_attempt(client, items):
    for attempt in range(3):
        token = str(uuid.uuid4())
        try:
            client.transact_write_items(TransactItems=items, ClientRequestToken=token)  # expect: DS105
            return
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionConflictException":
                continue
            raise


def inline_new_token(client, items):
    attempts = 0
    while attempts < 3:
        attempts += 1
        try:
            client.transact_write_items(  # expect: DS105
                TransactItems=items,
                ClientRequestToken=uuid.uuid4().hex,  # a new token every time
            )
            return
        except ClientError as error:
            if error.response["Error"]["Code"] != "ThrottlingException":
                raise


@retry(stop=stop_after_attempt(3))
def decorated_increment(table, key):
    table.update_item(  # expect: DS105
        Key=key,
        UpdateExpression="SET hits = hits + :one",
        ExpressionAttributeValues={":one": 1},
    )


def increment(table, key):
    table.update_item(Key=key, UpdateExpression="ADD visits :one", ExpressionAttributeValues={":one": 1})


def helper_in_a_loop(table, key):
    for attempt in range(3):
        try:
            increment(table, key)  # expect: DS105
            return
        except ClientError as error:
            if error.response["Error"]["Code"] in RETRYABLE:
                continue
            raise


def append_in_a_loop(table, key, event):
    for _ in range(3):
        try:
            table.update_item(  # expect: DS105
                Key=key,
                UpdateExpression="SET events = list_append(events, :e)",
                ExpressionAttributeValues={":e": [event]},
            )
            break
        except ClientError as error:
            if error.response["Error"]["Code"] not in RETRYABLE:
                raise
            time.sleep(1)
