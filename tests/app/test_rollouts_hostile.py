"""The rollouts view (Pilot) against hostile input and impatient users: a NaN timing span, a hit in a
thinking block, a huge transcript resized again and again, a search left running when the view closes,
``r`` on an eval chart. Data: ``formats/rl_arith`` copied to tmp_path, or trajectories made here.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from rich.style import Style
from textual.widgets import Static
from textual.worker import NoActiveWorker, get_current_worker

from runner.rollouts import IterationRef, Message, Trajectory
from runner.rollouts.search import compile_query, search_trajectory
from tests.app.conftest import WidgetHost, open_rollouts, wait_until
from tui.app import TinkertopApp
from tui.screens.rollouts import RolloutsScreen
from tui.widgets.alert_table import AlertTable
from tui.widgets.metric_picker import MetricPicker
from tui.widgets.transcript import Spec, TranscriptView, render_transcript

SIZE = (160, 50)


@pytest.mark.parametrize("bad", ["NaN", "1e309"])
async def test_a_non_finite_timing_span_is_named_not_fatal(logs: Path, bad: str) -> None:
    spans = logs / "rl_arith" / "timing_spans.jsonl"
    lines = spans.read_text().splitlines()
    head, sep, tail = lines[0].partition('"wall_end": ')
    lines[0] = head + sep + bad + tail[tail.index("}") :]
    spans.write_text("\n".join(lines) + "\n")
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        text = screen.gantt.query_one("#timing-text", Static)
        await wait_until(pilot, lambda: "non-finite time" in str(text.render()), what="the problem said")
        assert f"{spans}:1: span" in str(text.render())
        assert app.is_running


THINKING = "Let me compute: the needle is in the thinking block, 6*7=42"


def _thinking_trajectory() -> Trajectory:
    msg = Message("assistant", "The answer is 42.", thinking=THINKING, tool_calls=("calc(needle_tool)",))
    return Trajectory(0, 0, 1.0, messages=(Message("user", "q"), msg), has_text=True)


@pytest.mark.parametrize(("query", "field"), [("needle is", "thinking"), ("needle_tool", "tool_calls")])
async def test_a_hit_outside_the_text_marks_the_text_it_is_in(query: str, field: str) -> None:
    t = _thinking_trajectory()
    hit = next(search_trajectory(IterationRef(0, "train", "x"), t, compile_query(query)))
    assert hit.field == field
    app = WidgetHost(TranscriptView())
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(TranscriptView)
        view.show(t, "h", hit=(hit.message, hit.start, hit.end), hit_field=hit.field)
        text = str(await wait_until(pilot, lambda: view.ready and view.rendered.text, what="drawn"))
        marked = [line for line in text.splitlines() if line.startswith("⌕ hit")]
        assert len(marked) == 1 and query in marked[0]
        assert ("▾ thinking" in text) is (field == "thinking")  # unfolded for a hit in it, else folded
        view.toggle("thinking")  # t still folds (unfolds) it
        text = str(await wait_until(pilot, lambda: view.ready and view.rendered.text, what="drawn again"))
        assert ("▾ thinking" in text) is (field != "thinking")


async def test_the_screen_passes_the_hits_field(logs: Path) -> None:
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        t = screen.groups.selected()
        assert t is not None and screen.iteration is not None
        text = t.messages[-1].text if t.messages else ""
        from runner.rollouts import Hit

        hit = Hit(screen.iteration.ref, t.group, t.index, len(t.messages) - 1, 0, 1, text[:1], "thinking")
        screen._show_trajectory(hit)
        assert screen.transcript.spec.hit_field == "thinking"


HUGE = ("The model writes a long answer with **bold** and `code` and numbers 12345. " * 3 + "\n") * 4000


def _huge() -> Trajectory:
    return Trajectory(0, 0, 1.0, messages=(Message("user", "q"), Message("assistant", HUGE)), has_text=True)


def test_a_render_stops_at_the_next_check_once_cancelled() -> None:
    asked = 0

    def cancelled() -> bool:
        nonlocal asked
        asked += 1
        return asked >= 6  # the 6th check: inside the huge message (5 before: heading, 2 headers, 2 bodies)

    assert render_transcript(Spec(_huge(), "h"), 100, {}, cancelled=cancelled) is None
    assert asked == 6  # it stopped at once, not after the remaining ~12,000 lines


def test_lines_are_styled_in_the_render() -> None:
    t = Trajectory(0, 0, 1.0, messages=(Message("assistant", "hello"),), has_text=True)
    r = render_transcript(Spec(t, "h"), 40, {}, style=Style(bgcolor="#102030"))
    assert r is not None and r.lines
    assert all(seg.style is not None and seg.style.bgcolor is not None for line in r.lines for seg in line)


class CountingView(TranscriptView):
    """Counts every render result posted to it, the stale ones too (handled then dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[int] = []

    def on_transcript_view_built(self, message: TranscriptView.Built) -> None:
        self.posted.append(message.generation)
        super().on_transcript_view_built(message)


async def test_a_huge_transcript_resized_again_and_again_settles_on_the_last_width() -> None:
    app = WidgetHost(CountingView())
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(CountingView)
        view.show(_huge(), "huge")
        renders = set()
        for width in (90, 80, 70, 120):
            renders |= {w for w in app.workers if w.group == "transcript-build"}
            await pilot.resize_terminal(width, 40)
            await pilot.pause()
        renders |= {w for w in app.workers if w.group == "transcript-build"}
        await wait_until(pilot, lambda: view.ready, what="the last render shown", timeout=60)
        await wait_until(
            pilot, lambda: all(w.is_finished for w in renders), what="every render ended", timeout=60
        )
        assert view.generation == 5  # one render per width asked for
        # a render replaced before it finished posts nothing, so what was posted only ever moves forward
        # and ends with the last width's render (the workers seen are those still alive when polled: how
        # many depends on the machine's speed, so they are not counted)
        assert view.posted[-1] == 5 and view.posted == sorted(set(view.posted)), view.posted
        assert 100 < max(line.cell_length for line in view.rendered.lines) <= 120  # the last width


def _worker_group() -> str | None:
    try:
        return get_current_worker().group
    except NoActiveWorker:
        return None


async def test_a_search_stops_when_the_view_closes(logs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.rollouts as ro

    real = ro.load_iteration
    gate = threading.Event()
    searched: list[IterationRef] = []

    def gated(ref: IterationRef):  # type: ignore[no-untyped-def]  # seam: hold the search's first read
        if _worker_group() == "search-rollouts":
            searched.append(ref)
            gate.wait(timeout=30)
        return real(ref)

    real_search = ro.search
    ended = threading.Event()

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]  # seam: see the search's thread end
        try:
            yield from real_search(*args, **kwargs)
        finally:
            ended.set()

    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        await open_rollouts(pilot, app)
        monkeypatch.setattr(ro, "load_iteration", gated)
        monkeypatch.setattr(ro, "search", watched)
        await pilot.press("ctrl+r", "slash", "a", "enter")
        await wait_until(pilot, lambda: searched, what="the search reading its first iteration")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.runs_screen, what="closed")
        gate.set()
        await wait_until(pilot, ended.is_set, what="the search's thread ended")
        assert len(searched) == 1  # not one more iteration read after the view closed


