"""Run the checker as ``python -m dynsafe.check``."""

import sys

from dynsafe.check import main

sys.exit(main(sys.argv[1:]))
