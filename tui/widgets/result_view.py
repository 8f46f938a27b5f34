"""The run view's Results tab: base vs trained from the run's ``results/`` folder, and the flipped rows.

The folder is found and read in a thread worker (``runner.experiment``: ``find_results``, ``read_results``,
``verdict``); the widget only maps the plain data it gets back by one message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from runner.experiment.results import Flip, Results, ResultsError, read_results
from runner.experiment.verdict import Verdict, find_results, verdict


@dataclass(frozen=True)
class ResultLoad:
    """What the worker found: the results and their verdict, or why there are none."""

    folder: Path | None
    results: Results | None = None
    verdict: Verdict | None = None
    error: str | None = None


def load_result(run_path: str) -> ResultLoad:
    """Find and read the run's results folder (blocking: call it from a worker)."""
    folder = find_results(run_path)
    if folder is None:
        return ResultLoad(None)
    try:
        results = read_results(folder)
    except ResultsError as exc:
        return ResultLoad(folder, error=f"{folder}/{exc}")
    return ResultLoad(folder, results, verdict(results))


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):  # an SFT prompt: a conversation
        return "\n".join(
            f"{m.get('role', '?')}: {m.get('content', '')}" for m in value if isinstance(m, dict)
        )
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def question_of(row: dict[str, Any]) -> str:
    return _text(row.get("question", row.get("prompt")))


def answer_text(row: dict[str, Any], side: str) -> str:
    """One side of a flipped row in full, as markup."""
    if "nll" in row:
        return f"[b]{side}[/b]  NLL {float(row['nll']):.4f}\n\n{escape(_text(row.get('completion')))}"
    mark = "[$success]✓ correct[/]" if row.get("correct") is True else "[$error]✗ wrong[/]"
    extracted = escape(_text(row.get("extracted_answer")))
    return f"[b]{side}[/b]  {mark}  extracted: {extracted}\n\n{escape(_text(row.get('completion')))}"


class ResultView(Vertical):
    """Headline, interval, the flipped rows (improved first) and the highlighted one in full."""

    class Loaded(Message):
        def __init__(self, load: ResultLoad) -> None:
            super().__init__()
            self.load = load

    def __init__(self, run_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_path = run_path
        self.flips: list[Flip] = []
        self.headline = Static("looking for this run's results folder…", id="result-headline")
        self.table: DataTable[str] = DataTable(id="flip-table", cursor_type="row")
        self.question = Static("", id="flip-question")
        self.base_side = Static("", id="flip-base", classes="flip-side")
        self.trained_side = Static("", id="flip-trained", classes="flip-side")

    def compose(self) -> ComposeResult:
        yield self.headline
        with Horizontal(id="result-body"):
            yield self.table
            with VerticalScroll(id="flip-detail"):
                yield self.question
                with Horizontal(id="flip-sides"):
                    yield self.base_side
                    yield self.trained_side

    def on_mount(self) -> None:
        self.table.add_column("", key="dir", width=3)
        self.table.add_column("#", key="index", width=6)
        self.table.add_column("Question", key="question", width=48)
        self.reload()

    def reload(self) -> None:
        """Read the folder again (the experiment may have written it since)."""
        self._read(self.run_path)

    @work(thread=True, exclusive=True, group="read-results")
    def _read(self, run_path: str) -> None:
        self.post_message(self.Loaded(load_result(run_path)))

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        event.stop()
        self.show(event.load)

    def show(self, load: ResultLoad) -> None:
        if load.folder is None:
            self.headline.update(
                "No results folder for this run: [i]tinkertop experiment[/i] writes one "
                "(results/summary.json beside logs/<run_name>)."
            )
            return
        if load.error or load.results is None or load.verdict is None:
            self.headline.update(f"[$error]results cannot be read:[/] {escape(load.error or '')}")
            return
        v = load.verdict
        flips = [*load.results.improved, *load.results.regressed]
        self.headline.update(
            f"[b]{escape(v.headline)}[/b]\n{escape(v.interval)}\n"
            f"flipped: {v.improved} improved, {v.regressed} regressed · {escape(str(load.folder))}"
        )
        self._fill(flips)

    def _fill(self, flips: list[Flip]) -> None:
        keep = self.table.cursor_row
        self.flips = flips
        self.table.clear()
        for i, flip in enumerate(flips):
            first = question_of(flip.trained).splitlines()[0] if question_of(flip.trained) else ""
            self.table.add_row("↑" if flip.improved else "↓", str(flip.index), first[:200], key=str(i))
        if flips:
            self.table.move_cursor(row=min(keep, len(flips) - 1))
            self._detail(flips[min(keep, len(flips) - 1)])
        else:
            self.question.update("no row flipped between base and trained")

    @on(DataTable.RowHighlighted, "#flip-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.flips):
            self._detail(self.flips[event.cursor_row])

    def _detail(self, flip: Flip) -> None:
        way = (
            "improved (base wrong, trained right)"
            if flip.improved
            else "regressed (base right, trained wrong)"
        )
        if "nll" in flip.trained:
            way = "NLL fell" if flip.improved else "NLL rose"
        truth = flip.trained.get("ground_truth")
        truth_line = f"\n[b]ground truth[/b] {escape(_text(truth))}" if "ground_truth" in flip.trained else ""
        self.question.update(f"[b]#{flip.index}[/b] {way}\n{escape(question_of(flip.trained))}{truth_line}")
        self.base_side.update(answer_text(flip.base, "Base"))
        self.trained_side.update(answer_text(flip.trained, "Trained"))
