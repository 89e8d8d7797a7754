"""Run every benchmark in turn, then copy the plots where the docs show them.

    python benchmarks/run_all.py            # all of them: about half an hour here
    python benchmarks/run_all.py --quick    # smaller runs, for a look (they
                                            # overwrite the results of full runs)

Each benchmark writes ``benchmarks/results/NAME.json`` and ``NAME.md`` (and a PNG
where it plots), measuring dynsafe side by side with what it is compared to in the
same run. None of them is a test, and none asserts a time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS_IMAGES = HERE.parent / "docs" / "img"

RUNS = [
    ("bench_overhead.py", [], ["--iterations", "300", "--batches", "3"]),
    ("bench_contention.py", ["--headline"], ["--headline", "--ops", "200"]),
    ("bench_contention.py", [], ["--workers", "1,8,32", "--ops", "100"]),
    ("bench_counters.py", [], ["--workers", "1,8", "--adds", "100", "--repeat", "1"]),
    ("bench_idempotency.py", [], ["--keys", "50", "--instant", "300"]),
    ("bench_check.py", [], []),
]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    for script, full, short in RUNS:
        arguments = short if quick else full
        sys.stderr.write(f"== {script} {' '.join(arguments)}\n")
        done = subprocess.run(
            [sys.executable, script, *arguments], cwd=HERE, check=False
        )
        if done.returncode != 0:
            sys.stderr.write(f"{script} failed with exit code {done.returncode}\n")
            return done.returncode
    DOCS_IMAGES.mkdir(exist_ok=True)
    for plot in (HERE / "results").glob("*.png"):
        shutil.copy(plot, DOCS_IMAGES / plot.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
