"""The five rules, as the checks ``Flow`` calls where each applies.

- ``check_write`` (DS101, DS102, in ``_rules_write``): a write whose values come from a
  read of the same table must carry a condition on what was read; a write conditioned
  on a version must change the version.
- ``check_call_expressions`` and ``check_dict_expressions`` (DS103, ``_rules_words``):
  expression strings must not use reserved words as bare attribute names.
- ``check_handler`` (DS104, ``_rules_errors``): an ``except ClientError`` around
  DynamoDB calls must look at the error code, re-raise, or translate into a
  non-conflict error.
- ``check_retry`` (DS105, ``_rules_retry``): inside a retry, an ``ADD`` or a
  transaction must carry a token that is the same on every attempt.
- ``check_helper_call`` (DS101, DS105): what a same-file helper does with its
  arguments, carried to the call.

Each rule errs on the side of silence: when the source does not spell out a condition
or an expression, the rule assumes the code is right.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from dynsafe.check._rules_errors import check_handler
from dynsafe.check._rules_retry import (
    TWICE,
    check_retry,
    is_retry_loop,
    retries_by_decorator,
)
from dynsafe.check._rules_words import check_call_expressions, check_dict_expressions
from dynsafe.check._rules_write import check_write, mutated_names
from dynsafe.check._summary import Summary, params, reads

if TYPE_CHECKING:
    from dynsafe.check._flow import Flow

__all__ = [
    "check_call_expressions",
    "check_dict_expressions",
    "check_handler",
    "check_helper_call",
    "check_retry",
    "check_write",
    "is_retry_loop",
    "mutated_names",
    "retries_by_decorator",
]


def check_helper_call(flow: Flow, call: ast.Call, name: str, summary: Summary) -> None:
    """Carry a helper's unconditioned writes (DS101) and retry hazards (DS105) here."""
    bound = flow.bind(call, summary)
    for param, table in summary.sinks.items():
        taint = flow.taint_of(bound.get(param))
        table = flow.substitute(table, summary, bound)
        found = reads(taint, table)
        if found:
            message = (
                f"{name}() writes back a value read at line {found[0].line} "
                "with no condition on what was read"
            )
            flow.index.report("DS101", call, message)
        for through in params(taint):
            flow.summary.sinks[through] = table
    if summary.retry_hazard:
        if flow.retry:
            message = f"{name}() sends {summary.retry_hazard} {TWICE}"
            flow.index.report("DS105", call, message)
        else:
            flow.summary.retry_hazard = summary.retry_hazard
