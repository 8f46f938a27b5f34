"""The run view's Chat tab: one prompt, answered by two checkpoints of the run side by side.

Sampling runs ``tinkertop chat ... --json`` as a subprocess from a thread worker (torch and
tinker_cookbook never load in the app); each answer arrives by one message, an error (backend down, a
checkpoint the service does not know) is shown in the pane it concerns. ``CHAT_ARGV`` is the command
(the seam a test may point at a recorded answer file).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from runner.chat.prompts import run_prompts
from runner.chat.targets import Choice, choices_from_records

CHAT_ARGV: list[str] = [sys.executable, "-m", "runner.cli", "chat"]
NONE = "__none__"
SLOTS = ("left", "right")


def chat_argv(run_path: str, names: list[str], prompt: str, temperature: float, max_tokens: int) -> list[str]:
    argv = [*CHAT_ARGV, run_path, "--prompt", prompt, "--json"]
    argv += ["--temperature", repr(temperature), "--max-tokens", str(max_tokens)]
    for name in names:
        argv += ["--checkpoint", name]
    return argv


def settings_error(temperature: str, max_tokens: str) -> str | None:
    """Why the settings cannot be used, or None."""
    try:
        t = float(temperature)
    except ValueError:
        return f"temperature {temperature!r} is not a number"
    if not math.isfinite(t) or t < 0:
        return "temperature must be 0 or more"
    if not max_tokens.strip().isdigit() or int(max_tokens) < 1:
        return f"max_tokens {max_tokens!r} must be a whole number of at least 1"
    return None


class ChatPane(Vertical):
    """Checkpoint pickers, temperature and max_tokens, a prompt (typed or from the eval set), answers."""

    class Answered(Message):
        def __init__(self, slot: str, answer: dict[str, Any]) -> None:
            super().__init__()
            self.slot = slot
            self.answer = answer

    class Failed(Message):
        def __init__(self, slots: list[str], error: str) -> None:
            super().__init__()
            self.slots = slots
            self.error = error

    class ExamplesFound(Message):
        def __init__(self, prompts: list[str]) -> None:
            super().__init__()
            self.prompts = prompts

    def __init__(self, run_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_path = run_path
        self.choices: list[Choice] = [Choice("base")]
        self.proc: subprocess.Popen[str] | None = None
        self.left = Select[str]([("base model", "base")], value="base", allow_blank=False, id="chat-left")
        self.right = Select[str]([("(none)", NONE)], value=NONE, allow_blank=False, id="chat-right")
        self.temperature = Input("0.7", id="chat-temperature", type="number")
        self.max_tokens = Input("256", id="chat-max-tokens", type="integer")
        self.examples = Select[str](
            [], prompt="pick a prompt from the eval set or the run's data", id="chat-examples"
        )
        self.prompt = Input(placeholder="type a prompt, enter asks both checkpoints", id="chat-prompt")
        self.status = Static("", id="chat-status")
        self.answers = {slot: Static("", id=f"chat-answer-{slot}", classes="chat-answer") for slot in SLOTS}

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-controls"):
            yield Label("left")
            yield self.left
            yield Label("right")
            yield self.right
            yield Label("temperature")
            yield self.temperature
            yield Label("max_tokens")
            yield self.max_tokens
        yield self.examples
        yield self.prompt
        yield self.status
        with Horizontal(id="chat-answers"):
            for slot in SLOTS:
                with VerticalScroll(classes="chat-side"):
                    yield self.answers[slot]

    def on_mount(self) -> None:
        self._find_examples(self.run_path)

    def on_unmount(self) -> None:
        self._stop()

    # --- choices ----------------------------------------------------------------
    def set_checkpoints(self, records: list[dict[str, Any]]) -> None:
        """The run's ``checkpoints.jsonl`` records (live: a new checkpoint joins the pickers)."""
        choices = choices_from_records(records)
        if choices == self.choices:
            return
        first = not any(c.sampler_path for c in self.choices)
        self.choices = choices
        options = [(c.label, c.name) for c in choices]
        left, right = self.left.value, self.right.value
        self.left.set_options(options)
        self.right.set_options([("(none)", NONE), *options])
        names = [c.name for c in choices]
        samplers = [c.name for c in choices if c.sampler_path]
        if first and samplers:  # base vs final (else the last checkpoint) by default
            left, right = "base", "final" if "final" in samplers else samplers[-1]
        self.left.value = left if left in names else "base"
        self.right.value = right if right in names else NONE

    # --- examples ---------------------------------------------------------------
    @work(thread=True, exclusive=True, group="chat-examples")
    def _find_examples(self, run_path: str) -> None:
        self.post_message(self.ExamplesFound(run_prompts(run_path)))

    @on(ExamplesFound)
    def _examples_found(self, event: ExamplesFound) -> None:
        event.stop()
        self.examples.set_options([(p.splitlines()[0][:100], p) for p in event.prompts])
        if not event.prompts:
            self.examples.prompt = "no eval set or data file found for this run: type a prompt"

    @on(Select.Changed, "#chat-examples")
    def _example_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.prompt.value = event.value
            self.prompt.focus()

    # --- asking -----------------------------------------------------------------
    def _slots(self) -> list[tuple[str, str]]:
        picked = [("left", str(self.left.value)), ("right", str(self.right.value))]
        return [(slot, name) for slot, name in picked if name != NONE]

    @on(Input.Submitted, "#chat-prompt")
    def ask(self) -> None:
        """Ask the prompt of each picked checkpoint (one subprocess; answers arrive as they come)."""
        text = self.prompt.value.strip()
        problem = settings_error(self.temperature.value, self.max_tokens.value)
        if not text or problem:
            self.status.update(f"[$error]{escape(problem or 'type a prompt first')}[/]")
            return
        slots = self._slots()
        for slot in SLOTS:
            self.answers[slot].update("sampling…" if slot in dict(slots) else "")
        t, n = float(self.temperature.value), int(self.max_tokens.value)
        self.status.update(
            f"asking {', '.join(name for _s, name in slots)} · temperature {t:g} · max_tokens {n}"
        )
        self._stop()
        self._sample(
            chat_argv(self.run_path, [name for _s, name in slots], text, t, n), [s for s, _n in slots]
        )

    def _stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()

    @work(thread=True, exclusive=True, group="chat-sample")
    def _sample(self, argv: list[str], slots: list[str]) -> None:
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.proc = proc
        waiting = list(slots)
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if waiting and isinstance(answer, dict) and self.proc is proc:
                self.post_message(self.Answered(waiting.pop(0), answer))
        err = proc.stderr.read()
        if proc.wait() != 0 and waiting and self.proc is proc:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            self.post_message(self.Failed(waiting, lines[-1] if lines else f"exit {proc.returncode}"))

    @on(Answered)
    def _answered(self, event: Answered) -> None:
        event.stop()
        a = event.answer
        head = (
            f"[b]{escape(str(a.get('checkpoint')))}[/b] · {a.get('tokens')} tokens · ended: {a.get('ended')}"
        )
        self.answers[event.slot].update(f"{head}\n\n{escape(str(a.get('answer', '')))}")
        if event.slot == self._slots()[-1][0]:
            self.status.update(
                f"answered · temperature {a.get('temperature')} · max_tokens {a.get('max_tokens')}"
            )

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        event.stop()
        for slot in event.slots:
            self.answers[slot].update(f"[$error]{escape(event.error)}[/]")
        self.status.update(f"[$error]sampling failed: {escape(event.error)}[/]")
