"""The public API is exactly these names; a change here is a change of contract."""

from __future__ import annotations

import dynsafe

PUBLIC = [
    "BoundExceededError",
    "CancellationReason",
    "ConditionFailedError",
    "ConflictError",
    "ContentionStats",
    "Counter",
    "DynsafeError",
    "IdempotencyClaim",
    "IdempotencyInProgressError",
    "IdempotencyKeyMismatchError",
    "IdempotencyOwnershipError",
    "IdempotencyRecord",
    "IdempotencyStore",
    "IdempotentParameterMismatchError",
    "InvalidValueError",
    "ItemExistsError",
    "ItemNotFoundError",
    "ItemTooLargeError",
    "KeyStats",
    "NotOwnerError",
    "OutcomeUnknownError",
    "Repository",
    "RetryPolicy",
    "ShardedCounter",
    "Table",
    "TableNotFoundError",
    "ThrottledError",
    "Transaction",
    "TransactionCanceledError",
    "TransactionConflictError",
    "TransactionInProgressError",
    "TransportError",
    "ValidationError",
    "VersionConflictError",
    "VersionedTable",
    "__version__",
    "idempotency_context",
    "idempotent",
    "retry_on_conflict",
    "run_transaction",
    "transact_get",
    "transaction",
    "versioned",
]


def test_all_is_sorted_and_pinned() -> None:
    assert dynsafe.__all__ == sorted(dynsafe.__all__)
    assert sorted(PUBLIC) == dynsafe.__all__


def test_every_public_name_exists_and_has_a_docstring() -> None:
    for name in dynsafe.__all__:
        value = getattr(dynsafe, name)
        if name != "__version__":
            assert value.__doc__, name


def test_console_script_prints_the_version(capsys: object) -> None:
    import pytest

    from dynsafe.cli import main

    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
