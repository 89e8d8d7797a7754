"""dynsafe: concurrency-safe DynamoDB primitives.

Versioned items that never lose an update, atomic counters, transactions that say
which action failed, idempotency keys, typed conflict errors and a retry policy.
"""

from dynsafe._stats import ContentionStats, KeyStats
from dynsafe._table import Table
from dynsafe._version import __version__
from dynsafe.counter import Counter, ShardedCounter
from dynsafe.errors import (
    BoundExceededError,
    CancellationReason,
    ConditionFailedError,
    ConflictError,
    DynsafeError,
    IdempotencyInProgressError,
    IdempotencyKeyMismatchError,
    IdempotencyOwnershipError,
    IdempotentParameterMismatchError,
    InvalidValueError,
    ItemExistsError,
    ItemNotFoundError,
    ItemTooLargeError,
    NotOwnerError,
    OutcomeUnknownError,
    TableNotFoundError,
    ThrottledError,
    TransactionCanceledError,
    TransactionConflictError,
    TransactionInProgressError,
    TransportError,
    ValidationError,
    VersionConflictError,
)
from dynsafe.idempotency import (
    IdempotencyClaim,
    IdempotencyRecord,
    IdempotencyStore,
    idempotency_context,
    idempotent,
)
from dynsafe.repository import Repository
from dynsafe.retry import RetryPolicy, retry_on_conflict
from dynsafe.transaction import (
    Transaction,
    run_transaction,
    transact_get,
    transaction,
)
from dynsafe.versioned import VersionedTable, versioned

__all__ = [
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
