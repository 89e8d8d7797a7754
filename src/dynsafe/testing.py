"""Atomic local DynamoDB backends and fault injection, for your own race tests.

Plain moto is not atomic under concurrency: it evaluates a condition and then writes
with no lock in between, so two conditional creates of one key can both succeed and
a correct primitive can appear to lose updates. A race test needs a backend that is
atomic, as DynamoDB is. This module gives three:

- :func:`locked_moto`: moto in process with every DynamoDB request serialized under
  one lock. Serializing requests is a behaviour DynamoDB itself could have, so it is
  a valid oracle, and it covers transactions and ``ALL_OLD`` items.
- :class:`LockedMotoServer`: the same as a server on a loopback port, for tests that
  run several processes.
- :class:`Dynalite`: the ``dynalite`` npm package, an independent implementation that
  is atomic per item across threads and processes; no transactions, and no item
  comes back with a failed condition.

And, for the write whose answer is lost: :class:`Faults` raises chosen errors before
a request is sent or after DynamoDB has applied it, and :class:`RequestCounter`
counts what a client sent. ``moto`` is needed for the moto backends (``pip install
dynsafe[demo]``); nothing here is imported by the library itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = [
    "Dynalite",
    "Faults",
    "LockedMotoServer",
    "RequestCounter",
    "create_table",
    "free_port",
    "local_client",
    "locked_moto",
    "serialized_moto_requests",
]

REGION = "us-east-1"

_serial_lock = threading.RLock()
_patch_lock = threading.Lock()
_patch_depth = 0
_original_call_action: Any = None


def _set_fake_credentials() -> None:
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def serialized_moto_requests() -> Iterator[None]:
    """Serialize every DynamoDB request moto handles in this process under one lock.

    Nested uses share the one lock; the patch is undone when the outermost ends.
    """
    global _patch_depth, _original_call_action
    from moto.dynamodb.responses import DynamoHandler

    with _patch_lock:
        if _patch_depth == 0:
            _original_call_action = DynamoHandler.call_action

            def call_action(self: Any) -> Any:
                # The lock makes moto's condition check and its write one step.
                with _serial_lock:
                    return _original_call_action(self)

            DynamoHandler.call_action = call_action  # type: ignore[method-assign]
        _patch_depth += 1
    try:
        yield
    finally:
        with _patch_lock:
            _patch_depth -= 1
            if _patch_depth == 0:
                DynamoHandler.call_action = _original_call_action  # type: ignore[method-assign]


def local_client(endpoint_url: str | None = None, **config: Any) -> DynamoDBClient:
    """Return a DynamoDB client with fake credentials, for a local backend.

    Args:
        endpoint_url: The server's address, or ``None`` for in-process moto.
        config: Extra ``botocore.config.Config`` options, such as ``read_timeout``.
    """
    _set_fake_credentials()
    options: dict[str, Any] = {"max_pool_connections": 64}
    options.update(config)
    return boto3.session.Session().client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**options),
    )


@contextlib.contextmanager
def locked_moto() -> Iterator[DynamoDBClient]:
    """Run moto in process, atomic: every DynamoDB request under one lock.

    Yields a client; other clients made inside the block use the same backend.

    Example:
        >>> with dynsafe.testing.locked_moto() as client:
        ...     dynsafe.testing.create_table(client, "accounts")
    """
    from moto import mock_aws

    _set_fake_credentials()
    with mock_aws(), serialized_moto_requests():
        yield local_client()


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_answering(
    endpoint_url: str, timeout: float, alive: Callable[[], bool]
) -> None:
    client = local_client(
        endpoint_url, connect_timeout=1, read_timeout=2, retries={"max_attempts": 0}
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.list_tables()
            return
        except Exception:
            if not alive() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class LockedMotoServer:
    """moto as a server on a loopback port, every DynamoDB request under one lock.

    The server runs in a thread of this process, so the lock serializes requests from
    every process that connects to :attr:`endpoint_url`. Use it as a context manager.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._serialized: contextlib.ExitStack | None = None

    def start(self) -> LockedMotoServer:
        """Start the server and wait until it answers."""
        from moto.server import ThreadedMotoServer

        _set_fake_credentials()
        # The server's HTTP layer logs every request at INFO; a race test sends
        # thousands, and writing them out slows the server it measures.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._serialized = contextlib.ExitStack()
        self._serialized.enter_context(serialized_moto_requests())
        self._server = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.port, verbose=False
        )
        self._server.start()
        _wait_until_answering(self.endpoint_url, 10, lambda: True)
        return self

    def stop(self) -> None:
        """Stop the server and undo the serialization."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._serialized is not None:
            self._serialized.close()
            self._serialized = None

    def __enter__(self) -> LockedMotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _find_dynalite(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "node_modules" / "dynalite" / "cli.js"
        if candidate.is_file():
            return candidate
    return None


class Dynalite:
    """The dynalite server (npm package ``dynalite``) on a free loopback port.

    Args:
        cli: Path to dynalite's ``cli.js``; by default ``node_modules/dynalite/cli.js``
            in the working folder or one above it.
        port: The port, or a free one.

    Raises:
        FileNotFoundError: node or dynalite is not installed.
    """

    def __init__(self, cli: str | Path | None = None, port: int | None = None) -> None:
        found = Path(cli) if cli is not None else _find_dynalite(Path.cwd())
        if found is None or not found.is_file():
            raise FileNotFoundError("dynalite not found: run `npm install dynalite`")
        node = shutil.which("node")
        if node is None:
            raise FileNotFoundError("node is not on PATH; dynalite needs it")
        self.cli = found
        self.node = node
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dynalite:
        """Start the server and wait until it answers ``ListTables``."""
        command = [
            self.node,
            str(self.cli),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        command += [
            "--createTableMs",
            "0",
            "--deleteTableMs",
            "0",
            "--updateTableMs",
            "0",
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        process = self._process
        try:
            _wait_until_answering(self.endpoint_url, 20, lambda: process.poll() is None)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server by its process id."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> Dynalite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def create_table(
    client: DynamoDBClient,
    name: str,
    key: Sequence[str] = ("pk",),
    key_types: Sequence[str] | None = None,
) -> None:
    """Create an on-demand table and wait until it is active.

    Args:
        client: The client of the backend.
        name: The table's name.
        key: The key attributes, partition key first.
        key_types: Their DynamoDB types (``S``, ``N``, ``B``); strings by default.
    """
    types = list(key_types or ["S"] * len(key))
    roles: list[Any] = ["HASH", "RANGE"]
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": n, "KeyType": roles[i]} for i, n in enumerate(key)
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": types[i]}  # type: ignore[typeddict-item]
            for i, n in enumerate(key)
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(
        TableName=name,
        WaiterConfig={"Delay": 0.05, "MaxAttempts": 200},  # type: ignore[typeddict-item]
    )


class RequestCounter:
    """Counts the DynamoDB requests a client sends, by operation; thread-safe.

    Requests that botocore retries by itself count once.
    """

    def __init__(self, client: DynamoDBClient) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] += 1

    @property
    def total(self) -> int:
        """Every request counted."""
        with self._lock:
            return sum(self.counts.values())

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self.counts.clear()


class Faults:
    """Makes chosen requests of one client fail, before or after DynamoDB sees them.

    ``after`` faults let the request reach DynamoDB and be applied, then raise, as a
    read timeout does when the response is lost: the outcome-unknown case.

    Example:
        >>> faults = Faults(client)
        >>> faults.lose_response("UpdateItem")      # applied, then a read timeout
        >>> faults.fail_before("PutItem", "ThrottlingException")
    """

    def __init__(self, client: DynamoDBClient) -> None:
        self._lock = threading.Lock()
        self._before: list[tuple[str, Callable[[], BaseException], list[int]]] = []
        self._after: list[tuple[str, Callable[[], BaseException], list[int]]] = []
        self.fired: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb", self._on_before)
        client.meta.events.register("after-call.dynamodb", self._on_after)

    def lose_response(self, operation: str, times: int = 1) -> None:
        """Apply the next ``times`` requests of ``operation``, then raise a timeout."""
        error = lambda: ReadTimeoutError(endpoint_url="local")  # noqa: E731
        self.after(operation, error, times)

    def fail_before(
        self, operation: str, code: str, times: int = 1, message: str = ""
    ) -> None:
        """Refuse the next ``times`` requests of ``operation`` with an error code."""

        def error() -> BaseException:
            response: Any = {"Error": {"Code": code, "Message": message or code}}
            return ClientError(response, operation)

        self.before(operation, error, times)

    def before(
        self, operation: str, error: Callable[[], BaseException], times: int = 1
    ) -> None:
        """Raise ``error()`` instead of sending the next ``times`` requests."""
        with self._lock:
            self._before.append((operation, error, [times]))

    def after(
        self, operation: str, error: Callable[[], BaseException], times: int = 1
    ) -> None:
        """Raise ``error()`` after DynamoDB answered the next ``times`` requests."""
        with self._lock:
            self._after.append((operation, error, [times]))

    def _take(
        self,
        table: list[tuple[str, Callable[[], BaseException], list[int]]],
        operation: str,
    ) -> BaseException | None:
        with self._lock:
            for name, error, left in table:
                if name == operation and left[0] > 0:
                    left[0] -= 1
                    self.fired[operation] += 1
                    return error()
        return None

    def _on_before(self, model: Any, **_: Any) -> None:
        error = self._take(self._before, model.name)
        if error is not None:
            raise error

    def _on_after(self, model: Any, **_: Any) -> None:
        error = self._take(self._after, model.name)
        if error is not None:
            raise error
