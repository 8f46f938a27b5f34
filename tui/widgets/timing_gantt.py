"""Where an iteration's time goes: one step's spans as a text Gantt (one row per span name, time across)
and the share of each phase (sampling, scoring, training, waiting) over the run as bars."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

if TYPE_CHECKING:
    from runner.rollouts.trajectory import Span, Timing

NAME_WIDTH = 26
BAR_WIDTH = 60
PHASE_VARS = {"sampling": "primary", "scoring": "accent", "training": "success", "waiting": "warning"}


def gantt(bars: Iterable[Span], width: int = BAR_WIDTH) -> list[tuple[str, str, int, int]]:
    """Rows of (name, phase, first column, last column) on a ``width``-column time axis; spans of the
    same name share a row (the parallel samplers of one step); a container span has phase ``""``."""
    bars = [b for b in bars if math.isfinite(b.start) and math.isfinite(b.end)]  # the reader drops them too
    if not bars:
        return []
    t0 = min(b.start for b in bars)
    span = max(max(b.end for b in bars) - t0, 1e-9)
    rows: list[tuple[str, str, int, int]] = []
    for b in sorted(bars, key=lambda b: (b.start, b.name)):
        first = _column(b.start - t0, span, width)
        last = max(first, _column(b.end - t0, span, width))
        rows.append((b.name, b.phase, first, last))
    return rows


def _column(offset: float, span: float, width: int) -> int:
    """The column of a time ``offset`` into ``span`` seconds (0 when the ratio is not a number: spans
    near the float limits overflow)."""
    ratio = offset / span
    return min(width - 1, max(0, int(ratio * (width - 1)))) if math.isfinite(ratio) else 0


class TimingGantt(VerticalScroll):
    """The spans of one step and the phase shares of the run: ``load`` reads the run's timing in a worker,
    ``show_step`` picks the step (the iteration shown; the nearest recorded one)."""

    class Loaded(Message):
        def __init__(self, timing: Timing | None, error: str = "") -> None:
            super().__init__()
            self.timing, self.error = timing, error

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timing: Timing | None = None
        self.step: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("timing: reading timing_spans.jsonl…", id="timing-text", markup=False)

    @work(thread=True, group="load-timing", exclusive=True, exit_on_error=False)
    def load(self, run: Path) -> None:
        from runner.rollouts import timing

        try:
            self.post_message(self.Loaded(timing(run)))
        except Exception as exc:  # noqa: BLE001 - shown in the pane, the view stays up
            self.post_message(self.Loaded(None, error=str(exc) or repr(exc)))

    def on_timing_gantt_loaded(self, message: Loaded) -> None:
        message.stop()
        self.timing = message.timing
        if message.timing is None:
            self.show("Timing", [], {}, note=f"timing could not be read: {message.error}")
            return
        self.show_step(self.step)

    def show_step(self, want: int | None) -> None:
        """Draw step ``want`` (the nearest recorded; None: the last) once the timing is read."""
        self.step = want
        timing = self.timing
        if timing is None:
            return
        if not timing.steps:
            self.show("Timing", [], timing.shares, note="no timing_spans.jsonl in this run")
            return
        target = timing.steps[-1].step if want is None else want
        step = min(timing.steps, key=lambda s: abs(s.step - target))
        note = (
            f"sampling and training overlap {timing.overlap * 100:.1f}% of the run's time"
            if timing.overlap > 0
            else "sampling and training never run at the same time (each waits for the other)"
        )
        note += "".join(f"\n⚠ {p}" for p in timing.problems[:2])
        title = (
            f"Step {step.step}: {step.wall:.2f}s, {len(step.spans)} spans (the step of the iteration shown)"
        )
        self.show(title, list(step.spans), timing.shares, note=note)

    def show(self, title: str, bars: list[Span], shares: Mapping[str, float], note: str = "") -> None:
        text = Text(title + "\n", style="bold")
        if note:
            text.append(note + "\n", style="dim")
        text.append_text(self._gantt(bars))
        text.append("\nShare of each phase over the run\n", style="bold")
        text.append_text(self._shares(shares))
        self.query_one("#timing-text", Static).update(text)

    def _gantt(self, bars: list[Span]) -> Text:
        out = Text()
        rows = gantt(bars)
        if not rows:
            out.append("no spans recorded for this step\n", style="dim")
            return out
        total = max(b.end for b in bars) - min(b.start for b in bars)
        out.append(f"{'span':<{NAME_WIDTH}} 0s{'':{BAR_WIDTH - 8}}{total:6.2f}s\n", style="dim")
        merged: dict[str, list[tuple[str, int, int]]] = {}
        for name, phase, first, last in rows:
            merged.setdefault(name, []).append((phase, first, last))
        for name, spans in merged.items():
            line = [" "] * BAR_WIDTH
            for _, first, last in spans:
                for col in range(first, last + 1):
                    line[col] = "█"
            label = name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"
            out.append(f"{label:<{NAME_WIDTH}} ")
            out.append("".join(line), style=self._colour(spans[0][0]))
            count = f" ×{len(spans)}" if len(spans) > 1 else ""
            out.append(f"{count} {spans[0][0] or 'container'}\n", style="dim")
        return out

    def _shares(self, shares: Mapping[str, float]) -> Text:
        out = Text()
        if not any(v > 0 for v in shares.values()):
            out.append("no phases recorded\n", style="dim")
            return out
        for phase, value in sorted(shares.items(), key=lambda kv: -kv[1]):
            frac = min(1.0, max(0.0, value))  # of the run's wall time (overlapping phases add up past 1)
            out.append(f"{phase:<{NAME_WIDTH}} ")
            out.append("█" * max(1 if frac > 0 else 0, round(frac * BAR_WIDTH)), style=self._colour(phase))
            out.append(f" {frac * 100:5.1f}%\n")
        return out

    def _colour(self, phase: str) -> str:
        var = PHASE_VARS.get(phase, "secondary")
        return self.app.theme_variables.get(var, "") if self.is_attached else ""
