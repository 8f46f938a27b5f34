"""The rollouts view (3) in the app (Pilot), on real files: the cookbook's iteration folders
(``formats/rl_arith``: logtree JSON, summaries, eval splits, timing spans) and a public IF-RLVR run in the
older flat HTML layout. Pick an iteration, a group, a transcript; search with n/N; filter and sort; pin
and compare; from a chart and from an alert to the rollouts of its step; the timing Gantt.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.app.conftest import WidgetHost, copy_run, open_rollouts, wait_until
from tests.shared_data import SHARED
from tui.app import TinkertopApp
from tui.screens.rollouts import RolloutsScreen
from tui.widgets.alert_table import AlertTable
from tui.widgets.run_table import RunTable
from tui.widgets.transcript import TranscriptView

IF_RLVR = SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR" / "logs"
SIZE = (160, 50)


def summaries(run: Path, step: int, base: str = "train") -> list[dict]:
    """The rollout summaries file of one iteration, read here as the oracle."""
    path = run / f"iteration_{step:06d}" / f"{base}_rollout_summaries.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def shown(view: TranscriptView) -> str:
    """The transcript's text as drawn (once its latest rendering is on screen, else empty)."""
    return view.rendered.text if view.ready else ""


async def test_pick_iteration_group_and_transcript(logs: Path) -> None:
    run = logs / "rl_arith"
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        refs = screen.iterations.refs
        assert [(r.step, r.split) for r in refs][:3] == [(0, "train"), (0, "eval:test"), (1, "train")]
        assert len(refs) == len(list(run.glob("iteration_*/*_rollout_summaries.jsonl")))
        assert screen.iteration is not None and screen.iteration.ref.step == 0  # no step asked: the first

        await pilot.press("down", "down")  # train step 1
        await wait_until(pilot, lambda: screen.iteration and screen.iteration.ref.step == 1, what="step 1")
        oracle = summaries(run, 1)
        assert len(screen.iteration.trajectories) == len(oracle)
        note = str(screen.query_one("#iteration-note", Static).render())
        assert "train step 1" in note and "first 2 of 4 groups" in note

        await pilot.press("enter", "right", "down")  # into the groups: group 1, trajectory 1
        picked = screen.groups.selected()
        assert picked is not None and (picked.group, picked.index) == (1, 1)
        row = next(r for r in oracle if (r["group_idx"], r["traj_idx"]) == (1, 1))
        assert picked.reward == pytest.approx(row["total_reward"])
        detail = str(screen.query_one("#trajectory-detail", Static).render())
        assert f"reward {row['total_reward']:g}" in detail and "correct=" in detail
        view = screen.transcript
        await wait_until(pilot, lambda: view.trajectory == picked and shown(view), what="transcript")
        logtree = (run / "iteration_000001" / "train_logtree.json").read_text()
        said = [m for m in picked.messages if m.role != "env"]  # env: the reward table, as text
        assert [m.role for m in said] == ["user", "assistant", "user", "assistant"]
        drawn = shown(view)
        for message in said:
            assert json.dumps(message.text)[1:-1] in logtree  # the file's own text...
            assert message.text in drawn  # ...on screen
        assert drawn.index(said[2].text) < drawn.index(said[3].text)  # in order

        await pilot.press("right")  # group 2: no text logged, shown from the summaries
        await wait_until(pilot, lambda: view.trajectory is not None and view.trajectory.group == 2)
        notes = await wait_until(pilot, lambda: shown(view), what="no-text note")
        assert "first 2 of 4 groups" in str(notes) and "summaries" in str(notes)

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RolloutsScreen), what="back")


