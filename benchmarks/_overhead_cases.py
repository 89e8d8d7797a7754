"""The cases of the overhead benchmark: each primitive and its raw boto3 form.

The client they run on has an instant transport: a handler on its
``before-send.dynamodb`` event answers each request with a canned response, in
process, and counts what was sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

import dynsafe
from dynsafe import testing

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import UpdateTypeDef

TABLE = "bench"
KEY = {"pk": {"S": "a1"}}
NOWHERE = "http://127.0.0.1:9"
"""The endpoint: a port nothing listens on, so a request the transport missed fails."""

_deserializer = TypeDeserializer()
_serializer = TypeSerializer()

Answer = tuple[int, bytes]
"""An HTTP status and a JSON body."""


# -- the instant transport -------------------------------------------------------------


class _Body:
    """The raw stream botocore reads a response body from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> list[bytes]:
        return [self._data]


def answer(body: dict[str, Any], status: int = 200) -> Answer:
    return status, json.dumps(body).encode()


def condition_failed(item: dict[str, Any]) -> Answer:
    error = "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
    body = {"__type": error, "message": "The conditional request failed", "Item": item}
    return answer(body, 400)


class InstantTransport:
    """Answers one client's DynamoDB requests from canned responses, in process."""

    def __init__(self, client: DynamoDBClient) -> None:
        self.answers: dict[str, Answer] = {}
        self.sent: Tally[str] = Tally()
        self.last_body: dict[str, bytes] = {}
        self._headers = HTTPHeaders()
        self._headers["Content-Type"] = "application/x-amz-json-1.0"
        # A before-send handler that returns a response replaces the HTTP exchange;
        # the stubs type handlers as returning None.
        client.meta.events.register("before-send.dynamodb", self._answer)  # type: ignore[arg-type]

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"]
        operation = (target.decode() if isinstance(target, bytes) else target).split(
            "."
        )[-1]
        self.sent[operation] += 1
        self.last_body[operation] = request.body
        status, body = self.answers[operation]
        return AWSResponse(request.url, status, self._headers, _Body(body))

    def sent_by(self, operation: str) -> dict[str, Any]:
        """The parameters of the last request of ``operation``."""
        body = self.last_body[operation]
        parsed: dict[str, Any] = json.loads(body)
        return parsed


def instant_client() -> tuple[DynamoDBClient, InstantTransport]:
    client = testing.local_client(NOWHERE)
    return client, InstantTransport(client)


# -- items -----------------------------------------------------------------------------


def dynsafe_item(version: int = 3) -> dict[str, Any]:
    """An account as dynsafe leaves it: with its history of four write tokens."""
    tokens = [{"S": f"token{i:011d}"} for i in range(4)]  # 16 characters each
    return {**raw_item(version), "dynsafe_tokens": {"L": tokens}}


def raw_item(version: int = 3) -> dict[str, Any]:
    """An account as hand-written code leaves it."""
    return {
        **KEY,
        "balance": {"N": "100"},
        "owner": {"S": "user-17"},
        "version": {"N": str(version)},
    }


