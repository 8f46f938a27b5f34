"""``tinkertop rollouts``: the headless twin of the rollouts view.

``tinkertop rollouts RUN_PATH`` prints the trajectories of the run's latest iteration of a split;
``--step N`` picks one, ``--split train|eval:NAME`` the split, ``--list`` lists iterations instead,
``--search TEXT`` / ``--regex RE`` print the hits across every iteration (of ``--split``, ``--step`` if given),
``--min-reward X`` keeps trajectories at or above X, ``--timing`` prints where the time went (each phase's
share of the run, the step's spans as a text Gantt). RUN_PATH may also be a benchmark save folder (or
its ``trajectories.jsonl``): its trajectories, incorrect first. ``--json``: one object per line
(trajectory, hit or iteration) through ``runner.runs.cli.dump_json``. Exit 2 on usage errors (a
missing path, no such step or split: the message says which exist, a bad regex), 1 when the files
cannot be read; a part of an iteration that cannot be read is named on stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.rollouts.trajectory import Hit, IterationRef, Trajectory

EXIT_FAILURE = 1
EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("rollouts", help="what the model wrote: trajectories, search, benchmark")
    p.add_argument("run_path", metavar="RUN_PATH", help="a run folder, or a benchmark's trajectories")
    p.add_argument("--step", type=int, help="the iteration (default: the latest of the split)")
    p.add_argument("--split", help="train (the default; a search covers every split) or eval:NAME")
    p.add_argument("--list", action="store_true", help="list the iterations instead")
    query = p.add_mutually_exclusive_group()
    query.add_argument("--search", metavar="TEXT", help="case-insensitive text across iterations")
    query.add_argument("--regex", metavar="RE", help="a regular expression across iterations")
    p.add_argument("--min-reward", type=_reward, metavar="X", help="only trajectories with reward >= X")
    p.add_argument(
        "--timing",
        action="store_true",
        help="where the step's time went (timing_spans.jsonl): phase shares, Gantt",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_rollouts)


def _reward(text: str) -> float:
    """A reward bound: a number, never NaN (every comparison with NaN is false: it would filter nothing)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(value):
        raise argparse.ArgumentTypeError(f"a reward bound is a number, not {text!r}")
    return value


def _usage(message: str) -> int:
    print(f"tinkertop: {message}", file=sys.stderr)
    return EXIT_USAGE


def _emit(obj: Any, as_json: bool, text: str) -> None:
    from runner.runs.cli import dump_json

    sys.stdout.write((dump_json(obj) if as_json else text) + "\n")


def ranges(steps: list[int]) -> str:
    """``0-5, 9, 12-14``: a readable list of steps."""
    out: list[str] = []
    for s in sorted(set(steps)):
        if out and s == int(out[-1].split("-")[-1]) + 1:
            out[-1] = f"{out[-1].split('-')[0]}-{s}"
        else:
            out.append(str(s))
    return ", ".join(out)