async def test_search_n_and_N_jump_across_iterations(logs: Path) -> None:
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        await pilot.press("slash", "9", "2", "enter")
        await wait_until(pilot, lambda: not screen.searching and screen.hits, what="search done")
        hits = screen.hits
        assert {(h.ref.step, h.ref.split) for h in hits} == {(0, "train"), (2, "eval:test")}

        async def shows(i: int) -> None:
            hit = hits[i]
            await wait_until(
                pilot,
                lambda: (
                    screen.iteration is not None
                    and (screen.iteration.ref.step, screen.iteration.ref.split)
                    == (hit.ref.step, hit.ref.split)
                    and screen.transcript.hit == (hit.message, hit.start, hit.end)
                    and shown(screen.transcript)
                ),
                what=f"hit {i} shown",
            )
            t = screen.groups.selected()
            assert t is not None and (t.group, t.index) == (hit.group, hit.index)
            assert t.messages[hit.message].text[hit.start : hit.end] == "92"
            marked = [line for line in shown(screen.transcript).splitlines() if line.startswith("⌕ hit:")]
            assert len(marked) == 1 and "92" in marked[0]
            y = screen.transcript.rendered.hit_y
            assert y is not None and screen.transcript.scroll_y <= y  # scrolled to it
            assert screen.iterations.selected() is not None
            assert screen.iterations.selected().step == hit.ref.step  # type: ignore[union-attr]

        await shows(0)
        await pilot.press("n")
        await shows(1)
        await pilot.press("N")
        await shows(0)
        await pilot.press("N")  # wraps to the last
        await shows(len(hits) - 1)
        assert "hit 2 of 2" in str(screen.query_one("#rollouts-status", Static).render())

        await pilot.press("ctrl+r", "slash", "9", "[", "0", "-", "9", "]", " ", "a", "n", "d", "enter")
        await wait_until(pilot, lambda: not screen.searching and screen.hits and screen.regex, what="regex")
        assert all(" and" in h.snippet for h in screen.hits)
        await pilot.press("slash", "(", "enter")  # a bad regex: said, nothing breaks
        await wait_until(pilot, lambda: not screen.searching, what="bad regex handled")
        assert screen.hits == [] and isinstance(app.screen, RolloutsScreen)


async def test_filter_and_sort(logs: Path) -> None:
    run = logs / "rl_arith"
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        await pilot.press("f", *"correct=1", "enter")
        shown = [t for g in screen.groups.groups for t in g.trajectories]
        oracle = [r for r in summaries(run, 0) if r["steps"][-1]["metrics"].get("correct") == 1.0]
        assert sorted((t.group, t.index) for t in shown) == sorted(
            (r["group_idx"], r["traj_idx"]) for r in oracle
        )
        assert f"{len(oracle)} shown" in str(screen.query_one("#iteration-note", Static).render())

        await pilot.press("f", "ctrl+u", *"tokens<6 reward>0", "enter")
        shown = [t for g in screen.groups.groups for t in g.trajectories]
        assert shown and all(t.tokens is not None and t.tokens < 6 and (t.reward or 0) > 0 for t in shown)

        await pilot.press("f", "ctrl+u", *"bogus", "enter")  # an unreadable filter: said, all shown
        assert len([t for g in screen.groups.groups for t in g.trajectories]) == len(summaries(run, 0))

        await pilot.press("f", "ctrl+u", "enter", "s")  # no filter; sort by reward, high first
        assert screen.sort == "reward"
        for group in screen.groups.groups:
            rewards = [t.reward for t in group.trajectories]
            assert rewards == sorted(rewards, reverse=True)  # type: ignore[type-var]


async def test_flat_html_run_from_public_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not IF_RLVR.is_dir():
        pytest.skip(f"{IF_RLVR} is absent")
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    root = tmp_path / "logs"
    shutil.copytree(IF_RLVR, root / "if_rlvr")
    app = TinkertopApp([root])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        files = sorted(p.name for p in (root / "if_rlvr").glob("*_iteration_*.html"))
        assert len(screen.iterations.refs) == len(files)
        it = screen.iteration
        assert it is not None and it.ref.layout == "flat" and len(it.groups) == 4
        row = screen.iterations.selected()
        assert row is not None and row.n_trajectories == len(it.trajectories)  # filled in once loaded
        t = screen.groups.selected()
        assert t is not None and t.has_text
        raw = html.unescape((root / "if_rlvr" / "train_iteration_000000.html").read_text())
        view = screen.transcript
        drawn = await wait_until(pilot, lambda: shown(view), what="transcript")
        user = next(m for m in t.messages if m.role == "user")
        assert user.text[:200] in raw
        first_words = " ".join(user.text.split()[:8])
        assert first_words in " ".join(str(drawn).split())  # wrapped to the view's width
        await pilot.press("f", *"reward>=0.8", "enter")
        kept = [t for g in screen.groups.groups for t in g.trajectories]
        assert kept and all(t.reward is not None and t.reward >= 0.8 for t in kept)
        assert len(kept) < len(it.trajectories)


