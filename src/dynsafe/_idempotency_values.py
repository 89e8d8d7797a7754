"""Stored results and payload fingerprints of idempotent calls.

Roles:

- the *tagged encoding* turns a Python value into plain JSON values and back, so
  that what JSON cannot say (a ``Decimal`` with its exact digits, ``bytes``, a
  ``tuple``, a ``set``) survives the trip. A tag is a one-key object whose key
  starts with ``$``; a caller's own dict with such a key is wrapped in ``$dict`` so
  it can never be read as a tag;
- :class:`JsonSerializer` is the default result serializer built on it; any object
  with ``dumps(value) -> str`` and ``loads(text) -> value`` can replace it;
- :func:`fingerprint` hashes the chosen parts of a call's payload: SHA-256 of their
  canonical JSON (sorted keys, normalized decimals, sorted sets). Only the hash is
  stored, never the payload.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from dynsafe.errors import InvalidValueError

__all__ = ["JsonSerializer", "Serializer", "fingerprint"]

_DECIMAL = "$decimal"
_BYTES = "$bytes"
_TUPLE = "$tuple"
_SET = "$set"
_FROZENSET = "$frozenset"
_DICT = "$dict"


class Serializer(Protocol):
    """How a stored result is turned into text and back.

    ``loads(dumps(value))`` must equal ``value`` for every result the function
    returns; a value ``dumps`` cannot handle should raise ``TypeError`` or
    ``ValueError``.
    """

    def dumps(self, value: Any) -> str:
        """Return ``value`` as text."""
        ...

    def loads(self, text: str) -> Any:
        """Return the value ``text`` stands for."""
        ...


def _encode_decimal(value: Decimal, canonical: bool) -> Any:
    if not value.is_finite():
        raise InvalidValueError(f"{value!r} has no JSON form")
    if canonical:
        # 1.10 and 1.1 are the same number, so they are the same payload.
        return {_DECIMAL: format(value.normalize(), "f")}
    return {_DECIMAL: str(value)}


def _encode_float(value: float) -> float:
    if not math.isfinite(value):
        raise InvalidValueError(f"{value!r} has no JSON form")
    # json writes repr(value), the shortest text that reads back as this float.
    return value


def _encode_mapping(value: Mapping[Any, Any], canonical: bool) -> Any:
    encoded = {}
    for name, element in value.items():
        if not isinstance(name, str):
            raise InvalidValueError(
                f"dict keys must be strings for JSON, not {type(name).__name__}"
            )
        encoded[name] = encode(element, canonical=canonical)
    if any(name.startswith("$") for name in encoded):
        # Escaped, so that a caller's {"$set": ...} is never read back as a tag.
        return {_DICT: encoded}
    return encoded


def _encode_collection(value: Any, canonical: bool) -> Any:
    elements = [encode(element, canonical=canonical) for element in value]
    if canonical:
        elements.sort(key=lambda element: json.dumps(element, sort_keys=True))
    tag = _FROZENSET if isinstance(value, frozenset) else _SET
    return {tag: elements}


def encode(value: Any, *, canonical: bool = False) -> Any:
    """Return ``value`` as plain JSON values, tagging what JSON cannot hold.

    Args:
        value: The value to encode.
        canonical: Normalize decimals and sort sets, for hashing.

    Raises:
        InvalidValueError: the value, or one inside it, has no JSON form here: an
            object, NaN, infinity, a dict with a key that is not a string.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, Decimal):
        return _encode_decimal(value, canonical)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return _encode_mapping(value, canonical)
    if isinstance(value, list):
        return [encode(element, canonical=canonical) for element in value]
    if isinstance(value, tuple):
        return {_TUPLE: [encode(element, canonical=canonical) for element in value]}
    if isinstance(value, (set, frozenset)):
        return _encode_collection(value, canonical)
    raise InvalidValueError(f"a {type(value).__name__} has no JSON form here")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    _DECIMAL: Decimal,
    _BYTES: base64.b64decode,
    _TUPLE: lambda elements: tuple(decode(element) for element in elements),
    _SET: lambda elements: {decode(element) for element in elements},
    _FROZENSET: lambda elements: frozenset(decode(element) for element in elements),
    _DICT: lambda mapping: {name: decode(v) for name, v in mapping.items()},
}


def decode(value: Any) -> Any:
    """Return the Python value of plain JSON values made by :func:`encode`."""
    if isinstance(value, list):
        return [decode(element) for element in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, inner),) = value.items()
        decoder = _DECODERS.get(name)
        if decoder is not None:
            return decoder(inner)
    return {name: decode(element) for name, element in value.items()}


def _dumps(value: Any, *, canonical: bool) -> str:
    # ASCII only: a lone surrogate in a str would otherwise fail at UTF-8 encoding.
    return json.dumps(
        encode(value, canonical=canonical),
        sort_keys=canonical,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )


class JsonSerializer:
    """Stores results as JSON text; every value it accepts comes back equal.

    ``None``, booleans, ``int``, ``float``, ``str``, ``Decimal`` (exact digits),
    ``bytes``, ``list``, ``tuple``, ``set``, ``frozenset`` and ``dict`` with string
    keys, nested freely. Stateless and safe to share between threads.
    """

    def dumps(self, value: Any) -> str:
        """Return ``value`` as JSON text.

        Raises:
            InvalidValueError: the value holds something with no JSON form here.
        """
        return _dumps(value, canonical=False)

    def loads(self, text: str) -> Any:
        """Return the value ``text`` was made from."""
        return decode(json.loads(text))

    def __repr__(self) -> str:
        return "JsonSerializer()"


def fingerprint(payload: Any) -> str:
    """Return the SHA-256 of ``payload``'s canonical JSON, in hex.

    Equal payloads get equal fingerprints whatever the order of their dict keys or
    set elements, and ``Decimal("1.10")`` hashes as ``Decimal("1.1")``.

    Raises:
        InvalidValueError: the payload holds something with no JSON form here.
    """
    try:
        text = _dumps(payload, canonical=True)
    except InvalidValueError as error:
        raise InvalidValueError(
            f"the payload cannot be hashed: {error.message}; choose its parts with"
            " payload="
        ) from error
    return hashlib.sha256(text.encode("ascii")).hexdigest()
