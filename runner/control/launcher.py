"""``python -m runner.control.launcher [--dry-run]``: one launch out of the caller's process.

A :class:`~runner.control.launch.LaunchRequest` as JSON on stdin; on stdout ``{"runs": [PlannedRun...],
"ids": [...]}`` (configs redacted). A refused request (a bad key, a missing credential) exits 2, a run
whose process could not start exits 1; both say why on stderr as ``tinkertop: ...``. The app launches
through this (:func:`runner.api.launch`), so the recipe import (torch, transformers) never enters it.
"""

from __future__ import annotations

import json
import sys

from runner.control.launch import LaunchError, LaunchRequest, PlannedRun, launch, plan
from runner.status import Status

EXIT_FAILURE = 1
EXIT_USAGE = 2


def start_failures(ids: list[str]) -> list[str]:
    """``<name>: could not start: <why>`` for each run whose record says its process never started."""
    from runner.control import state_dir

    states = [s for s in map(state_dir.read_state, ids) if s]
    failed = [s for s in states if s.get("status") == Status.FAILED and s.get("error")]
    return [f"{s.get('name')}: could not start: {s['error']}" for s in failed]


def execute(req: LaunchRequest, dry_run: bool) -> tuple[list[PlannedRun], list[str]]:
    """Plan the request (a dry run gives its reservations back) and, unless dry, start or queue it."""
    runs = plan(req, dry_run=dry_run)
    return runs, ([] if dry_run else launch(req, runs))


def main(argv: list[str]) -> int:
    if argv not in ([], ["--dry-run"]):
        print("usage: python -m runner.control.launcher [--dry-run] < request.json", file=sys.stderr)
        return EXIT_USAGE
    from runner.control.creds import redact_obj

    try:
        req = LaunchRequest.from_json(json.loads(sys.stdin.read()))
        runs, ids = execute(req, dry_run=bool(argv))
    except (LaunchError, ValueError) as exc:
        print(f"tinkertop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"tinkertop: launch failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(json.dumps({"runs": redact_obj([r.to_json() for r in runs]), "ids": ids}, default=str))
    failures = start_failures(ids)
    for line in failures:
        print(f"tinkertop: {line}", file=sys.stderr)
    return EXIT_FAILURE if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
