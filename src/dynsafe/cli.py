"""The ``dynsafe`` command line: ``--version``, ``demo`` and ``check``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dynsafe._version import __version__


def _run_demo(argv: Sequence[str]) -> int:
    from dynsafe import demo

    return int(demo.main(argv))


def _run_check(argv: Sequence[str]) -> int:
    from dynsafe import check

    return int(check.main(argv))


_COMMANDS = {
    "demo": (_run_demo, "race naive get-modify-put against dynsafe on one item"),
    "check": (_run_check, "find unsafe DynamoDB read-modify-write code"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _COMMANDS:
        run, _ = _COMMANDS[args[0]]
        return run(args[1:])
    parser = argparse.ArgumentParser(
        prog="dynsafe",
        description="Concurrency-safe DynamoDB primitives.",
        epilog="commands: "
        + "; ".join(f"{name}: {text}" for name, (_, text) in _COMMANDS.items()),
    )
    parser.add_argument("--version", action="version", version=f"dynsafe {__version__}")
    parser.add_argument("command", nargs="?", choices=sorted(_COMMANDS))
    parser.parse_args(args)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