async def test_chart_step_and_alert_step_open_their_rollouts(logs: Path) -> None:
    run = logs / "rl_arith"
    with (run / "metrics.jsonl").open("a") as fh:  # a NaN at step 2: the alert the rollouts open at
        fh.write('{"step": 2, "optim/entropy": NaN}\n')
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.alerts, what="full read and alerts")
        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="run view")
        chart = view.chart
        await wait_until(
            pilot, lambda: chart.keys and all(k in chart.series for k in chart.keys), what="chart"
        )
        steps = chart.series[chart.keys[0]].steps
        assert steps[0] == 0 and steps[-1] == 5
        await pilot.press("plus", "r")  # zoomed to the last half: its centre, step 4 (not the last, 5)
        screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
        await wait_until(pilot, lambda: screen.iteration is not None, what="loaded")
        assert (screen.iteration.ref.step, screen.iteration.ref.split) == (4, "train")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is view, what="back to the run view")

        await pilot.press("exclamation_mark")
        await wait_until(pilot, lambda: view.alert_table.alerts, what="the run's alerts")
        nan = view.alert_table.selected()
        assert nan is not None and nan.first_step == 2
        await pilot.press("r")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
        await wait_until(pilot, lambda: screen.iteration is not None, what="loaded")
        assert (screen.iteration.ref.step, screen.iteration.ref.split) == (2, "train")

        await pilot.press("5")  # the alerts view: r opens the alert's step too
        alerts = await wait_until(
            pilot, lambda: app.screen.query(AlertTable).first() if app.screen.id == "alerts" else None
        )
        await wait_until(pilot, lambda: alerts.alerts, what="alerts listed")
        alerts.move_cursor(row=[a.key for a in alerts.alerts].index(nan.key))
        await pilot.press("r")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
        await wait_until(pilot, lambda: screen.iteration is not None, what="loaded")
        assert screen.iteration.ref.step == 2 and screen.path == nan.run_path


async def test_pin_then_compare_the_same_prompt_and_timing(logs: Path) -> None:
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        await pilot.press("down", "enter", "right", "right")  # eval test step 0, group 2
        await wait_until(pilot, lambda: screen.iteration and screen.iteration.ref.split == "eval:test")
        before = screen.groups.selected()
        assert before is not None and before.has_text and before.group == 2
        await pilot.press("p")
        assert screen.pinned_view.display and screen.pinned_view.trajectory == before
        screen.iterations.focus()
        await pilot.press("down", "down", "down")  # eval test step 2: the same test questions
        await wait_until(pilot, lambda: screen.iteration and screen.iteration.ref.step == 2, what="step 2")
        assert screen.iteration.ref.split == "eval:test"
        kept = screen.groups.selected()
        assert kept is not None and (kept.group, kept.index) == (2, 0)  # the cursor keeps its place
        screen.groups.focus()
        await pilot.press("left", "left")
        assert screen.groups.selected().group == 0  # type: ignore[union-attr]
        await pilot.press("m")  # the trajectory of step 2 with the pinned prompt
        after = screen.groups.selected()
        assert after is not None and (after.group, after.index) == (2, 0)
        asked = [m.text for m in after.messages if m.role == "user"]
        assert asked == [m.text for m in before.messages if m.role == "user"]
        await wait_until(pilot, lambda: screen.transcript.trajectory == after, what="current shown")
        assert screen.pinned_view.trajectory == before  # before and after, side by side
        assert screen.pinned_view.region.x < screen.transcript.region.x
        await pilot.press("p")
        assert not screen.pinned_view.display

        await pilot.press("w")
        timing = await wait_until(
            pilot,
            lambda: screen.gantt.timing,
            what=f"timing read {screen.gantt.query_one('#timing-text', Static).render()}",
        )
        text = str(screen.gantt.query_one("#timing-text", Static).render())
        assert "Step 2:" in text and "sampling" in text and "training" in text
        assert set(timing.shares) <= set(text.split())  # every phase has its share bar


async def test_transcript_folds_thinking_and_hides_special_tokens() -> None:
    """A hand-made trajectory (no real file holds thinking or special tokens yet): the widget alone."""

    from runner.rollouts import Message, Trajectory

    t = Trajectory(
        group=0,
        index=0,
        reward=1.0,
        messages=(
            Message("user", "What is 2+2? <b>bold</b>"),
            Message("assistant", "4<|im_end|>", thinking="add two and two"),
            Message("assistant", "", tool_calls=("calc(2+2)",)),
            Message("tool", "4"),
        ),
        has_text=True,
    )

    app = WidgetHost(TranscriptView())
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(TranscriptView)
        view.show(t, "hand-made")
        text = str(await wait_until(pilot, lambda: shown(view), what="drawn"))
        assert "▸ thinking · 15 chars" in text and "add two and two" not in text  # folded
        assert "<|im_end|>" not in text and "1 special token(s) hidden" in text
        assert "What is 2+2? <b>bold</b>" in text  # a tag-like text stays visible
        assert "tool call: calc(2+2)" in text and "── tool" in text
        view.toggle("thinking")
        view.toggle("special")
        text = str(await wait_until(pilot, lambda: shown(view), what="drawn again"))
        assert "add two and two" in text and "4<|im_end|>" in text


