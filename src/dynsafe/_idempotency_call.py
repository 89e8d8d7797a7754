"""One idempotent call, checked before anything is sent, and what a replay gives.

A :class:`Call` holds everything the store needs besides the function: the key and
the record's key attributes, the payload's fingerprint, the serializer, the
exception types to store, and how to wait for another holder. Every option is
checked here, so a bad one is refused before any request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dynsafe._idempotency_record import IdempotencyRecord, rebuild_error
from dynsafe._idempotency_values import Serializer
from dynsafe.errors import InvalidValueError, ValidationError
from dynsafe.retry import RetryPolicy

__all__ = [
    "Call",
    "Replay",
    "check_error_types",
    "check_prefix",
    "dumps_result",
    "seconds_of",
    "wait_policy",
]


@dataclass(frozen=True)
class Call:
    """One idempotent call, checked and ready: everything but the function."""

    key: str
    record_key: dict[str, Any]
    payload_hash: str
    serializer: Serializer
    store_errors: tuple[type[BaseException], ...]
    wait: RetryPolicy | None


@dataclass(frozen=True)
class Replay:
    """A completed record found by a claim, to be returned or raised again."""

    record: IdempotencyRecord
    call: Call

    def value(self) -> Any:
        """The stored result, or raise the stored exception."""
        error = self.record.error
        if error is not None:
            raise rebuild_error(error, self.call.store_errors) from None
        return self.call.serializer.loads(str(self.record.result_text))


def seconds_of(value: timedelta | float, name: str) -> float:
    """A duration in seconds, from a ``timedelta`` or a number.

    Raises:
        ValidationError: it is neither, or not positive and finite.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValidationError(f"{name} is a timedelta or seconds, not {value!r}")
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValidationError(f"{name} must be positive and finite, not {value!r}")
    return float(seconds)


def check_prefix(prefix: Any) -> None:
    """Refuse a namespace that is not a non-empty string.

    Raises:
        ValidationError: it is not.
    """
    if not isinstance(prefix, str) or not prefix:
        raise ValidationError(f"a prefix is a non-empty string, not {prefix!r}")


def check_error_types(
    types: Sequence[type[BaseException]],
) -> tuple[type[BaseException], ...]:
    """The exception types to store, as a tuple.

    Raises:
        ValidationError: one is not an ``Exception`` subclass.
    """
    chosen = tuple(types)
    for cls in chosen:
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise ValidationError(f"store_errors holds exception types, not {cls!r}")
    return chosen


def wait_policy(wait: bool | RetryPolicy, lease: float) -> RetryPolicy | None:
    """How a call waits for another holder of its key, or ``None`` not to wait.

    Raises:
        ValidationError: ``wait`` is neither a bool nor a policy.
    """
    if isinstance(wait, RetryPolicy):
        return wait
    if wait is True:
        # Long enough for a crashed holder's lease to run out and be taken over.
        return RetryPolicy(
            attempts=100_000, base_delay=0.05, max_delay=1.0, deadline=lease + 5
        )
    if wait is False:
        return None
    raise ValidationError(f"wait is a bool or a RetryPolicy, not {wait!r}")


def dumps_result(serializer: Serializer, result: Any) -> str:
    """The result as text to store.

    Raises:
        InvalidValueError: the serializer refused it, or did not return a str.
    """
    try:
        text = serializer.dumps(result)
    except (TypeError, ValueError) as error:
        detail = (
            error.message
            if isinstance(error, InvalidValueError)
            else type(error).__name__
        )
        raise InvalidValueError(
            f"the result cannot be stored: {detail}; pass serializer= for other types"
        ) from error
    if not isinstance(text, str):
        raise InvalidValueError(
            f"a serializer's dumps() returns str, not {type(text).__name__}"
        )
    return text
