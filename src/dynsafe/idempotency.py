"""Idempotency keys: a retried request has its effect once.

Roles:

- :class:`IdempotencyStore` holds the records in one table: it claims a key with one
  conditional write, stores the outcome, replays it, and fences a holder whose lease
  was taken over (``_idempotency_store``);
- :func:`idempotent` wraps a function (plain or ``async``) in the store's path:
  claim, run, complete or release;
- :class:`IdempotencyClaim` is the running function's view of its claim, reached with
  :func:`idempotency_context`: the owner token, lease renewal, a heartbeat, and the
  transaction that commits the function's writes with the completion;
- :class:`IdempotencyRecord` is a stored record, for inspection; results are stored
  by a :class:`~dynsafe._idempotency_values.Serializer`, :class:`JsonSerializer` by
  default.

Example:
    >>> store = dynsafe.IdempotencyStore(table, ttl=timedelta(hours=24))
    >>> @dynsafe.idempotent(store, key=lambda order: order["order_id"])
    ... def charge(order):
    ...     return {"charged": order["amount"]}
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from dynsafe._idempotency_call import Call, Replay
from dynsafe._idempotency_claim import IdempotencyClaim, current, idempotency_context
from dynsafe._idempotency_record import IdempotencyRecord
from dynsafe._idempotency_store import IdempotencyStore
from dynsafe._idempotency_values import JsonSerializer, Serializer
from dynsafe.errors import ValidationError
from dynsafe.retry import RetryPolicy

__all__ = [
    "IdempotencyClaim",
    "IdempotencyRecord",
    "IdempotencyStore",
    "JsonSerializer",
    "Serializer",
    "idempotency_context",
    "idempotent",
]

P = ParamSpec("P")
R = TypeVar("R")


def idempotent(
    store: IdempotencyStore,
    *,
    key: Callable[..., str],
    payload: Callable[..., Any] | None = None,
    prefix: str | None = None,
    wait: bool | RetryPolicy = False,
    store_errors: Sequence[type[BaseException]] = (),
    serializer: Serializer | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a function run once per idempotency key; later calls replay its result.

    Args:
        store: Where the records live.
        key: Called with the function's arguments; returns the idempotency key, a
            string.
        payload: Called with the function's arguments; returns the parts that must
            match when the key is used again. By default every argument, by name.
            Return a constant to skip the check.
        prefix: The namespace, instead of the store's. Fixed text: renaming the
            function keeps its records.
        wait: Wait for another holder of the key instead of raising
            :class:`~dynsafe.IdempotencyInProgressError`: ``True``, or a
            :class:`~dynsafe.RetryPolicy` (its ``sleep`` can be injected).
        store_errors: Exception types that are stored and raised again on a retry;
            any other exception releases the claim.
        serializer: How this function's results are stored, instead of the store's.

    Returns:
        The decorator. ``async def`` functions are supported: the store's requests
        run in a worker thread (``asyncio.to_thread``) while the function runs on
        the event loop.

    Raises:
        TypeError: at decoration, for a generator function (its work happens after
            the call returns, out of the claim's reach).
        ValidationError: at decoration, for a bad option.

    A call raises what :meth:`IdempotencyStore.run` raises, and costs the same. Safe
    across threads and processes.
    """
    if not isinstance(store, IdempotencyStore):
        raise ValidationError(
            f"expected an IdempotencyStore, not {type(store).__name__}"
        )
    if not callable(key) or (payload is not None and not callable(payload)):
        raise ValidationError("key= and payload= are functions of the call's arguments")
    options: dict[str, Any] = {
        "prefix": prefix,
        "wait": wait,
        "store_errors": tuple(store_errors),
        "serializer": serializer,
    }
    store._check_options(prefix, wait, options["store_errors"])

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(
                f"@idempotent cannot wrap the generator function {fn.__qualname__}"
            )
        prepare = _preparer(store, fn, key, payload, options)
        if inspect.iscoroutinefunction(fn):
            return cast(Callable[P, R], _async_wrapper(store, fn, prepare))

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            call = prepare(args, kwargs)
            return cast(R, store._execute(call, lambda: fn(*args, **kwargs)))

        return wrapper

    return decorate


def _preparer(
    store: IdempotencyStore,
    fn: Callable[..., Any],
    key: Callable[..., str],
    payload: Callable[..., Any] | None,
    options: dict[str, Any],
) -> Callable[[tuple[Any, ...], dict[str, Any]], Call]:
    signature = inspect.signature(fn)

    def every_argument(*args: Any, **kwargs: Any) -> dict[str, Any]:
        # By name, so f(order) and f(order=order) are the same payload.
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    select = payload if payload is not None else every_argument

    def prepare(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        parts = select(*args, **kwargs)
        return store._prepare(key(*args, **kwargs), parts, **options)

    return prepare


def _async_wrapper(
    store: IdempotencyStore,
    fn: Callable[..., Any],
    prepare: Callable[[tuple[Any, ...], dict[str, Any]], Call],
) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        call = prepare(args, kwargs)
        started = await asyncio.to_thread(store._start, call)
        if isinstance(started, Replay):
            return started.value()
        reset = current.set(started)
        try:
            result = await fn(*args, **kwargs)
        except BaseException as error:
            await asyncio.to_thread(store._fail, started, call, error)
            raise
        finally:
            current.reset(reset)
        await asyncio.to_thread(store._finish, started, call, result)
        return result

    return wrapper
