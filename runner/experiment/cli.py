"""``tinkertop experiment`` and ``tinkertop check``: registration is cheap, the work is imported lazily."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_FAILURE = 1
EXIT_USAGE = 2
JSON_HELP = 'print JSON (non-finite numbers as "NaN")'


def register(subparsers: Any) -> None:
    exp = subparsers.add_parser(
        "experiment",
        help="evaluate the base model, train, evaluate the final checkpoint; write results/ (resumable)",
    )
    exp.add_argument("recipe", help="an RL or SL recipe (tinkertop launch --list)")
    exp.add_argument("overrides", nargs="*", help="key=value overrides, as for tinkertop launch")
    exp.add_argument(
        "--eval-set",
        required=True,
        metavar="FILE|BENCHMARK",
        help="held-out set: 'arithmetic' (generated), a cookbook benchmark (gsm8k, ...), an RL JSONL "
        "{question, answer} or an SFT chat JSONL {messages}",
    )
    exp.add_argument(
        "--max-examples", type=int, metavar="N", help="evaluate the first N rows (arithmetic: 50)"
    )
    exp.add_argument("--local", action="store_true", help="run on the embedded local backend (no key)")
    exp.add_argument("--smoke", action="store_true", help="the recipe's tiny sizes (fast smoke run)")
    exp.add_argument("--name", help="run name (default <recipe>-<time>)")
    exp.add_argument("--out", default="results", help="results folder (default ./results); rerun to resume")
    exp.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default 0)")
    exp.add_argument("--max-tokens", type=int, default=32, help="sampling max_tokens (default 32)")
    exp.add_argument(
        "--dry-run", action="store_true", help="run only the plan stage (eval set + launch); write nothing"
    )
    exp.add_argument("--json", action="store_true", help=JSON_HELP)
    exp.set_defaults(func=cmd_experiment)
    chk = subparsers.add_parser(
        "check", help="validate a results folder and run the completion checklist (exit 0 complete, 1 not)"
    )
    chk.add_argument("dir", nargs="?", default="results", help="results folder (default ./results)")
    chk.add_argument("--no-dry-run", action="store_true", help="skip validating the recorded launch")
    chk.add_argument("--json", action="store_true", help=JSON_HELP)
    chk.set_defaults(func=cmd_check)


def cmd_experiment(args: argparse.Namespace) -> int:
    from runner.experiment import pipeline
    from runner.runs.cli import dump_json

    if args.max_examples is not None and args.max_examples < 1:
        print("tinkertop: --max-examples must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    options = pipeline.Options(
        recipe=args.recipe,
        eval_set=args.eval_set,
        overrides=list(args.overrides),
        max_examples=args.max_examples,
        local=args.local,
        smoke=args.smoke,
        name=args.name,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
    )
    out = Path(args.out).resolve()

    def say(line: str) -> None:
        print(f"tinkertop experiment: {line}", file=sys.stderr, flush=True)

    try:
        exp = pipeline.load(out, options)
        if args.dry_run:
            return _plan_only(exp, out, args.json)
        summary = pipeline.run(exp, Path.cwd(), say)
    except pipeline.StageFailed as exc:
        print(
            f"tinkertop: {exc} (what was written is kept in {out}; rerun the same command to resume)",
            file=sys.stderr,
        )
        return EXIT_USAGE if exc.stage == "plan" else EXIT_FAILURE
    except KeyboardInterrupt:
        print(
            f"tinkertop: experiment interrupted (a launched run goes on); rerun to resume from {out}",
            file=sys.stderr,
        )
        return 130
    if args.json:
        print(dump_json({"results": str(out), "summary": summary}))
    else:
        from runner.experiment.summary import score_lines

        print("\n".join([f"results: {out}", *score_lines(summary)]))
    return 0


def _plan_only(exp: Any, out: Path, as_json: bool) -> int:
    """``--dry-run``: the plan stage alone (the same checks as a real start), nothing saved."""
    from runner.experiment import pipeline
    from runner.runs.cli import dump_json

    try:
        pipeline.stage_plan(exp, Path.cwd())
    except pipeline.StageFailed as exc:
        print(f"tinkertop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # reported as the plan stage's failure, as pipeline.run reports it
        print(f"tinkertop: {pipeline.StageFailed('plan', f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return EXIT_USAGE
    if as_json:
        print(dump_json({"results": str(out), "plan": exp.plan}))
    else:
        print(f"results: {out}\nwould start {exp.plan['name']} -> {exp.plan['log_path']}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from runner.experiment.check import passed, run_checks
    from runner.runs.cli import dump_json

    folder = Path(args.dir)
    if not folder.is_dir():
        print(f"tinkertop: {folder}: not a folder", file=sys.stderr)
        return EXIT_USAGE
    items = run_checks(folder, Path.cwd(), dry_run=not args.no_dry_run)
    ok = passed(items)
    if args.json:
        rows = [{"check": i.name, "ok": i.ok, "detail": i.detail, "problems": i.problems} for i in items]
        print(dump_json({"folder": str(folder), "complete": ok, "checks": rows}))
    else:
        for item in items:
            print(item.line())
            for problem in (
                item.problems[1:] if item.problems and item.problems[0] == item.detail else item.problems
            ):
                print(f"     {problem}")
        print("complete" if ok else "incomplete")
    return 0 if ok else EXIT_FAILURE
