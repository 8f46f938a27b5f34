"""``tinkertop chat [RUN_PATH|CHECKPOINT]``: sample from a run's base model or any sampler checkpoint.

One-shot with ``--prompt`` (each ``--checkpoint`` answers the same prompt, in order), else a line REPL
(``n`` starts a new conversation, ``quit`` or end of input ends). The run's ``config.json`` names the
model and renderer; ``--model`` / ``--renderer`` override them (and are needed for a bare ``tinker://``
path). The service: ``TINKER_BASE_URL`` / ``TINKER_API_KEY`` from the environment when set, else the
running embedded backend (``--local`` insists on it). ``--list`` prints the choices. ``--json``: one object
per answer (or choice). Exit 2 on a usage error (no such run or checkpoint, no model), 1 when sampling
fails (backend down, a checkpoint the service does not know), the reason on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from runner.chat.targets import ChatTarget, Choice, TargetError, load_target

if TYPE_CHECKING:
    from runner.chat.session import Answer, Settings

EXIT_FAILURE = 1
EXIT_USAGE = 2


class ServiceMissing(RuntimeError):
    """Neither a service in the environment nor a running embedded backend."""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("chat", help="sample from a run's base model or any of its checkpoints")
    p.add_argument("ref", nargs="?", metavar="RUN_PATH|CHECKPOINT", help="a run folder or a tinker:// path")
    p.add_argument(
        "--checkpoint",
        action="append",
        metavar="NAME",
        help="base, final, a checkpoint name or step, or a tinker:// path (repeat to compare; "
        "default: final, else the last)",
    )
    p.add_argument("--prompt", help="ask once and print the answer (else a REPL)")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (0.7)")
    p.add_argument("--max-tokens", type=int, default=256, help="answer length cap in tokens (256)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling (1.0: off)")
    p.add_argument("--model", help="the base model (default: the run's config.json)")
    p.add_argument("--renderer", help="the renderer (default: the run's, else the model's recommended)")
    p.add_argument("--local", action="store_true", help="use the embedded backend even if the env names one")
    p.add_argument("--list", action="store_true", help="list what can be sampled from")
    p.add_argument("--json", action="store_true", help="one JSON object per answer")
    p.set_defaults(func=cmd_chat)


def _emit(obj: Any, as_json: bool, text: str) -> None:
    from runner.runs.cli import dump_json

    sys.stdout.write((dump_json(obj) if as_json else text) + "\n")
    sys.stdout.flush()


def _target(args: argparse.Namespace) -> ChatTarget:
    target = load_target(args.ref) if args.ref else ChatTarget(None, None, [Choice("base")])
    return ChatTarget(
        args.model or target.model_name,
        args.renderer or target.renderer_name,
        target.choices,
        target.run_path,
    )


def use_service(model_name: str | None, local: bool) -> str:
    """Point this process's tinker SDK at a service; returns which (never the key)."""
    from runner.backend import lifecycle

    env_url = os.environ.get("TINKER_BASE_URL")
    if env_url and not local:
        return env_url
    info = lifecycle.status()
    hosted_key = bool(os.environ.get("TINKER_API_KEY"))
    if info is not None and (local or not hosted_key or model_name == info.model_path):
        os.environ.update(lifecycle.env_for(info))
        return f"embedded backend {info.url}"
    if local:
        raise ServiceMissing("the embedded backend is not running (tinkertop backend start)")
    if not hosted_key:
        raise ServiceMissing(
            "no service: set TINKER_API_KEY for the hosted service, or start the embedded backend "
            "(tinkertop backend start)"
        )
    return "hosted service"


def _header(answer: Answer) -> str:
    where = f" ({answer.sampler_path})" if answer.sampler_path else f" ({answer.model_name})"
    return (
        f"== {answer.checkpoint}{where} · temperature {answer.temperature:g} · max_tokens {answer.max_tokens}"
    )


def _one_shot(target: ChatTarget, choices: list[Choice], args: argparse.Namespace, settings: Settings) -> int:
    from runner.chat.session import ask

    for choice in choices:
        answer = ask(target, choice, args.prompt, settings)
        text = f"{_header(answer)}\n{answer.answer}\n[{answer.tokens} tokens, ended: {answer.ended}]"
        _emit(answer.as_dict(), args.json, text)
    return 0


def _repl(target: ChatTarget, choices: list[Choice], settings: Settings) -> int:
    import asyncio

    from runner.chat.session import open_session, respond

    sessions = [(choice, open_session(target, choice, settings)) for choice in choices]
    print(f"chat with {', '.join(c.label for c in choices)}: 'n' new conversation, 'quit' to end")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line.lower() in ("quit", "exit", "q"):
            return 0
        if line.lower() == "n":
            for _choice, session in sessions:
                session.clear_history()
            print("(new conversation)")
            continue
        for choice, session in sessions:
            session.add_user_message(line)
            text, tokens, ended = asyncio.run(respond(session))
            print(f"{choice.label}> {text}\n[{tokens} tokens, ended: {ended}]")


def _list(target: ChatTarget, as_json: bool) -> int:
    for choice in target.choices:
        row = {"name": choice.name, "sampler_path": choice.sampler_path, "step": choice.step}
        _emit(row, as_json, f"{choice.name:<12} {choice.sampler_path or target.model_name or '-'}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    try:
        target = _target(args)
        if args.list:
            return _list(target, args.json)
        names = args.checkpoint or [None]
        choices = [target.pick(name) for name in names]
        if args.max_tokens < 1 or args.temperature < 0:
            raise TargetError("--max-tokens must be at least 1 and --temperature at least 0")
        use_service(target.model_name, args.local)
    except TargetError as exc:
        print(f"tinkertop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ServiceMissing as exc:
        print(f"tinkertop: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return _sample(target, choices, args)


def _sample(target: ChatTarget, choices: list[Choice], args: argparse.Namespace) -> int:
    from runner.chat.session import Settings

    settings = Settings(args.temperature, args.max_tokens, args.top_p)
    try:
        if args.prompt is not None:
            return _one_shot(target, choices, args, settings)
        return _repl(target, choices, settings)
    except TargetError as exc:
        print(f"tinkertop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the SDK's errors: a service down, an unknown checkpoint; said in one line
        print(f"tinkertop: chat failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
