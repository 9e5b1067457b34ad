"""``python -m bench <name> …``: run the benchmark ``bench/<name>_bench.py`` with the rest of
the arguments (the same as ``python -m bench.<name>_bench …``)."""

from __future__ import annotations

import importlib
import sys

if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    raise SystemExit("usage: python -m bench <name> [options]  (e.g. python -m bench crash)")
module = importlib.import_module(f"bench.{sys.argv[1]}_bench")
module.main(sys.argv[2:])
