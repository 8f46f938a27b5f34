"""``tinkertop backend start|stop|status|env [--json]``: the embedded backend from the command line.

``--json`` output is one line through ``runner.runs.cli.dump_json`` (as every command's). Failures exit 1
on stderr; ``status`` exits 3 when no backend runs and 4 while one is starting; Ctrl-C during ``start``
exits 130.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.runs.cli import dump_json

if TYPE_CHECKING:
    from runner.backend.state import BackendInfo

HIDDEN = "<hidden: eval the output, or --show-key>"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a job ended by Ctrl-C
ENV_HELP = (
    "print `export TINKER_BASE_URL=... TINKER_API_KEY=...` for the running backend, so your own scripts "
    'and the tinker CLI reach it: eval "$(tinkertop backend env)". The key goes to stdout only on this '
    "explicit request, and only when stdout is not a terminal (a pipe, as in eval), so it never lands on a "
    "screen or in a scrollback unless --show-key says so; exit 1 when no backend answers"
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("backend", help="start, stop or inspect the embedded local backend")
    sub = parser.add_subparsers(dest="backend_command", metavar="ACTION", required=True)
    start = sub.add_parser(
        "start",
        help="start the local backend (detached)",
        description="Start the backend detached (or reuse the one that runs) and wait until its model is "
        "loaded. Ctrl-C stops the waiting, not the backend: one line says what it is doing (exit 130).",
    )
    start.add_argument("--model", type=Path, help="model directory (default: the tiny local model)")
    start.add_argument("--json", action="store_true", help="print machine-readable output")
    start.set_defaults(func=_start)
    stop = sub.add_parser("stop", help="stop the local backend")
    stop.add_argument("--json", action="store_true", help="print machine-readable output")
    stop.set_defaults(func=_stop)
    status = sub.add_parser(
        "status",
        help="show whether the backend runs, where, and what it holds",
        description="Exit 0 when the backend answers, 3 when none runs, 4 while one is starting "
        "(its process runs and has recorded itself, but does not answer yet).",
    )
    status.add_argument("--json", action="store_true", help="print machine-readable output")
    status.set_defaults(func=_status)
    env = sub.add_parser(
        "env", help="print the exports (with the key) that reach the backend", description=ENV_HELP
    )
    env.add_argument("--json", action="store_true", help="print the two variables as a JSON object")
    env.add_argument("--show-key", action="store_true", help="print the key even to a terminal")
    env.set_defaults(func=_env)


def _show(data: dict[str, Any], as_json: bool) -> None:
    data.pop("key", None)
    if as_json:
        print(dump_json(dict(sorted(data.items()))))
        return
    if data.get("starting"):
        print(f"backend: starting  pid {data.get('pid')}  {data.get('url')}  (not ready yet)")
        print(f"log:     {data.get('log_path')}")
        return
    if not data.get("running"):
        print("backend: not running")
        return
    uptime = data.get("uptime_s") or (time.time() - float(data.get("started_at", time.time())))
    print(f"backend: running  pid {data.get('pid')}  {data.get('url')}  up {uptime:.0f}s")
    print(f"model:   {data.get('model_path')}")
    print(
        f"live sessions {data.get('live_sessions', '?')}  models {data.get('models', '?')}  queued {data.get('queued', '?')}"
    )
    print(f"log:     {data.get('log_path')}")


def _start(args: argparse.Namespace) -> int:
    from runner.backend import lifecycle

    try:
        info = lifecycle.start(wait=True, model=args.model)
    except lifecycle.BackendError as exc:
        print(f"tinkertop: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while we look is no traceback
        print(f"tinkertop: backend start interrupted; {_after_interrupt()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    _show(dict(lifecycle.details(info), running=True), args.json)
    return 0


def _stop(args: argparse.Namespace) -> int:
    from runner.backend import lifecycle

    stopped = lifecycle.stop()
    if args.json:
        print(dump_json({"stopped": stopped}))
    else:
        print("backend stopped" if stopped else "backend was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from runner.backend import lifecycle

    info = lifecycle.status()
    if info is None:
        starting = lifecycle.recorded()  # alive and recorded, not answering yet
        shown = dict(starting.public(), starting=True) if starting else {}
        _show(dict(shown, running=False), args.json)
        return 4 if starting else 3
    _show(dict(lifecycle.details(info), running=True), args.json)
    return 0


def _after_interrupt() -> str:
    """One line on what the interrupted start left: the server is detached, so it goes on."""
    from runner.backend import lifecycle

    what = "`tinkertop backend status` shows it, `tinkertop backend stop` stops it"
    info = lifecycle.recorded()
    if info is None:
        pids = _unrecorded_servers()
        if not pids:
            return "no backend runs"
        return f"the backend (pid {pids[0]}) is still starting and records itself once it listens: {what}"
    return f"the backend (pid {info.pid}, {info.url}) goes on in the background, {_doing(info)}: {what}"


def _doing(info: BackendInfo) -> str:
    from runner.backend import lifecycle

    try:
        ready = lifecycle.request(info, "local/status", timeout=1.0).get("ready")
    except (OSError, ValueError):
        return "still starting, not answering yet"
    return "running and ready" if ready else "running, still loading its model"


def _unrecorded_servers() -> list[int]:
    """Pids of server processes started for this state dir (their log is ours) that have not recorded
    themselves yet: the moment between the spawn and the server listening."""
    from runner.backend import lifecycle

    marker = [lifecycle.SERVER_MODULE.encode(), str(lifecycle.log_path()).encode()]
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(part in argv for part in marker):
            found.append(int(entry.name))
    return found


def _env(args: argparse.Namespace) -> int:
    from runner.backend import lifecycle

    info = lifecycle.status()
    if info is None:
        starting = lifecycle.recorded()
        problem = (
            f"the backend (pid {starting.pid}) is starting, not answering yet; retry once "
            "`tinkertop backend status` says running"
            if starting
            else "no backend runs; start one with `tinkertop backend start`"
        )
        print(f"tinkertop: {problem}", file=sys.stderr)
        return 1
    values = lifecycle.env_for(info)  # the key, printed because the user asked for exactly this
    if sys.stdout.isatty() and not args.show_key:  # a screen (and its scrollback): never the key
        values["TINKER_API_KEY"] = HIDDEN
        print(
            'tinkertop: the key is hidden on a terminal: eval "$(tinkertop backend env)" exports it, '
            "--show-key prints it",
            file=sys.stderr,
        )
    if args.json:
        print(dump_json(values))
    else:
        print("export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in values.items()))
    return 0
