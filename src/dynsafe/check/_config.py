"""Settings from ``[tool.dynsafe.check]`` in ``pyproject.toml``.

Three keys, all optional::

    [tool.dynsafe.check]
    select = ["DS1"]           # codes or code prefixes to report (default: all)
    ignore = ["DS103"]         # codes or prefixes to leave out
    exclude = ["tests/fixtures/*", "legacy"]   # globs, relative to pyproject.toml

The file is found by walking up from the current directory, the way ruff does. Reading
TOML needs ``tomllib`` (Python 3.11+) or ``tomli``; on Python 3.10 without ``tomli`` the
file is skipped with a warning rather than adding a dependency.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dynsafe.check._model import RULES


class ConfigError(ValueError):
    """The configuration or a command-line selection is not valid."""


@dataclass(frozen=True)
class Config:
    """What to check and what to leave out.

    Attributes:
        select: code prefixes to report.
        ignore: code prefixes to leave out, stronger than ``select``.
        exclude: glob patterns of paths to skip.
        root: the directory ``exclude`` patterns are relative to.
        source: the pyproject.toml read, if any.
        warnings: things the user should know about the configuration.
    """

    select: tuple[str, ...] = ("DS",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    root: Path = field(default_factory=Path.cwd)
    source: Path | None = None
    warnings: tuple[str, ...] = ()

    def codes(self) -> frozenset[str]:
        """Return the codes this configuration reports."""
        return frozenset(
            code
            for code in RULES
            if code.startswith(self.select) and not code.startswith(self.ignore)
        )


def _toml() -> ModuleType | None:
    for name in ("tomllib", "tomli"):
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    return None


def find_pyproject(start: Path) -> Path | None:
    """Return the nearest pyproject.toml in ``start`` or a parent directory."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None, *, search_from: Path | None = None) -> Config:
    """Read the configuration from ``path``, or from the nearest pyproject.toml.

    Raises:
        ConfigError: the file is not valid TOML or a key has the wrong type or an
            unknown code.
    """
    if path is None:
        path = find_pyproject(search_from or Path.cwd())
    if path is None:
        return Config()
    text = path.read_text(encoding="utf-8")
    if "dynsafe" not in text:
        return Config(root=path.parent, source=path)
    toml = _toml()
    if toml is None:
        warning = (
            f"{path}: [tool.dynsafe.check] ignored: reading it needs Python 3.11+ "
            "or tomli"
        )
        return Config(root=path.parent, source=path, warnings=(warning,))
    try:
        document = toml.loads(text)
    except ValueError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    table = document.get("tool", {}).get("dynsafe", {}).get("check", {})
    return _from_table(table, path)


def _from_table(table: dict[str, Any], path: Path) -> Config:
    unknown = sorted(set(table) - {"select", "ignore", "exclude"})
    if unknown:
        raise ConfigError(
            f"{path}: unknown keys in [tool.dynsafe.check]: {', '.join(unknown)}"
        )
    return Config(
        select=tuple(validate_codes(_strings(table, "select", path), path)) or ("DS",),
        ignore=tuple(validate_codes(_strings(table, "ignore", path), path)),
        exclude=tuple(_strings(table, "exclude", path)),
        root=path.parent,
        source=path,
    )


def _strings(table: dict[str, Any], key: str, path: Path) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"{path}: [tool.dynsafe.check] {key} must be a list of strings"
        )
    return value


def validate_codes(codes: Iterable[str], where: object = "command line") -> list[str]:
    """Return the codes upper-cased, each checked to be a prefix of some rule's code.

    Raises:
        ConfigError: a code matches no rule.
    """
    result = []
    for code in codes:
        normalized = code.strip().upper()
        if not any(rule.startswith(normalized) for rule in RULES) or not normalized:
            raise ConfigError(f"{where}: {code!r} matches no dynsafe check code")
        result.append(normalized)
    return result
