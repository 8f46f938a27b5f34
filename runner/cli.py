"""Headless command line: ``tinkertop ls|show|backend|launch|...``.

Each family of commands lives beside the code it drives and registers itself here through a
``register(subparsers)`` function. Registration modules must stay cheap to import (no torch,
tinker, tinker_cookbook or pandas at module level): ``tinkertop ls`` should start fast.

One contract for every command: ``--json`` writes strict JSON lines through ``runner.runs.cli.dump_json``
(NaN as ``"NaN"``); exit 0 on success, 2 on a usage error (argparse's own, a bad reference, a missing
confirmation, an invalid launch), 1 on a failure (``tinkertop: ...`` on stderr, never a traceback for an
OS error); documented special codes stay (``backend status`` 3/4, Ctrl-C 130).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

EXIT_FAILURE = 1
EXIT_USAGE = 2

# modules providing ``register(subparsers) -> None``; each sets ``func`` on its parsers
COMMAND_MODULES = (
    "runner.runs.cli",
    "runner.backend.cli",
    "runner.control.cli",
    "runner.alerts.cli",
    "runner.rollouts.cli",
    "runner.compare.cli",
    "runner.experiment.cli",
    "runner.serve",
    "runner.chat.cli",
)

HEADLESS_COMMANDS: set[str] = set()


def build_parser(extra: Sequence[Callable[[Any], None]] = ()) -> argparse.ArgumentParser:
    """The CLI's parser; ``extra`` registers commands dispatched elsewhere (listed in help, not headless)."""
    parser = argparse.ArgumentParser(
        prog="tinkertop",
        description="Launch, watch and compare Tinker post-training runs. "
        "With no command (or only folders), opens the terminal app.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    HEADLESS_COMMANDS.update(sub.choices)
    for register in extra:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print("tinkertop: a COMMAND is needed (tinkertop --help lists them)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except OSError as exc:  # the disk, the permissions, the process table: a failure, said in one line
        print(f"tinkertop: {args.command} failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
