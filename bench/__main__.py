"""``python -m bench <name> [options]`` runs the benchmark ``bench/<name>_bench.py``
(the same as ``python -m bench.<name>_bench [options]``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> None:
    names = sorted(p.stem.removesuffix("_bench") for p in Path(__file__).parent.glob("*_bench.py"))
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        raise SystemExit(f"usage: python -m bench {{{','.join(names)}}} [options]")
    module = importlib.import_module(f"bench.{sys.argv[1]}_bench")
    module.main(sys.argv[2:])


if __name__ == "__main__":
    main()
