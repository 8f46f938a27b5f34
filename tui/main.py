"""The ``tinkertop`` console script.

``tinkertop [FOLDER ...]`` opens the app; ``tinkertop demo`` prepares the live demo and opens the
app on it; anything else (``ls``, ``show``, ``backend``, ``launch`` ...) is the headless CLI in
``runner.cli``. Textual is imported only when the app is actually opened.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

APP_FLAGS = {"-h", "--help"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from runner import cli

    parser = cli.build_parser()
    if args and args[0] in cli.HEADLESS_COMMANDS:
        return cli.main(args)
    if args and args[0] in APP_FLAGS:
        parser.print_help()
        return 0
    if args and args[0] == "demo":
        from tui.demo import run_demo

        return run_demo(args[1:])
    from tui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
