"""Run-list rows made in memory, and an app holding only the runs table, for tests of :class:`RunTable`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.app import App, ComposeResult
from textual.pilot import Pilot

from runner.runs.summary import RunSummary
from runner.status import Status
from tests.app.conftest import FROZEN_NOW
from tui.widgets.run_table import RunTable


def run_row(i: int, step: int = 10, digits: int = 3) -> RunSummary:
    """Run ``i`` (``/runs/run_<i>``, ``digits`` wide) at ``step``, its headline and age apart from the others'."""
    name = f"run_{i:0{digits}d}"
    return RunSummary(
        path=f"/runs/{name}", name=name, kind="rl", status=Status.RUNNING, step=step,
        progress=0.5, headline_key="env/all/reward/total", headline_value=0.5 + i / 1000,
        spark=[0.1, 0.5, 0.3], last_change=FROZEN_NOW - i, n_lines=step, bad_lines=0, latest={},
    )  # fmt: skip


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RunTable()


@asynccontextmanager
async def table_shown(
    rows: list[RunSummary], now: float = FROZEN_NOW
) -> AsyncIterator[tuple[Pilot[None], RunTable]]:
    """A :class:`TableApp` of 120x20 showing ``rows`` (drawn once): its pilot and its table."""
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(RunTable)
        table.show(rows, now)
        await pilot.pause()
        yield pilot, table


def drawn_text(table: RunTable, index: int) -> str:
    """The text of row ``index`` as the table draws it now (the header is the first line)."""
    return table.render_line(index - table.scroll_offset.y + 1).text
