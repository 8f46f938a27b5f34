"""Run view, built on demand: opening a run mounts the Charts tab only; every other tab's content is mounted
the first time it is shown, filled from the latest snapshot (data that arrived while it was unbuilt
included); its label (bad lines, alerts) is current all along. The footer rebuilds its keys only when
they change."""

from __future__ import annotations

import json
from pathlib import Path

from rich.text import Text
from textual.widgets import TabbedContent, TabPane
from textual.widgets._footer import FooterKey

from tests.app.conftest import copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.screens.run_view import TAB_FOCUS, TABS, RunViewScreen
from tui.widgets.chat_pane import ChatPane
from tui.widgets.footer import SteadyFooter
from tui.widgets.metric_chart import ChartMarker
from tui.widgets.result_view import ResultView
from tui.widgets.run_panes import LatestTable

REWARD = "env/all/reward/total"


async def _open(pilot, app: TinkertopApp) -> RunViewScreen:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
    await pilot.press("enter")
    view = await wait_until(pilot, app._run_view, what="the run view")
    chart = view.chart
    await wait_until(pilot, lambda: chart.keys and all(k in chart.series for k in chart.keys), what="chart")
    return view  # type: ignore[no-any-return]


def _built(view: RunViewScreen) -> list[str]:
    """The tabs whose pane holds its content."""
    return [tab for tab in TABS if view.query_one(f"#{tab}", TabPane).children]


def _focused(view: RunViewScreen, tab: str) -> bool:
    return any(w.has_focus for w in view.query(TAB_FOCUS[tab]))


async def test_only_the_charts_tab_is_built_when_a_run_opens(tmp_path: Path) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _open(pilot, app)
        assert _built(view) == ["charts"]
        assert not view.latest.is_mounted and view.chat_pane is None and view.result_view is None
        assert not view.query(ChatPane) and not view.query(ResultView)
        text = screen_text(app)
        assert all(label in text for label in ("Latest", "Config", "Checkpoints", "Bad lines", "Results"))

        await pilot.press("m")
        table = view.query_one(LatestTable)
        await wait_until(pilot, lambda: table.row_count, what="the latest values")
        assert _built(view) == ["charts", "latest"] and table.has_focus
        assert table.get_cell(REWARD, "step") == ""

        await pilot.press("t")
        await wait_until(pilot, lambda: view.chat_pane is not None and view.chat_pane.right.value == "final")
        assert view.query_one(TAB_FOCUS["chat"]).has_focus


async def test_every_tab_is_built_once_and_takes_focus_when_shown(tmp_path: Path) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _open(pilot, app)
        tabs = view.query_one(TabbedContent)
        for tab in TABS[1:]:
            view.set_focus(None)  # the chat tab focuses its prompt, which would take "]" as text
            await pilot.press("right_square_bracket")
            await wait_until(pilot, lambda tab=tab: _focused(view, tab), what=f"{tab} built and focused")
            assert tabs.active == tab
        latest = view.latest
        view.set_focus(None)
        await pilot.press("right_square_bracket", "m")  # round to Charts, back to a built tab
        assert view.latest is latest and len(view.query_one("#latest", TabPane).children) == 1
        assert _built(view) == list(TABS)
        await pilot.press("p")
        assert "000003" in screen_text(app)


async def test_a_tab_built_late_shows_what_arrived_while_it_was_unbuilt(tmp_path: Path) -> None:
    run = copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _open(pilot, app)
        with (run / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": 6, REWARD: 0.123456}) + "\n")
            fh.write("{not json\n")
        chart = view.chart
        await wait_until(pilot, lambda: chart.series[REWARD].steps[-1:] == [6], what="step 6 charted")
        tab = view.query_one(TabbedContent).get_tab("problems")
        await wait_until(pilot, lambda: str(tab.label) == "Bad lines (1)", what="the label, pane unbuilt")
        assert "problems" not in _built(view) and "latest" not in _built(view)

        await pilot.press("m")
        table = view.query_one(LatestTable)
        await wait_until(pilot, lambda: table.row_count, what="the latest values")
        assert table.get_cell(REWARD, "value") == "0.1235"
        await pilot.press("b")
        await wait_until(pilot, lambda: "metrics.jsonl:" in screen_text(app), what="the bad line, by line")


async def test_the_footer_rebuilds_its_keys_only_when_they_change(tmp_path: Path) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _open(pilot, app)
        footer = view.query_one(SteadyFooter)
        await wait_until(pilot, lambda: footer.children, what="the footer's keys")
        await pilot.pause()
        keys = list(footer.children)
        for _ in range(3):  # the bindings signal again, nothing changed: Textual's footer rebuilds each time
            footer.bindings_changed(view)
            await pilot.pause()
        assert list(footer.children) == keys
        await pilot.press("exclamation_mark")  # the alerts tab: its focus brings "a" (acknowledge)...
        await pilot.press("c")
        await pilot.pause()
        assert list(footer.children) == keys  # ...hidden from the footer (show=False): same keys
        app.set_keymap({"run.next_tab": "z"})  # a key shown changes: rebuilt with it
        await wait_until(pilot, lambda: list(footer.children) != keys, what="the footer rebuilt")
        assert "z" in [k.key for k in footer.query(FooterKey)]


async def test_the_chart_text_is_what_rich_decodes_from_plotext(tmp_path: Path) -> None:
    """The chart decodes plotext's colour codes itself (faster): the same Text as ``Text.from_ansi``, with
    the raw series, the smoothed one, a flat series' level line and an alert's rules."""
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(120, 40)) as pilot:
        view = await _open(pilot, app)
        chart = view.chart
        for keys in ([REWARD], [REWARD, "optim/entropy"], ["progress/done_frac"]):
            chart.set_data(chart.series, keys)
            chart.mark(ChartMarker(REWARD, 3, 0.5, "marker"))
            drawn = chart.render()
            assert drawn == Text.from_ansi(chart.plt.build())
            assert len(drawn.spans) > 10 and drawn.plain.rstrip("\n").count("\n") == chart.size.height - 1