def decode(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def encode(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


# -- the cases -------------------------------------------------------------------------


Op = Callable[[int], object]
"""One operation; its argument is the iteration number, for fresh keys and tokens."""


@dataclass
class Case:
    """One primitive and its raw boto3 equivalent, with their canned answers."""

    name: str
    raw_name: str
    dynsafe: Op
    raw: Op
    answers: dict[str, Answer]
    raw_answers: dict[str, Answer] | None = None
    results: dict[str, list[float]] = field(default_factory=dict)
    requests: dict[str, float] = field(default_factory=dict)


def versioned_cases(client: DynamoDBClient) -> list[Case]:
    table = dynsafe.Table(client, TABLE, key=("pk",))
    combined = dynsafe.VersionedTable(table)
    alone = dynsafe.VersionedTable(table, combine=False)

    def raw_get(_: int) -> dict[str, Any]:
        found = client.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)
        return decode(found["Item"])

    def raw_update(_: int) -> dict[str, Any]:
        item = raw_get(0)
        expected = item["version"]
        item["balance"] -= 1
        item["version"] = expected + 1
        client.put_item(
            TableName=TABLE,
            Item=encode(item),
            # The version read is still the stored one.
            ConditionExpression="#version = :expected",
            ExpressionAttributeNames={"#version": "version"},
            ExpressionAttributeValues={":expected": {"N": str(expected)}},
        )
        return item

    def raw_create(_: int) -> None:
        client.put_item(
            TableName=TABLE,
            Item=encode({"pk": "a1", "balance": 0, "version": 1}),
            # No item has this key yet.
            ConditionExpression="attribute_not_exists(#pk)",
            ExpressionAttributeNames={"#pk": "pk"},
        )

    def withdraw(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "balance": item["balance"] - 1}

    get_answers = {"GetItem": answer({"Item": dynsafe_item()}), "PutItem": answer({})}
    raw_answers = {"GetItem": answer({"Item": raw_item()}), "PutItem": answer({})}
    return [
        Case(
            "VersionedTable.get",
            "get_item + TypeDeserializer",
            lambda _: combined.get({"pk": "a1"}),
            raw_get,
            get_answers,
            raw_answers,
        ),
        Case(
            "VersionedTable.update",
            "get_item + put_item if version",
            lambda _: combined.update({"pk": "a1"}, withdraw),
            raw_update,
            get_answers,
            raw_answers,
        ),
        Case(
            "VersionedTable.update, combine=False",
            "get_item + put_item if version",
            lambda _: alone.update({"pk": "a1"}, withdraw),
            raw_update,
            get_answers,
            raw_answers,
        ),
        Case(
            "VersionedTable.create",
            "put_item if not exists",
            lambda _: combined.create({"pk": "a1", "balance": 0}),
            raw_create,
            {"PutItem": answer({})},
        ),
    ]


def counter_cases(client: DynamoDBClient) -> list[Case]:
    table = dynsafe.Table(client, TABLE, key=("pk",))
    views = dynsafe.Counter(table, {"pk": "page#home"}, "views")
    alone = dynsafe.Counter(table, {"pk": "page#home"}, "views", combine=False)
    generation = math.floor(time.time() / 300)  # the counter's default window
    digest = base64.b64encode(bytes(12)).decode()
    tokened = {
        "Attributes": {
            "views": {"N": "42"},
            f"views#tokens#{generation % 2}": {"BS": [digest]},
            "views#tokens#generation": {"N": str(generation)},
        }
    }

    def raw_add(_: int) -> int:
        response = client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "page#home"}},
            UpdateExpression="ADD #n :d",
            ExpressionAttributeNames={"#n": "views"},
            ExpressionAttributeValues={":d": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["views"]["N"])

    def raw_add_once(i: int) -> int:
        token = hashlib.blake2b(f"t{i}".encode(), digest_size=12).digest()
        slot = f"views#tokens#{generation % 2}"
        response = client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "page#home"}},
            UpdateExpression="ADD #n :d, #slot :token SET #gen = :gen",
            # The item's tokens are this generation's, or it has none yet, and
            # this token is in neither slot.
            ConditionExpression=(
                "(attribute_not_exists(#gen) OR #gen = :gen)"
                " AND NOT contains(#t0, :digest) AND NOT contains(#t1, :digest)"
            ),
            ExpressionAttributeNames={
                "#n": "views",
                "#slot": slot,
                "#gen": "views#tokens#generation",
                "#t0": "views#tokens#0",
                "#t1": "views#tokens#1",
            },
            ExpressionAttributeValues={
                ":d": {"N": "1"},
                ":token": {"BS": [token]},
                ":digest": {"B": token},
                ":gen": {"N": str(generation)},
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["views"]["N"])

    plain = {"UpdateItem": answer({"Attributes": {"views": {"N": "42"}}})}
    return [
        Case("Counter.add", "update_item ADD", lambda _: views.add(1), raw_add, plain),
        Case(
            "Counter.add, combine=False",
            "update_item ADD",
            lambda _: alone.add(1),
            raw_add,
            plain,
        ),
        Case(
            "Counter.add(token=...)",
            "update_item ADD + token set, conditioned",
            lambda i: views.add(1, token=f"t{i}"),
            raw_add_once,
            {"UpdateItem": answer(tokened)},
        ),
    ]


