"""The app's command line (``tinkertop [FOLDER ...]``), without Textual: the console script reads the
roots before the app's modules load (to start the quick scan), and the app reads them the same way."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tinkertop", description="Watch tinker-cookbook runs.")
    parser.add_argument("folders", nargs="*", type=Path, help="folders to watch (default ./results/logs)")
    return parser.parse_args(list(argv))


def roots_of(args: argparse.Namespace) -> list[Path]:
    """The folders the app watches: the arguments, or the default workspace."""
    from runner.paths import default_roots

    return list(args.folders) or default_roots()
