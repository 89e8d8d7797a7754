"""The one translator from botocore errors to the dynsafe error tree.

A table maps each DynamoDB error code to the error it becomes; transport failures are
told apart by whether the request may have reached the server (a write that got no
answer is an :class:`~dynsafe.errors.OutcomeUnknownError`, never a plain transport
error). The public entry point is :func:`dynsafe.errors.translate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from dynsafe._codec import deserialize_item
from dynsafe.errors import (
    CancellationReason,
    ConditionFailedError,
    ConflictError,
    DynsafeError,
    IdempotentParameterMismatchError,
    ItemTooLargeError,
    OutcomeUnknownError,
    TableNotFoundError,
    ThrottledError,
    TransactionCanceledError,
    TransactionConflictError,
    TransactionInProgressError,
    TransportError,
    ValidationError,
)

__all__ = ["translate_error"]

Key = Mapping[str, Any]

_Factory = Callable[[str, dict[str, Any]], DynsafeError]


def _conflict(message: str, context: dict[str, Any]) -> DynsafeError:
    return ConditionFailedError(message, **context)


def _simple(cls: type[DynsafeError]) -> _Factory:
    def build(message: str, context: dict[str, Any]) -> DynsafeError:
        context.pop("item", None)
        context.pop("item_returned", None)
        return cls(message, **context)

    return build


def _conflicting(cls: type[ConflictError]) -> _Factory:
    def build(message: str, context: dict[str, Any]) -> DynsafeError:
        return cls(message, **context)

    return build


def _validation(message: str, context: dict[str, Any]) -> DynsafeError:
    context.pop("item", None)
    context.pop("item_returned", None)
    if "size" in message.lower() and "exceed" in message.lower():
        return ItemTooLargeError(message, **context)
    return ValidationError(message, **context)


# Most specific first is not needed: DynamoDB codes are exact strings.
_TRANSLATIONS: dict[str, _Factory] = {
    "ConditionalCheckFailedException": _conflict,
    "TransactionConflictException": _conflicting(TransactionConflictError),
    "TransactionInProgressException": _conflicting(TransactionInProgressError),
    "IdempotentParameterMismatchException": _simple(IdempotentParameterMismatchError),
    "ProvisionedThroughputExceededException": _simple(ThrottledError),
    "ThrottlingException": _simple(ThrottledError),
    "RequestLimitExceeded": _simple(ThrottledError),
    "ValidationException": _validation,
    "ResourceNotFoundException": _simple(TableNotFoundError),
}
"""DynamoDB error codes and the dynsafe errors they become.

``TransactionCanceledException`` is translated by :func:`translate_error` itself, since
its reasons need the actions of the transaction.
"""

_WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
)


def translate_error(
    error: BaseException,
    *,
    operation: str,
    table: str | None = None,
    key: Key | None = None,
    actions: Sequence[tuple[str, str, Key]] = (),
) -> DynsafeError:
    """Turn a botocore error into the matching dynsafe error (see ``translate``)."""
    context: dict[str, Any] = {"table": table, "key": key, "operation": operation}
    if isinstance(error, ClientError):
        return _translate_client_error(error, context, actions)
    if isinstance(error, (ConnectTimeoutError, EndpointConnectionError)):
        # The connection was never made, so the request cannot have been applied.
        return TransportError(f"{operation} could not connect", **context)
    if isinstance(error, (ReadTimeoutError, ConnectionClosedError)):
        if operation in _WRITE_OPERATIONS:
            return OutcomeUnknownError(
                f"{operation} sent but no answer came back", **context
            )
        return TransportError(f"{operation} got no answer", **context)
    return DynsafeError(f"{operation} failed: {type(error).__name__}", **context)


def _translate_client_error(
    error: ClientError,
    context: dict[str, Any],
    actions: Sequence[tuple[str, str, Key]],
) -> DynsafeError:
    details = error.response.get("Error", {})
    code = str(details.get("Code", "Unknown"))
    message = str(details.get("Message", "")) or code
    context["code"] = code
    raw_item: Any = error.response.get("Item")
    if raw_item is not None:
        context["item"] = deserialize_item(raw_item)
        context["item_returned"] = True
    if code == "TransactionCanceledException":
        context.pop("item", None)
        context.pop("item_returned", None)
        reasons = _cancellation_reasons(error.response, actions)
        return TransactionCanceledError(
            "transaction cancelled", reasons=reasons, **context
        )
    factory = _TRANSLATIONS.get(code)
    if factory is None:
        context.pop("item", None)
        context.pop("item_returned", None)
        return DynsafeError(f"{context['operation']} failed: {message}", **context)
    return factory(_one_line(message), context)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _cancellation_reasons(
    response: Mapping[str, Any], actions: Sequence[tuple[str, str, Key]]
) -> list[CancellationReason]:
    raw = response.get("CancellationReasons") or []
    reasons = []
    for index, entry in enumerate(raw):
        kind, table, key = (
            actions[index] if index < len(actions) else (None, None, None)
        )
        item = entry.get("Item")
        reasons.append(
            CancellationReason(
                index=index,
                action=kind,
                table=table,
                key=dict(key) if key is not None else None,
                code=entry.get("Code"),
                message=entry.get("Message"),
                item=deserialize_item(item) if item is not None else None,
            )
        )
    return reasons
