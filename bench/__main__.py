"""Run the benchmarks: all ``bench_*`` modules in turn, or the ones named (``python -m bench load``)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """Names of the benchmark modules (``bench_load`` -> ``load``), sorted."""
    here = Path(__file__).parent
    mods = [m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")]
    return sorted(m.removeprefix("bench_") for m in mods)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = available()
    chosen = args or names
    unknown = [n for n in chosen if n.removeprefix("bench_") not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in chosen:
        name = name.removeprefix("bench_")
        print(f"=== bench {name} ===", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
