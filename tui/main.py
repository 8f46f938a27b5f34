"""The ``tinkertop`` console script.

``tinkertop [FOLDER ...]`` opens the app; ``tinkertop demo`` prepares the live demo and opens the
app on it; anything else (``ls``, ``show``, ``backend``, ``launch`` ...) is the headless CLI in
``runner.cli``. Textual is imported only when the app is actually opened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

APP_FLAGS = {"-h", "--help"}
DEMO_HELP = (
    "the live demo: real recipe runs on the embedded backend, then the app on them (--stop stops them; "
    "--json: headless, one line per run)"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["demo"]:
        from tui.demo_command import run_demo

        return run_demo(args[1:])
    # a path (with a separator) is never a command: the app opens without building the CLI parser
    if args and os.sep not in args[0]:
        from runner import cli

        parser = cli.build_parser(extra=[_register_demo])
        if args[0] in cli.HEADLESS_COMMANDS:
            return cli.main(args)
        if args[0] in APP_FLAGS:
            parser.print_help()
            return 0
    return _open_app(args)


def _register_demo(subparsers: Any) -> None:
    """List ``demo`` in ``tinkertop --help``; ``tinkertop demo`` itself is dispatched above, to ``tui.demo_command``."""
    subparsers.add_parser("demo", help=DEMO_HELP, add_help=False)


def _open_app(args: list[str]) -> int:
    """The app: the quick scan of the runs starts in a child before Textual is imported here."""
    from tui.args import parse_args, roots_of
    from tui.prefetch import QuickScanChild

    roots = roots_of(parse_args(args))
    prefetch = QuickScanChild(roots)
    from runner.runs import coldread

    coldread.start(roots, after=prefetch.pid)  # the full read's second core (a reader of cache entries)
    from tui.app import run_app

    return run_app(args, prefetch)


if __name__ == "__main__":
    sys.exit(main())