async def test_r_on_an_eval_chart_opens_the_eval_rollouts(logs: Path) -> None:
    """Issue 10: ``r`` opens the split of the metric charted (``test/...``: the ``test`` evaluator's
    rollouts, ``eval_test_*``) at the chart's step; a train metric opens train."""
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.summaries, what="full read")
        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="run view")
        chart = view.chart
        key = "test/env/all/correct"
        view.picker.post_message(MetricPicker.Changed([key]))
        await wait_until(pilot, lambda: chart.keys == [key] and key in chart.series, what="eval chart")
        last = chart.series[key].steps[-1]
        await pilot.press("r")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
        await wait_until(pilot, lambda: screen.iteration is not None, what="loaded")
        assert (screen.iteration.ref.split, screen.iteration.ref.step) == ("eval:test", last)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is view, what="back")
        view.picker.post_message(MetricPicker.Changed(["optim/entropy"]))
        await wait_until(pilot, lambda: chart.keys == ["optim/entropy"], what="train chart")
        await pilot.press("r")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
        await wait_until(pilot, lambda: screen.iteration is not None, what="loaded")
        assert screen.iteration.ref.split == "train"


PARAGRAPHS = "\n\n".join(
    f"# Part {k}\n\nParagraph {k} with **bold**, `code` <b>and</b> a [link](x).\n\n- a\n- b\n\n1. one\n2. two\n"
    f"\n```python\nx = {k}\n\ny = 2\n```\n> quoted {k}\n\n| a | b |\n|---|---|\n| {k} | 2 |"
    for k in range(300)
)


@pytest.mark.parametrize("text", [PARAGRAPHS, HUGE[: len(HUGE) // 3]], ids=["blocks", "one-paragraph"])
def test_a_long_answer_renders_block_by_block_and_looks_the_same(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    import tui.widgets.transcript as tr

    t = Trajectory(0, 0, 1.0, messages=(Message("assistant", text),), has_text=True)
    whole = render_transcript(Spec(t, "h"), 100, {}, style=Style(bgcolor="black"))
    assert len(tr.chunks(tr.escape_html(text))) > 5
    monkeypatch.setattr(tr, "CHUNK_LINES", 10**9)
    one = render_transcript(Spec(t, "h"), 100, {}, style=Style(bgcolor="black"))
    assert whole is not None and one is not None and whole.text == one.text
    asked = 0

    def cancelled() -> bool:
        nonlocal asked
        asked += 1
        return asked >= 5

    monkeypatch.setattr(tr, "CHUNK_LINES", 40)
    monkeypatch.setattr(tr, "Markdown", counted := _Counting(tr.Markdown))
    assert render_transcript(Spec(t, "h"), 100, {}, cancelled=cancelled) is None
    assert 0 < counted.parsed < len(text) / 5  # stopped after the first blocks: the rest never parsed


class _Counting:
    """Seam: counts the characters of markdown parsed (a Markdown renderable parses when made)."""

    def __init__(self, real: type) -> None:
        self.real, self.parsed = real, 0

    def __call__(self, text: str, *args: object, **kwargs: object) -> object:
        self.parsed += len(text)
        return self.real(text, *args, **kwargs)


async def test_r_on_an_eval_alert_in_the_alerts_view_opens_the_eval_rollouts(logs: Path) -> None:
    """An alert on an evaluator's metric (``test/...``) opens that evaluator's rollouts at the alert's step
    from the alerts view (``5``), as it does from the run view's chart."""
    with (logs / "rl_arith" / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 2, "test/env/all/correct": NaN}\n')
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.alerts, what="full read and alerts")
        await pilot.press("5")
        table = await wait_until(
            pilot, lambda: app.screen.query(AlertTable).first() if app.screen.id == "alerts" else None
        )
        await wait_until(pilot, lambda: table.alerts, what="alerts listed")
        (nan,) = [a for a in table.alerts if a.metric == "test/env/all/correct"]
        table.move_cursor(row=[a.key for a in table.alerts].index(nan.key))
        await pilot.press("r")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
        await wait_until(pilot, lambda: screen.iteration is not None, what="loaded")
        assert (screen.iteration.ref.split, screen.iteration.ref.step) == ("eval:test", 2)