async def test_summaries_only_and_a_large_multi_turn_eval(logs: Path) -> None:
    """The async layout (train summaries, no logtree) says so and shows rewards; the multi-turn eval of
    guess_number (a 2 MB logtree, 103 groups of 4) lays its groups side by side, text for the first 4."""
    copy_run("rl_arith_async", logs)
    copy_run("cli_guess_number", logs)
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 3, what="full read")
        table = app.runs_screen.query_one(RunTable)

        async def rollouts_of(name: str) -> RolloutsScreen:
            await pilot.press("1")
            table.move_cursor(row=[Path(p).name for p in table.order].index(name))
            return await open_rollouts(pilot, app)

        screen = await rollouts_of("rl_arith_async")
        assert screen.iteration is not None and screen.iteration.ref.split == "train"
        oracle = summaries(logs / "rl_arith_async", 0)
        cells = [t for g in screen.groups.groups for t in g.trajectories]
        assert len(cells) == len(oracle) and not any(t.has_text for t in cells)
        assert sorted(t.reward for t in cells) == sorted(r["total_reward"] for r in oracle)  # type: ignore[type-var]
        note = str(screen.query_one("#iteration-note", Static).render())
        assert "only summaries" in note
        text = await wait_until(pilot, lambda: shown(screen.transcript), what="the no-text note")
        assert "summaries" in str(text)

        screen = await rollouts_of("cli_guess_number")
        screen.iterations.focus()
        await pilot.press("down")  # eval test, step 0
        await wait_until(
            pilot, lambda: screen.iteration and screen.iteration.ref.split == "eval:test", what="eval"
        )
        eval_rows = summaries(logs / "cli_guess_number", 0, "eval_test")
        assert len(screen.groups.groups) == len({r["group_idx"] for r in eval_rows}) == 103
        assert sum(t.has_text for g in screen.groups.groups for t in g.trajectories) == 16  # 4 groups of 4
        assert "first 4 of 103 groups" in str(screen.query_one("#iteration-note", Static).render())


async def test_a_pin_stays_for_another_runs_rollouts(logs: Path) -> None:
    copy_run("rl_arith_kl", logs)
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 2, what="full read")
        table = app.runs_screen.query_one(RunTable)
        table.move_cursor(row=[Path(p).name for p in table.order].index("rl_arith"))
        screen = await open_rollouts(pilot, app)
        await pilot.press("enter", "p")
        pinned = screen.groups.selected()
        assert pinned is not None and screen.pinned_view.display
        await pilot.press("escape")
        table.move_cursor(row=[Path(p).name for p in table.order].index("rl_arith_kl"))
        other = await open_rollouts(pilot, app)
        assert other is not screen and other.path.endswith("rl_arith_kl")
        assert other.pinned_view.display and other.pinned_view.trajectory == pinned
        assert "PINNED rl_arith · train step 0" in str(
            await wait_until(pilot, lambda: shown(other.pinned_view))
        )
        await pilot.press("p")  # unpinned: for every view after it too
        assert not other.pinned_view.display


async def test_a_new_iteration_appears_while_the_view_is_open(logs: Path) -> None:
    run = logs / "rl_arith"
    later = logs.parent / "later"
    shutil.move(run / "iteration_000005", later)  # not written yet
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        await pilot.press("down")  # eval test, step 0: the cursor must stay on it
        await wait_until(
            pilot, lambda: screen.iteration and screen.iteration.ref.split == "eval:test", what="eval"
        )
        assert max(r.step for r in screen.iterations.refs) == 4
        shutil.copytree(later, run / "iteration_000005")  # the trainer writes the next iteration
        await wait_until(
            pilot, lambda: max(r.step for r in screen.iterations.refs) == 5, timeout=20, what="listed live"
        )
        row = next(r for r in screen.iterations.refs if r.step == 5)
        assert row.n_trajectories == len(summaries(run, 5))  # with its statistics
        selected = screen.iterations.selected()
        assert selected is not None and (selected.step, selected.split) == (0, "eval:test")
        await pilot.pause()  # the table's highlight events of the added row, handled
        assert screen.iteration is not None and screen.iteration.ref.split == "eval:test"  # still shown


