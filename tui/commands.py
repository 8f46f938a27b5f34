"""Command palette (ctrl+p): open a run by name, sort the list, switch screens."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.typed import tapp
from tui.widgets.run_table import SORTS


class RunCommands(Provider):
    """``open <run>``, ``sort by <key>``, ``runs list``."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app = tapp(self)
        out: list[tuple[str, Callable[[], object], str]] = []
        for summary in sorted(app.summaries.values(), key=lambda s: s.name):
            help_text = f"{summary.kind} · {summary.status} · {Path(summary.path).parent}"
            out.append((f"open {summary.name}", partial(app.open_run, summary.path), help_text))
        for key in SORTS:
            out.append((f"sort runs by {key}", partial(app.runs_screen.set_sort, key), "runs list order"))
        out.append(("runs list", app.action_show_runs, "back to the list of runs"))
        return out

    async def discover(self) -> Hits:
        for text, callback, help_text in self._commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)