def transaction_cases(client: DynamoDBClient) -> list[Case]:
    table = dynsafe.Table(client, TABLE, key=("pk",))

    def transfer(_: int) -> None:
        with dynsafe.transaction() as tx:
            tx.update(
                table,
                {"pk": "a1"},
                add={"balance": -10},
                condition=Attr("balance").gte(10),
            )
            tx.update(table, {"pk": "a2"}, add={"balance": 10})

    def raw_transfer(_: int) -> None:
        debit: UpdateTypeDef = {
            "TableName": TABLE,
            "Key": {"pk": {"S": "a1"}},
            "UpdateExpression": "ADD #balance :delta",
            # The debited account holds enough.
            "ConditionExpression": "#balance >= :least",
            "ExpressionAttributeNames": {"#balance": "balance"},
            "ExpressionAttributeValues": {
                ":delta": {"N": "-10"},
                ":least": {"N": "10"},
            },
        }
        credit: UpdateTypeDef = {
            "TableName": TABLE,
            "Key": {"pk": {"S": "a2"}},
            "UpdateExpression": "ADD #balance :delta",
            "ExpressionAttributeNames": {"#balance": "balance"},
            "ExpressionAttributeValues": {":delta": {"N": "10"}},
        }
        client.transact_write_items(
            TransactItems=[{"Update": debit}, {"Update": credit}],
            ClientRequestToken=str(uuid.uuid4()),
        )

    return [
        Case(
            "transaction, 2 updates",
            "transact_write_items",
            transfer,
            raw_transfer,
            {"TransactWriteItems": answer({})},
        )
    ]


def idempotency_cases(
    client: DynamoDBClient, transport: InstantTransport
) -> list[Case]:
    store = dynsafe.IdempotencyStore(
        dynsafe.Table(client, TABLE, key=("pk",)), key_names=("pk",)
    )

    @dynsafe.idempotent(store, key=lambda key, order: key)
    def charge(key: str, order: dict[str, Any]) -> dict[str, Any]:
        return {"charged": order["amount"]}

    order = {"amount": 25}
    transport.answers = {"PutItem": answer({})}
    charge("replayed", order)
    completed = transport.sent_by("PutItem")["Item"]

    def raw_first(i: int) -> dict[str, Any]:
        now, token = time.time(), uuid.uuid4().hex
        record_key = {"pk": {"S": f"idempotency#k{i}"}}
        fingerprint = hashlib.sha256(json.dumps(order, sort_keys=True).encode())
        client.put_item(
            TableName=TABLE,
            Item={
                **record_key,
                "status": {"S": "IN_PROGRESS"},
                "owner": {"S": token},
                "lease_expires": {"N": str(round(now + 30, 3))},
                "expires_at": {"N": str(math.ceil(now + 86400))},
                "payload_hash": {"S": fingerprint.hexdigest()},
            },
            # No live record: none, expired, or a claim whose lease ran out.
            ConditionExpression=(
                "attribute_not_exists(#pk) OR #exp < :now"
                " OR (#status = :claimed AND #lease < :now)"
            ),
            ExpressionAttributeNames={
                "#pk": "pk",
                "#exp": "expires_at",
                "#status": "status",
                "#lease": "lease_expires",
            },
            ExpressionAttributeValues={
                ":now": {"N": str(now)},
                ":claimed": {"S": "IN_PROGRESS"},
            },
        )
        result = {"charged": order["amount"]}
        client.put_item(
            TableName=TABLE,
            Item={
                **record_key,
                "status": {"S": "COMPLETED"},
                "owner": {"S": token},
                "expires_at": {"N": str(math.ceil(now + 86400))},
                "payload_hash": {"S": fingerprint.hexdigest()},
                "result": {"S": json.dumps(result)},
            },
            # The claim is still ours.
            ConditionExpression="#owner = :token",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":token": {"S": token}},
        )
        return result

    def raw_replay(_: int) -> dict[str, Any]:
        try:
            raw_first(0)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            record = decode(error.response["Item"])  # type: ignore[typeddict-item]
            if record["status"] != "COMPLETED":
                raise
            stored: dict[str, Any] = json.loads(record["result"])
            return stored
        raise AssertionError("the canned answer should have refused the claim")

    return [
        Case(
            "@idempotent, first call",
            "put_item claim + put_item completion",
            lambda i: charge(f"k{i}", order),
            raw_first,
            {"PutItem": answer({})},
        ),
        Case(
            "@idempotent, replay",
            "put_item claim refused + decode record",
            lambda _: charge("replayed", order),
            raw_replay,
            {"PutItem": condition_failed(completed)},
        ),
    ]
