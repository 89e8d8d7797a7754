"""Where a value came from, and what a function does with what it is given.

An ``Origin`` marks a value as read from a table (at a line) or as come in through a
parameter. A ``Summary`` is what a walk of one function leaves for its callers: which
reads its return value carries, which parameters end up in a write with no condition,
whether it sends a request that is unsafe to repeat, and whether it talks to DynamoDB
at all. Summaries let a read in one helper and a write in another meet at the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ANY_TABLE = "*"
"""The table key of a table the checker cannot name; it matches every table."""


@dataclass(frozen=True)
class Origin:
    """The source of a value.

    Attributes:
        table: the table key the value was read from (``ANY_TABLE`` if unknown).
        line: the line of the read, 0 for a parameter.
        param: the parameter the value came in through, for parameters.
    """

    table: str
    line: int
    param: str | None = None


Taint = frozenset[Origin]


def reads(taint: Taint, table: str) -> list[Origin]:
    """Return the reads in ``taint`` that could be from ``table``, earliest first."""
    found = [
        origin
        for origin in taint
        if origin.param is None and tables_match(origin.table, table)
    ]
    return sorted(found, key=lambda origin: origin.line)


def params(taint: Taint) -> set[str]:
    """Return the parameters ``taint`` came through."""
    return {origin.param for origin in taint if origin.param is not None}


def tables_match(left: str, right: str) -> bool:
    """Whether two table keys may name the same table."""
    return left == right or ANY_TABLE in (left, right)


@dataclass
class Summary:
    """What one function does, as far as its callers need to know.

    Attributes:
        params: its parameter names, ``self`` or ``cls`` of a method left out.
        positional: the parameters that can be passed by position, in order.
        returns: origins of what it returns or yields.
        sinks: parameters written back with no condition, mapped to the table key.
        retry_hazard: what it sends that is unsafe to repeat, empty if nothing.
        calls_dynamodb: whether it sends DynamoDB requests, itself or through helpers.
    """

    params: frozenset[str] = frozenset()
    positional: tuple[str, ...] = ()
    returns: set[Origin] = field(default_factory=set)
    sinks: dict[str, str] = field(default_factory=dict)
    retry_hazard: str = ""
    calls_dynamodb: bool = False
