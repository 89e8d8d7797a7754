"""Inline suppression comments: ``# dynsafe: ignore[DS101]``.

A comment on the first or last line of the flagged code silences the codes it names
(``ignore[DS101, DS103]``), or every code when it names none (``# dynsafe: ignore``).
Comments are read with ``tokenize``, so the same text inside a string does not count;
files that never mention ``dynsafe:`` skip that step.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable

from dynsafe.check._model import Finding

_MARKER = "dynsafe:"
_COMMENT = re.compile(
    r"#\s*dynsafe:\s*ignore\b(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE
)

Suppressions = dict[int, frozenset[str] | None]
"""Line number to the codes silenced there; None silences every code."""


def _comments(source: str) -> Iterable[tuple[int, str]]:
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string
    except (tokenize.TokenError, SyntaxError):
        return


def read_suppressions(source: str) -> Suppressions:
    """Return the suppression comments of a file by line."""
    if _MARKER not in source:
        return {}
    found: Suppressions = {}
    for line, comment in _comments(source):
        match = _COMMENT.search(comment)
        if match is None:
            continue
        codes = match.group("codes")
        if codes is None:
            found[line] = None
        else:
            named = frozenset(c.strip().upper() for c in codes.split(",") if c.strip())
            found[line] = named
    return found


def is_suppressed(finding: Finding, suppressions: Suppressions) -> bool:
    """Whether a suppression comment on the finding's first or last line names it."""
    for line in {finding.line, finding.end_line or finding.line}:
        if line in suppressions:
            codes = suppressions[line]
            if codes is None or finding.code in codes:
                return True
    return False
