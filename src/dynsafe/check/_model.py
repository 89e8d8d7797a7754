"""What the checker reports: rules, findings and per-file errors.

A ``Rule`` is the stable part (code, name, what it finds, the dynsafe primitive that
fixes it). A ``Finding`` is one place in one file where a rule fired. A ``FileError`` is
a file the checker could not read or parse; it is never suppressed or filtered.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One kind of finding, identified by a code that never changes meaning.

    Attributes:
        code: the stable code, ``DS1xx``.
        name: a kebab-case name, used in SARIF and the docs.
        summary: one sentence saying what the rule finds.
        hint: the fix, naming the dynsafe primitive that does it safely.
    """

    code: str
    name: str
    summary: str
    hint: str


@dataclass(frozen=True, order=True)
class Finding:
    """One rule firing at one place.

    Attributes:
        path: the file, as it was given or found.
        line: 1-based line of the flagged code.
        column: 1-based column of the flagged code.
        code: the rule's code.
        message: one line saying what is wrong here.
        end_line: last line of the flagged code; a suppression comment on it counts too.
    """

    path: str
    line: int
    column: int
    code: str
    message: str
    end_line: int = 0

    @property
    def rule(self) -> Rule:
        """The rule this finding belongs to."""
        return RULES[self.code]

    @property
    def hint(self) -> str:
        """The fix, naming the dynsafe primitive that does it safely."""
        return RULES[self.code].hint


@dataclass(frozen=True, order=True)
class FileError:
    """A file that could not be checked: unreadable or not valid Python.

    Attributes:
        path: the file.
        line: 1-based line of the syntax error, 1 when unknown.
        column: 1-based column of the syntax error, 1 when unknown.
        message: what went wrong.
    """

    path: str
    line: int
    column: int
    message: str


PARSE_ERROR_CODE = "DS000"
"""The code printed for a file that does not parse; it cannot be selected or ignored."""

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule(
            "DS101",
            "read-modify-write-without-condition",
            "A value read from a table is written back to it with no condition on "
            "what was read, so a concurrent writer's update is lost.",
            "use dynsafe.VersionedTable.update, or add a ConditionExpression on the "
            "version (or value) you read",
        ),
        Rule(
            "DS102",
            "version-checked-not-bumped",
            "A write is conditioned on a version attribute but leaves the version "
            "unchanged, so the check protects nothing.",
            "dynsafe.VersionedTable.update checks and bumps the version in one write",
        ),
        Rule(
            "DS103",
            "reserved-word-in-expression",
            "An expression uses a DynamoDB reserved word as a bare attribute name, "
            "which the service rejects at run time.",
            "name the attribute through ExpressionAttributeNames, as dynsafe's own "
            "expressions do (dynsafe.VersionedTable.update, dynsafe.Counter.add)",
        ),
        Rule(
            "DS104",
            "client-error-one-outcome",
            "An except ClientError around DynamoDB calls treats every error as one "
            "outcome (a conflict, or nothing) without looking at the error code.",
            "branch on e.response['Error']['Code'], or let dynsafe.errors translate it "
            "and catch the ConflictError subclass you mean",
        ),
        Rule(
            "DS105",
            "retry-without-stable-token",
            "A manual retry loop repeats an ADD or transact_write_items without a "
            "token that stays the same across attempts, so one request can apply "
            "twice.",
            "use dynsafe.Counter.add(token=...) or dynsafe.transaction, which reuses "
            "its ClientRequestToken on every attempt",
        ),
    )
}
"""Every rule by code, in code order."""
