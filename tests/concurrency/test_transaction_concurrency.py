"""Random transfers among five accounts: transactions keep the books; plain writes fail.

Runs on locked moto only (in process for threads, as a server for processes): it is
atomic, and it has ``TransactWriteItems``, which dynalite lacks. Each test also runs
the same transfers as separate unconditioned writes and asserts that they break the
invariant, so that a broken transaction cannot pass by luck.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from boto3.dynamodb.conditions import Attr

import dynsafe
from dynsafe import testing
from dynsafe._codec import deserialize_item

from ..conftest import Backend
from .race import THINK, in_threads

PATIENT = dynsafe.RetryPolicy(attempts=300, deadline=None, max_delay=0.05)
ACCOUNTS = [f"acct{n}" for n in range(5)]
START = 100
TOTAL = START * len(ACCOUNTS)
THREADS = 8
PROCESSES = 4
PER_WORKER = 15

Transfer = tuple[str, str, int]


def plan(count: int) -> list[Transfer]:
    """Random transfers between two distinct accounts, some too big to be covered."""
    rng = random.Random()
    transfers = []
    for _ in range(count):
        source, target = rng.sample(ACCOUNTS, 2)
        transfers.append((source, target, rng.randint(1, 60)))
    return transfers


def accounts_of(client: Any, name: str) -> dynsafe.Table:
    return dynsafe.Table(client, name, key=("pk",))


# -- the three ways to move money ----------------------------------------------------


def safe_transfers(
    endpoint_url: str | None, accounts: str, ledger: str, worker: int, count: int
) -> list[str]:
    """Move money in transactions; return the ids of the transfers committed."""
    client = testing.local_client(endpoint_url)
    table, book = accounts_of(client, accounts), accounts_of(client, ledger)
    committed = []
    for n, (source, target, amount) in enumerate(plan(count)):
        transfer_id = f"w{worker}-{n}"
        try:
            with dynsafe.transaction(policy=PATIENT) as tx:
                tx.update(
                    table,
                    {"pk": source},
                    add={"balance": -amount},
                    condition=Attr("balance").gte(amount),
                )
                tx.update(table, {"pk": target}, add={"balance": amount})
                tx.put(
                    book,
                    {"pk": transfer_id, "from": source, "to": target, "amount": amount},
                    condition=Attr("pk").not_exists(),
                )
        except dynsafe.TransactionCanceledError as error:
            if [r.index for r in error.conditions_failed] != [0]:
                raise  # only "not enough money" may refuse a transfer
            continue
        committed.append(transfer_id)
    return committed


def versioned_transfer(
    versioned: dynsafe.VersionedTable, transfer: Transfer
) -> Callable[[dynsafe.Transaction], bool]:
    """A build function: read both balances, then write both under their versions."""
    source, target, amount = transfer
    table = versioned.table

    def build(tx: dynsafe.Transaction) -> bool:
        read = dynsafe.transact_get(
            [(table, {"pk": source}), (table, {"pk": target})], policy=PATIENT
        )
        paying, paid = (item or {} for item in read)
        if paying["balance"] < amount:
            return False  # adds nothing, so nothing is sent
        time.sleep(THINK)
        tx.put_versioned(versioned, {**paying, "balance": paying["balance"] - amount})
        tx.put_versioned(versioned, {**paid, "balance": paid["balance"] + amount})
        return True

    return build


def versioned_transfers(
    endpoint_url: str | None, accounts: str, count: int
) -> list[Transfer]:
    """Move money with read-modify-write transactions; return those committed."""
    table = accounts_of(testing.local_client(endpoint_url), accounts)
    versioned = dynsafe.VersionedTable(table)
    return [
        transfer
        for transfer in plan(count)
        if dynsafe.run_transaction(
            versioned_transfer(versioned, transfer), policy=PATIENT
        )
    ]


def unsafe_transfers(endpoint_url: str | None, accounts: str, count: int) -> int:
    """The same transfers as separate reads and unconditioned writes."""
    client = testing.local_client(endpoint_url)

    def balance(pk: str) -> int:
        item = client.get_item(
            TableName=accounts, Key={"pk": {"S": pk}}, ConsistentRead=True
        )
        return int(item["Item"]["balance"]["N"])

    def store(pk: str, value: int) -> None:
        item = {"pk": {"S": pk}, "balance": {"N": str(value)}}
        client.put_item(TableName=accounts, Item=item)

    moved = 0
    for source, target, amount in plan(count):
        paying, paid = balance(source), balance(target)
        if paying < amount:
            continue
        time.sleep(THINK)
        # The unconditioned writes this test shows breaking the total.
        store(source, paying - amount)  # dynsafe: ignore[DS101]
        store(target, paid + amount)  # dynsafe: ignore[DS101]
        moved += 1
    return moved


# -- checking the books --------------------------------------------------------------


def open_accounts(backend: Backend, *, versioned: bool = False) -> str:
    name = backend.table()
    table = accounts_of(backend.client(), name)
    for pk in ACCOUNTS:
        if versioned:
            dynsafe.VersionedTable(table).create({"pk": pk, "balance": START})
        else:
            table.put({"pk": pk, "balance": START})
    return name


def stored(backend: Backend, name: str) -> dict[str, dict[str, Any]]:
    table = accounts_of(backend.client(), name)
    return {pk: table.get({"pk": pk}) or {} for pk in ACCOUNTS}


def assert_books_kept(
    backend: Backend, accounts: str, ledger: str, ids: list[str]
) -> None:
    balances = {pk: item["balance"] for pk, item in stored(backend, accounts).items()}
    assert sum(balances.values()) == TOTAL, balances
    assert min(balances.values()) >= 0, balances
    pages = backend.client().get_paginator("scan").paginate(TableName=ledger)
    entries = [deserialize_item(raw) for page in pages for raw in page["Items"]]
    assert sorted(entry["pk"] for entry in entries) == sorted(ids)
    # Every balance is its start plus what the ledger says came in, less what went out.
    expected = dict.fromkeys(ACCOUNTS, START)
    for entry in entries:
        expected[entry["from"]] -= entry["amount"]
        expected[entry["to"]] += entry["amount"]
    assert balances == expected


def assert_versions_counted(
    backend: Backend, accounts: str, done: list[Transfer]
) -> None:
    items = stored(backend, accounts)
    balances = {pk: item["balance"] for pk, item in items.items()}
    assert sum(balances.values()) == TOTAL, balances
    assert min(balances.values()) >= 0, balances
    # Each committed transfer bumped both its accounts' versions exactly once.
    touched = Counter(pk for source, target, _ in done for pk in (source, target))
    assert {pk: item["version"] for pk, item in items.items()} == {
        pk: 1 + touched[pk] for pk in ACCOUNTS
    }


def assert_books_broken(backend: Backend, accounts: str, moved: int) -> None:
    balances = {pk: item["balance"] for pk, item in stored(backend, accounts).items()}
    assert moved > 0
    assert sum(balances.values()) != TOTAL, "plain writes should lose money"


# -- threads -------------------------------------------------------------------------


def test_threads_keep_the_total_and_plain_writes_do_not(locked: Backend) -> None:
    accounts, ledger = open_accounts(locked), locked.table()
    ids = in_threads(
        THREADS,
        lambda w: safe_transfers(None, accounts, ledger, w, PER_WORKER),
    )
    committed = [i for worker in ids for i in worker]
    assert committed, "some transfers should be covered"
    assert_books_kept(locked, accounts, ledger, committed)

    versioned = open_accounts(locked, versioned=True)
    done = in_threads(
        THREADS, lambda _: versioned_transfers(None, versioned, PER_WORKER)
    )
    assert_versions_counted(locked, versioned, [t for worker in done for t in worker])

    unsafe = open_accounts(locked)
    moved = in_threads(THREADS, lambda _: unsafe_transfers(None, unsafe, PER_WORKER))
    assert_books_broken(locked, unsafe, sum(moved))


# -- processes -----------------------------------------------------------------------


def bank_worker(
    barrier: Any, endpoint_url: str, tables: dict[str, str], worker: int
) -> dict[str, Any]:
    """Each phase starts in every process at once; the processes share no state."""
    barrier.wait(timeout=120)
    safe = safe_transfers(
        endpoint_url, tables["safe"], tables["ledger"], worker, PER_WORKER
    )
    barrier.wait(timeout=120)
    versioned = versioned_transfers(endpoint_url, tables["versioned"], PER_WORKER)
    barrier.wait(timeout=120)
    unsafe = unsafe_transfers(endpoint_url, tables["unsafe"], PER_WORKER)
    return {"safe": safe, "versioned": versioned, "unsafe": unsafe}


def _process_main(
    work: Callable[..., Any], barrier: Any, results: Any, args: tuple[Any, ...]
) -> None:
    try:
        results.put(work(barrier, *args))
    except BaseException as error:
        barrier.abort()  # release the others rather than leave them waiting
        results.put(error)


def in_processes_together(
    work: Callable[..., Any], args: list[tuple[Any, ...]]
) -> list[Any]:
    """Run ``work(barrier, *args[i])`` in spawned processes that share a barrier."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(args)), context.Queue()
    processes = [
        context.Process(target=_process_main, args=(work, barrier, results, a))
        for a in args
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=240) for _ in processes]
    except queue.Empty:
        outcomes = [TimeoutError("a worker process did not answer")]
    for process in processes:
        process.join(timeout=30)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise failures[0]
    return outcomes


def test_processes_keep_the_total_and_plain_writes_do_not(
    locked_server: Backend,
) -> None:
    backend = locked_server
    tables = {
        "safe": open_accounts(backend),
        "ledger": backend.table(),
        "versioned": open_accounts(backend, versioned=True),
        "unsafe": open_accounts(backend),
    }
    args = [(backend.endpoint_url, tables, w) for w in range(PROCESSES)]
    results = in_processes_together(bank_worker, args)

    committed = [i for result in results for i in result["safe"]]
    assert committed, "some transfers should be covered"
    assert_books_kept(backend, tables["safe"], tables["ledger"], committed)
    done = [t for result in results for t in result["versioned"]]
    assert_versions_counted(backend, tables["versioned"], done)
    assert_books_broken(backend, tables["unsafe"], sum(r["unsafe"] for r in results))
