"""Finding the files, checking each one, and putting the results together.

``check_source`` checks one string (parse, index, walk, suppress, filter).
``check_file`` wraps it with reading and turns a file that cannot be read or parsed into
a ``FileError`` instead of stopping the run. ``check_paths`` walks directories, applies
excludes and runs ``check_file`` over the files: in this process for a small tree, in a
process pool past ``PARALLEL_THRESHOLD`` files, where starting workers pays for itself.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import os
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from dynsafe.check._calls import TRIGGER_WORDS
from dynsafe.check._config import Config
from dynsafe.check._flow import analyze
from dynsafe.check._model import RULES, FileError, Finding
from dynsafe.check._module import index_module
from dynsafe.check._output import Report
from dynsafe.check._suppress import is_suppressed, read_suppressions

PARALLEL_THRESHOLD = 64
"""Above this many files, files are checked in a process pool."""

SKIPPED_DIRECTORIES = frozenset(
    {
        ".eggs",
        ".git",
        ".hg",
        ".mypy_cache",
        ".nox",
        ".pytest_cache",
        ".ruff_cache",
        ".svn",
        ".tox",
        ".venv",
        "__pycache__",
        "build",
        "dist",
        "node_modules",
        "venv",
    }
)
"""Directory names never entered while walking a tree (a path given by name is)."""

# A file mentioning none of these sends no request the rules look at; it is still
# parsed, so syntax errors are reported everywhere.
_TRIGGERS = (
    "_item",
    "query",
    "scan",
    "ClientError",
    "Expression",
    "transact",
    "paginate",
)


@dataclass(frozen=True)
class FileResult:
    """What checking one file gave.

    Attributes:
        findings: the findings left after suppressions and selection.
        error: why the file could not be checked, if it could not.
        lines: the number of lines in the file.
    """

    findings: tuple[Finding, ...]
    error: FileError | None
    lines: int


def check_source(
    source: str, path: str = "<string>", codes: Iterable[str] | None = None
) -> list[Finding]:
    """Check Python source and return its findings, in position order.

    Args:
        source: the code.
        path: the name to report findings under.
        codes: the codes to report; all of them when None.

    Raises:
        SyntaxError: the source is not valid Python.
    """
    tree = ast.parse(source, filename=path)
    wanted = frozenset(RULES if codes is None else codes)
    # A file that mentions none of these sends nothing the rules look at; it was
    # still parsed, so syntax errors are reported everywhere.
    if not any(word in source for word in TRIGGER_WORDS):
        return []
    index = index_module(tree, path, source)
    analyze(tree, index)
    suppressions = read_suppressions(source)
    kept = (f for f in index.findings if f.code in wanted)
    return sorted(f for f in kept if not is_suppressed(f, suppressions))


def _read(path: Path) -> str:
    data = path.read_bytes()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def _count_lines(source: str) -> int:
    return source.count("\n") + (0 if source.endswith("\n") or not source else 1)


def check_file(path: str, codes: frozenset[str]) -> FileResult:
    """Check one file; a file that cannot be read or parsed becomes an error."""
    try:
        source = _read(Path(path))
    except (OSError, UnicodeDecodeError, SyntaxError) as error:
        return FileResult((), FileError(path, 1, 1, f"cannot read: {error}"), 0)
    try:
        findings = check_source(source, path, codes)
    except (SyntaxError, ValueError) as error:
        line = getattr(error, "lineno", None) or 1
        column = getattr(error, "offset", None) or 1
        message = getattr(error, "msg", None) or str(error)
        failure = FileError(path, line, column, f"syntax error: {message}")
        return FileResult((), failure, _count_lines(source))
    return FileResult(tuple(findings), None, _count_lines(source))


def _components(relative: str) -> list[str]:
    parts = relative.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def is_excluded(path: Path, config: Config) -> bool:
    """Whether a path matches one of the configured ``exclude`` globs.

    A pattern with a ``/`` matches the path relative to the config's directory, or any
    directory above it; a pattern without one matches any single path component.
    """
    if not config.exclude:
        return False
    absolute = path.resolve()
    try:
        relative = absolute.relative_to(config.root.resolve()).as_posix()
    except ValueError:
        relative = path.as_posix()
    prefixes = _components(relative)
    names = relative.split("/")
    for pattern in config.exclude:
        pattern = pattern.rstrip("/")
        candidates = prefixes if "/" in pattern else names
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            return True
    return False


def _walk(directory: Path, config: Config) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRECTORIES and not is_excluded(here / d, config)
        )
        for name in sorted(files):
            candidate = here / name
            if name.endswith(".py") and not is_excluded(candidate, config):
                yield candidate


def discover(paths: Sequence[str], config: Config) -> tuple[list[str], list[FileError]]:
    """Return the Python files under ``paths``, and the paths that do not exist."""
    files: list[str] = []
    missing: list[FileError] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files.extend(str(p) for p in _walk(path, config))
        elif path.is_file():
            if not is_excluded(path, config):
                files.append(given)
        else:
            missing.append(FileError(given, 1, 1, "no such file or directory"))
    return list(dict.fromkeys(files)), missing


def _results(
    files: list[str], codes: frozenset[str], jobs: int | None
) -> list[FileResult]:
    workers = jobs or os.cpu_count() or 1
    if len(files) <= PARALLEL_THRESHOLD or workers == 1:
        return [check_file(path, codes) for path in files]
    chunk = max(1, len(files) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(check_file, files, repeat(codes), chunksize=chunk))


def check_paths(
    paths: Sequence[str], config: Config | None = None, *, jobs: int | None = None
) -> Report:
    """Check every Python file under ``paths`` and return the report.

    Args:
        paths: files and directories.
        config: selection and excludes; the defaults when None.
        jobs: worker processes for large trees; one per CPU when None, 1 to stay in
            this process.
    """
    config = config or Config()
    files, errors = discover(paths, config)
    results = _results(files, config.codes(), jobs)
    findings = sorted(f for r in results for f in r.findings)
    errors += [r.error for r in results if r.error is not None]
    lines = sum(r.lines for r in results)
    return Report(tuple(findings), tuple(sorted(errors)), len(files), lines)
