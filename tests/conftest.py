"""Backends for the whole suite, started and stopped by the suite itself.

- ``moto``: plain moto in process; functional tests only, never a race oracle.
- ``locked``: moto in process with every request serialized; atomic.
- ``locked_server``: the same as a loopback server, for tests with processes.
- ``dynalite``: the dynalite server (npm), atomic per item, no transactions and no
  item returned with a failed condition.
- ``atomic`` / ``atomic_server``: each test runs on locked moto and on dynalite.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from dynsafe import testing

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

_names = itertools.count()


@dataclass
class Backend:
    """One DynamoDB backend as the tests see it."""

    name: str
    endpoint_url: str | None
    returns_item: bool
    transactions: bool
    atomic: bool
    tables: list[str] = field(default_factory=list)

    def client(self, **config: object) -> DynamoDBClient:
        return testing.local_client(self.endpoint_url, **config)

    def table(
        self, key: Sequence[str] = ("pk",), key_types: Sequence[str] | None = None
    ) -> str:
        """Create a fresh table and return its name."""
        name = f"t{os.getpid()}-{next(_names)}"
        testing.create_table(self.client(), name, key, key_types)
        self.tables.append(name)
        return name


@pytest.fixture
def moto() -> Iterator[Backend]:
    from moto import mock_aws

    with mock_aws():
        yield Backend("moto", None, returns_item=True, transactions=True, atomic=False)


@pytest.fixture
def locked() -> Iterator[Backend]:
    with testing.locked_moto():
        yield Backend(
            "locked-moto", None, returns_item=True, transactions=True, atomic=True
        )


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[testing.LockedMotoServer]:
    with testing.LockedMotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def _dynalite_server() -> Iterator[testing.Dynalite]:
    with testing.Dynalite() as server:
        yield server


@pytest.fixture
def locked_server(_moto_server: testing.LockedMotoServer) -> Backend:
    return Backend(
        "locked-moto-server",
        _moto_server.endpoint_url,
        returns_item=True,
        transactions=True,
        atomic=True,
    )


@pytest.fixture
def dynalite(_dynalite_server: testing.Dynalite) -> Backend:
    return Backend(
        "dynalite",
        _dynalite_server.endpoint_url,
        returns_item=False,
        transactions=False,
        atomic=True,
    )


@pytest.fixture(params=["locked-moto", "dynalite"])
def atomic(request: pytest.FixtureRequest) -> Backend:
    """An atomic backend for threads in this process: each test runs on both."""
    name = "locked" if request.param == "locked-moto" else "dynalite"
    backend: Backend = request.getfixturevalue(name)
    return backend


@pytest.fixture(params=["locked-moto-server", "dynalite"])
def atomic_server(request: pytest.FixtureRequest) -> Backend:
    """An atomic backend other processes can reach: each test runs on both."""
    name = "locked_server" if request.param == "locked-moto-server" else "dynalite"
    backend: Backend = request.getfixturevalue(name)
    return backend