def cmd_rollouts(args: argparse.Namespace) -> int:
    from runner.rollouts import RolloutError
    from runner.rollouts.search import TOO_SLOW

    path = Path(args.run_path)
    if not path.exists():
        return _usage(f"no such file or folder: {args.run_path}")
    try:
        return _run(args, path)
    except RolloutError as exc:
        text = str(exc)
        if text.startswith(("not a valid regular expression", TOO_SLOW)):
            return _usage(text)
        print(f"tinkertop: rollouts failed: {text}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        return 0


def _is_benchmark(path: Path) -> bool:
    return path.name == "trajectories.jsonl" or (path / "trajectories.jsonl").is_file()


def _run(args: argparse.Namespace, path: Path) -> int:
    from runner.rollouts import list_iterations, load_benchmark, search

    if args.timing:
        return _print_timing(path, args)
    searching = args.search is not None or args.regex is not None
    wanted = args.split or (None if searching or args.list else "train")  # search: every split
    if _is_benchmark(path):
        refs = [load_benchmark(path).ref]
    else:
        refs = [r for r in list_iterations(path, stats=args.list) if wanted is None or r.split == wanted]
    if args.list:
        return _print_refs(refs, args.json)
    if not refs:
        splits = sorted({r.split for r in list_iterations(path, stats=False)})
        have = f"splits here: {', '.join(splits)}" if splits else "this folder holds no rollouts"
        return _usage(f"no {wanted or ''} iterations in {path} ({have})".replace("no  ", "no "))
    if args.step is not None:
        chosen = [r for r in refs if r.step == args.step]
        if not chosen:
            steps = ranges([r.step for r in refs])
            return _usage(
                f"no {wanted or 'iteration at'} {'iteration ' if wanted else ''}{args.step}; steps: {steps}"
            )
        refs = chosen
    if searching:
        query, regex = (args.regex, True) if args.regex is not None else (args.search, False)
        count = 0
        for hit in search(path, query, regex=regex, refs=refs):
            count += 1
            _emit(_hit_row(hit), args.json, _hit_text(hit))
        if not args.json:
            print(f"{count} hit(s) in {len(refs)} iteration(s)", file=sys.stderr)
        return 0
    return _print_iteration(refs[-1], args)


def _print_timing(path: Path, args: argparse.Namespace) -> int:
    from runner.rollouts import gantt, timing

    t = timing(path)
    for problem in t.problems:
        print(f"tinkertop: {problem}", file=sys.stderr)
    if not t.steps:
        return _usage(f"no timing spans in {path} (timing_spans.jsonl)")
    by_step = {s.step: s for s in t.steps}
    if args.step is not None and args.step not in by_step:
        return _usage(f"no timing for step {args.step}; steps: {ranges(list(by_step))}")
    step = by_step[args.step] if args.step is not None else t.steps[-1]
    if args.json:
        spans = [{"name": s.name, "start": s.start, "end": s.end, "phase": s.phase} for s in step.spans]
        row = {"source": t.source, "shares": t.shares, "overlap": t.overlap, "step": step.step}
        _emit({**row, "wall": step.wall, "spans": spans}, True, "")
        return 0
    shares = "  ".join(f"{k} {v:.0%}" for k, v in t.shares.items())
    print(f"run ({len(t.steps)} steps): {shares}; sampling and training at once {t.overlap:.0%}")
    print(f"step {step.step}: {step.wall:.3f} s")
    for line in gantt(step, 50):
        print(line)
    return 0


def _print_refs(refs: list[IterationRef], as_json: bool) -> int:
    for r in refs:
        row = {
            "step": r.step,
            "split": r.split,
            "layout": r.layout,
            "source": r.source,
            "n_trajectories": r.n_trajectories,
            "reward_mean": r.reward_mean,
            "has_text": r.has_text,
            "error": r.error,
        }
        mean = "-" if r.reward_mean is None else f"{r.reward_mean:.3f}"
        n = "-" if r.n_trajectories is None else str(r.n_trajectories)
        text = (
            f"{r.step:>6}  {r.split:<14} {n:>5} traj  reward {mean:>7}  {'text' if r.has_text else 'no text'}"
        )
        _emit(row, as_json, text + (f"  ! {r.error}" if r.error else ""))
    return 0


def _print_iteration(ref: IterationRef, args: argparse.Namespace) -> int:
    from runner.rollouts import filter_trajectories, load_iteration

    iteration = load_iteration(ref)
    for problem in iteration.problems:
        print(f"tinkertop: {problem}", file=sys.stderr)
    trajs = filter_trajectories(iteration.trajectories, min_reward=args.min_reward)
    if not args.json:
        mean = "-" if iteration.reward_mean is None else f"{iteration.reward_mean:.3f}"
        head = f"iteration {ref.step} {ref.split}: {len(iteration.trajectories)} trajectories in "
        print(head + f"{len(iteration.groups)} groups, reward mean {mean}  ({ref.source})")
        if iteration.note:
            print(f"note: {iteration.note}")
    for t in trajs:
        _emit(_traj_row(ref, t), args.json, _traj_text(ref, t))
    return 0


def _traj_row(ref: IterationRef, t: Trajectory) -> dict[str, Any]:
    return {
        "step": ref.step,
        "split": ref.split,
        "group": t.group,
        "index": t.index,
        "reward": t.reward,
        "advantage": t.advantage,
        "step_rewards": list(t.step_rewards),
        "metrics": t.metrics,
        "logs": t.logs,
        "tokens": t.tokens,
        "stop_reason": t.stop_reason,
        "has_text": t.has_text,
        "messages": [
            {"role": m.role, "text": m.text, "thinking": m.thinking, "tool_calls": list(m.tool_calls)}
            for m in t.messages
        ],
    }


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def _traj_text(ref: IterationRef, t: Trajectory) -> str:
    lines = [
        f"── iteration {ref.step} {ref.split}  group {t.group}  #{t.index}  reward {_num(t.reward)}  "
        f"advantage {_num(t.advantage, True)}  tokens {t.tokens if t.tokens is not None else '-'}"
        + (f"  stop {t.stop_reason}" if t.stop_reason else "")
    ]
    if t.metrics:
        lines.append("   metrics: " + "  ".join(f"{k}={v:g}" for k, v in t.metrics.items()))
    if t.logs:
        lines.append("   logs: " + "  ".join(f"{k}={v}" for k, v in t.logs.items()))
    if not t.messages:
        lines.append("   (no text: the cookbook logged this trajectory's numbers only)")
    for m in t.messages:
        if m.thinking:
            lines.append(f"   [{m.role} thinking] " + m.thinking.replace("\n", "\n      "))
        lines.append(f"   [{m.role}] " + m.text.replace("\n", "\n      "))
        lines.extend(f"   [{m.role} tool call] {call}" for call in m.tool_calls)
    return "\n".join(lines)


def _hit_row(hit: Hit) -> dict[str, Any]:
    return {
        "step": hit.ref.step,
        "split": hit.ref.split,
        "group": hit.group,
        "index": hit.index,
        "message": hit.message,
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "snippet": hit.snippet,
    }


def _hit_text(hit: Hit) -> str:
    where = (
        "logs"
        if hit.message < 0
        else f"message {hit.message}" + ("" if hit.field == "text" else f" {hit.field}")
    )
    return f"{hit.ref.step:>6} {hit.ref.split:<12} group {hit.group} #{hit.index} {where}: {hit.snippet}"