def test_filter_words_become_the_engines_arguments() -> None:
    import math

    from tui.widgets.rollout_groups import FilterError, filter_args

    args = filter_args("reward>=0.5 reward<1 correct=1 format=0 tokens>100 tokens<=500 stop=length")
    assert args == {
        "min_reward": 0.5,
        "max_reward": math.nextafter(1.0, -math.inf),  # strict: the float just below
        "correct": True,
        "format_ok": False,
        "min_tokens": 101,
        "max_tokens": 500,
        "stop_reason": "length",
    }
    assert filter_args("") == {}
    for bad, says in (
        ("speed>1", "cannot read"),
        ("correct=2", "correct=1 or"),
        ("tokens<x", "not a number"),
    ):
        with pytest.raises(FilterError, match=says):
            filter_args(bad)


def test_transcript_text_helpers() -> None:
    from tui.widgets.iteration_list import bars, split_label
    from tui.widgets.transcript import escape_html, special_tokens

    assert special_tokens("a<|im_end|>b<｜end▁of▁sentence｜>", False) == ("ab", 2)
    assert special_tokens("a<|im_end|>", True) == ("a`<|im_end|>`", 1)
    md = escape_html("x <think>y</think> `a<b`\n```\n<c>\n```")
    assert md == "x \\<think>y\\</think> `a<b`  \n```\n<c>\n```"  # code untouched; line breaks kept
    assert bars([0, 1, 4]) == " ▃█" and bars([0, 0]) == ""
    assert split_label("eval:test") == "eval test" and split_label("train") == "train"


async def test_benchmark_results_in_the_run_folder_list_incorrect_first(logs: Path) -> None:
    run = logs / "rl_arith"
    copy_run("eval_store", run)  # run_benchmarks' save dir, inside the run folder
    saved = sorted((run / "eval_store" / "runs").glob("*/arith/trajectories.jsonl"))
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_rollouts(pilot, app)
        benches = [r for r in screen.iterations.refs if r.layout == "benchmark"]
        assert [r.source for r in benches] == [str(p) for p in saved]  # base_..., final_...: both listed
        assert screen.iterations.refs[-len(benches) :] == benches  # after the run's iterations
        screen.iterations.select_ref(benches[0])
        await wait_until(pilot, lambda: screen.iteration and screen.iteration.ref.layout == "benchmark")
        rows = [json.loads(line) for line in saved[0].read_text().splitlines() if line.strip()]
        cells = [t for g in screen.groups.groups for t in g.trajectories]
        assert len(cells) == len(rows)
        first_correct = next(i for i, t in enumerate(cells) if (t.reward or 0) > 0)
        assert all((t.reward or 0) <= 0 for t in cells[:first_correct])  # the incorrect ones first
        assert all((t.reward or 0) > 0 for t in cells[first_correct:])
        note = str(screen.query_one("#iteration-note", Static).render())
        assert "bench arith" in note and "1/8 correct" in note
        text = await wait_until(pilot, lambda: shown(screen.transcript), what="a benchmark transcript")
        assert "── user" in str(text) and "── assistant" in str(text)


async def test_a_run_without_rollouts_and_a_corrupt_logtree_are_said(logs: Path) -> None:
    copy_run("sl_conversations", logs)
    bad = logs / "rl_arith" / "iteration_000001" / "train_logtree.json"
    bad.write_text('{"title": "RL Iteration 1", "root": {"tag": "body", "children": [')  # cut short
    app = TinkertopApp([logs])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 2, what="full read")
        table = app.runs_screen.query_one(RunTable)
        table.move_cursor(row=[Path(p).name for p in table.order].index("sl_conversations"))
        await pilot.press("3")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
        title = screen.query_one("#rollouts-title", Static)
        await wait_until(pilot, lambda: "no rollout files" in str(title.render()), what="said: nothing here")
        await pilot.press("escape")

        table.move_cursor(row=[Path(p).name for p in table.order].index("rl_arith"))
        screen = await open_rollouts(pilot, app)
        await pilot.press("down", "down")  # train step 1: its logtree is cut short
        note = screen.query_one("#iteration-note", Static)
        said = await wait_until(
            pilot, lambda: "train_logtree.json" in str(note.render()) and str(note.render())
        )
        assert "step 1" in str(said)
        await pilot.press("up", "up")  # the other iterations still show
        await wait_until(pilot, lambda: screen.iteration and screen.iteration.ref.step == 0, what="step 0")
