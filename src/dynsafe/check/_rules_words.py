"""DS103: reserved words used as bare attribute names in expression strings.

Any call keyword or request-dict entry named like an expression parameter is resolved
to text (through variables, constants, f-strings and the rest ``Resolver`` reads) and
its attribute-position words are matched against the full reserved word list. One
finding per word and literal, placed on the word itself where the source allows.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from dynsafe.check._calls import EXPRESSIONS
from dynsafe.check._expr import attribute_words
from dynsafe.check._reserved import RESERVED_WORDS

if TYPE_CHECKING:
    from dynsafe.check._flow import Flow


def check_call_expressions(flow: Flow, call: ast.Call) -> None:
    """Check the expression keywords of any call for bare reserved words."""
    for keyword in call.keywords:
        if keyword.arg in EXPRESSIONS:
            _check_reserved(flow, keyword.value, keyword.arg)


def check_dict_expressions(flow: Flow, node: ast.Dict) -> None:
    """Check the expression entries of a request dict for bare reserved words."""
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and key.value in EXPRESSIONS:
            _check_reserved(flow, value, key.value)


def _check_reserved(flow: Flow, node: ast.expr, parameter: str) -> None:
    text = flow.resolver.text(node)
    if text is None:
        return
    # One finding per word and literal: the fix (one placeholder) is the same.
    seen: set[tuple[int, str]] = set()
    for token in attribute_words(text.value, update=EXPRESSIONS[parameter]):
        anchor = text.node_at(token.start)
        word = token.text
        if anchor is None or (id(anchor), word) in seen:
            continue
        if word.upper() in RESERVED_WORDS:
            seen.add((id(anchor), word))
            message = (
                f'"{word}" is a reserved word in {parameter}: write "#{word}" and pass '
                f'ExpressionAttributeNames={{"#{word}": "{word}"}}'
            )
            flow.index.report_word("DS103", anchor, word, message)
