"""Compare runs (issue 14), the app half: marking in the runs list, the compare view (`4`, `c`) on the
real IF-RLVR runs of ../shared/realdata: overlay legend and colours matching the table, group by a config
key, table sort and CSV/JSON export, the config diff's all-keys toggle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.app.conftest import wait_until
from tests.shared_data import SHARED
from tui.app import TinkertopApp
from tui.screens.compare import CompareScreen
from tui.widgets.compare_chart import CompareChart
from tui.widgets.run_table import RunTable

IF_RLVR = SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR"
VERSIONS = ("logs", "logs_v2", "logs_v2p3", "logs_v2p7")  # logs_v2p5 has no metrics


def copy_versions(dest: Path, names: tuple[str, ...] = VERSIONS) -> list[Path]:
    """The IF-RLVR run folders (config, metrics, checkpoints, code.diff; no logtree HTML) in ``dest``."""
    if not IF_RLVR.is_dir():
        pytest.skip(f"{IF_RLVR} is absent")
    out = []
    for name in names:
        target = dest / name
        shutil.copytree(IF_RLVR / name, target, ignore=shutil.ignore_patterns("*.html", "wandb", "logs.log"))
        out.append(target)
    return out


async def _loaded(pilot, n: int) -> RunTable:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_until(pilot, lambda: app.loaded and len(app.summaries) == n, what="full read")
    await pilot.pause()
    return app.runs_screen.query_one(RunTable)


def _marked_names(app: TinkertopApp) -> list[str]:
    return sorted(Path(p).name for p in app.runs_screen.marked)


async def test_space_marks_the_cursor_run_and_marks_survive_sort_and_refresh(tmp_path: Path) -> None:
    copy_versions(tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(140, 40)) as pilot:
        table = await _loaded(pilot, 4)
        first = table.selected_path()
        assert first is not None
        await pilot.press("space")
        assert list(app.runs_screen.marked) == [first]
        assert table.selected_path() != first  # the cursor moves on, so space space marks two rows
        await pilot.press("space")
        assert len(app.runs_screen.marked) == 2
        marked = set(app.runs_screen.marked)
        glyph_rows = {p for p in table.order if str(table.get_cell(p, "name")).startswith("●")}
        assert glyph_rows == marked
        await pilot.press("s", "s")  # re-sort twice
        assert set(app.runs_screen.marked) == marked
        assert {p for p in table.order if str(table.get_cell(p, "name")).startswith("●")} == marked
        # a live refresh (the metrics file grows) keeps the marks
        grown = Path(next(iter(marked))) / "metrics.jsonl"
        lines = grown.read_text().splitlines()
        grown.write_text("\n".join(lines + [lines[-1].replace('"step": ', '"step": 9')]) + "\n")
        await wait_until(pilot, lambda: app.summaries[str(grown.parent)].n_lines > len(lines), what="refresh")
        await pilot.pause()
        assert set(app.runs_screen.marked) == marked
        assert {p for p in table.order if str(table.get_cell(p, "name")).startswith("●")} == marked
        # space on a marked row unmarks it
        table.move_cursor(row=table.order.index(next(iter(sorted(marked)))))
        await pilot.press("space")
        assert len(app.runs_screen.marked) == 1


async def test_capital_a_marks_every_run_the_filter_shows_and_again_unmarks(tmp_path: Path) -> None:
    copy_versions(tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(140, 40)) as pilot:
        await _loaded(pilot, 4)
        await pilot.press("slash", *"v2p", "enter")  # logs_v2p3, logs_v2p7
        await pilot.press("A")
        assert _marked_names(app) == ["logs_v2p3", "logs_v2p7"]
        await pilot.press("escape")  # the filter is cleared: the marks stay
        assert _marked_names(app) == ["logs_v2p3", "logs_v2p7"]
        await pilot.press("A")  # not all shown are marked: mark them all
        assert _marked_names(app) == list(VERSIONS)
        await pilot.press("A")  # all shown marked: unmark
        assert app.runs_screen.marked == {}


async def _compare(pilot, n: int = 4) -> CompareScreen:  # type: ignore[no-untyped-def]
    """Mark every run, press c, wait until the overlay, the table and the diff are shown."""
    app = pilot.app
    await _loaded(pilot, n)
    await pilot.press("A", "c")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    await wait_until(
        pilot,
        lambda: len(screen.chart.keys) == n and screen.table_view.rows_shown and screen.diff is not None,
        what="overlay, table and diff",
    )
    await pilot.pause()
    return screen


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "results" / "logs"
    copy_versions(root)
    return root


async def test_four_opens_the_marked_runs_legend_and_table_share_names_and_colours(tmp_path: Path) -> None:
    app = TinkertopApp([_workspace(tmp_path)])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot)
        assert screen.chart.metric == "env/all/reward/total"  # the RL headline metric
        legend = screen.legend.entries
        assert sorted(name for name, _ in legend) == sorted(VERSIONS)
        assert len({colour for _, colour in legend}) == 4  # one colour per run
        table = screen.table_view
        assert [(r.name, table.colours[r.path]) for r in table.rows_shown] == legend
        assert [screen.chart.colours[p] for p in screen.chart.keys] == [c for _, c in legend]
        # every chart draws a run in its colour: the small multiples too
        await pilot.press("m")
        multiples = lambda: list(screen.query(".multiple").results(CompareChart))  # noqa: E731
        await wait_until(pilot, lambda: multiples() and all(c.keys for c in multiples()), what="multiples")
        for chart in screen.query(".multiple").results(CompareChart):
            assert {p: chart.colours[p] for p in chart.keys} == {p: screen.colours[p] for p in chart.keys}
        await pilot.press("escape")
        assert app.screen is app.runs_screen
        await pilot.press("4")  # the same marks, from the list
        await wait_until(pilot, lambda: app.screen is not app.runs_screen, what="compare again")


async def test_c_with_one_run_marked_compares_it_with_the_cursor_run(tmp_path: Path) -> None:
    app = TinkertopApp([_workspace(tmp_path)])
    async with app.run_test(size=(160, 45)) as pilot:
        table = await _loaded(pilot, 4)
        await pilot.press("4")  # nothing marked: the cursor run alone is no comparison
        await pilot.pause()
        assert app.screen is app.runs_screen
        first, second = table.order[:2]
        await pilot.press("space")  # marks the first row, the cursor moves to the second
        await pilot.press("c")
        await wait_until(pilot, lambda: app.screen is not app.runs_screen, what="compare")
        assert app.screen.paths == [first, second]  # type: ignore[attr-defined]


async def test_group_by_a_differing_key_draws_one_line_per_group_with_its_band(tmp_path: Path) -> None:
    app = TinkertopApp([_workspace(tmp_path)])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot)
        await pilot.press("g")
        await wait_until(pilot, lambda: app.screen.id == "group-picker", what="group picker")
        keys = app.screen.keys  # type: ignore[attr-defined]
        assert "dataset_builder.group_size" in keys and "model_name" not in keys  # only keys that differ
        await pilot.press(*["down"] * (keys.index("dataset_builder.group_size") + 1), "enter")
        await wait_until(
            pilot, lambda: screen.legend.entries and "16" in screen.legend.entries[0][0], what="groups"
        )
        assert [name for name, _ in screen.legend.entries] == ["16 (1 run)", "32 (3 runs)"]
        chart = screen.chart
        means = [k for k in chart.keys if "\x00" not in k]
        assert means == ["dataset_builder.group_size=16", "dataset_builder.group_size=32"]
        assert len(chart.keys) == 6  # each group: its mean, its min and its max line
        assert [chart.colours[m] for m in means] == [c for _, c in screen.legend.entries]
        # the band of the 3-run group spans its runs: min <= mean <= max at every step
        band = screen.groups.lines[1]  # type: ignore[union-attr]
        assert all(
            lo <= m <= hi for lo, m, hi in zip(band.lo.values, band.mean.values, band.hi.values, strict=True)
        )
        assert any(lo < hi for lo, hi in zip(band.lo.values, band.hi.values, strict=True))


async def test_table_sorts_filters_and_exports_csv_and_json_without_overwriting(tmp_path: Path) -> None:
    import csv
    import json

    app = TinkertopApp([_workspace(tmp_path)])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot)
        table = screen.table_view
        await pilot.press("t", "o")  # sort by the first column: the run's name
        assert [r.name for r in table.rows_shown] == sorted(VERSIONS)
        await pilot.press("O")
        assert [r.name for r in table.rows_shown] == sorted(VERSIONS, reverse=True)
        await pilot.press("o", "o", "o")  # name -> kind -> status -> step
        assert table.sort_column == "step"
        assert [r.step for r in table.rows_shown] == [112, 56, 28, 6]  # descending still
        await pilot.press("f", *"v2p", "enter")
        assert [r.name for r in table.rows_shown] == ["logs_v2p7", "logs_v2p3"]
        folder = tmp_path / "results" / "compare"
        await pilot.press("w")
        await wait_until(pilot, lambda: len(list(folder.glob("*.csv"))) == 1, what="the CSV")
        await pilot.press("w")  # again, the same second: a new name, the first file kept
        await wait_until(pilot, lambda: len(list(folder.glob("*.csv"))) == 2, what="a second CSV")
        for path in folder.glob("*.csv"):
            rows = list(csv.DictReader(path.open()))
            assert [r["name"] for r in rows] == ["logs_v2p7", "logs_v2p3"]  # as shown: filtered, sorted
            assert round(float(rows[0]["env/all/reward/total:max"]), 3) == 0.825
        await pilot.press("J")
        await wait_until(pilot, lambda: list(folder.glob("*.jsonl")), what="the JSON lines")
        records = [json.loads(line) for line in next(folder.glob("*.jsonl")).read_text().splitlines()]
        assert [r["step"] for r in records] == [112, 56]


async def test_config_diff_shows_only_differing_keys_and_a_toggles_all(tmp_path: Path) -> None:
    app = TinkertopApp([_workspace(tmp_path)])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot)
        pane = screen.diff_pane
        await pilot.press("d")
        differing = pane.rows_shown()
        assert "dataset_builder.group_size" in differing and "max_tokens" in differing
        assert "model_name" not in differing
        await pilot.press("a")
        await wait_until(pilot, lambda: "model_name" in pane.rows_shown(), what="all keys")
        assert set(differing) < set(pane.rows_shown())
        await pilot.press("a")
        await wait_until(pilot, lambda: pane.rows_shown() == differing, what="only differing again")
        # each run's commit and code diff, side by side
        texts = [str(s.render()) for s in pane.code.query(".code-pane Static")]
        assert len(texts) == 4 and all("commit " in t for t in texts)


async def test_live_lines_extend_the_overlay_and_keep_the_zoom(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    app = TinkertopApp([root])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot)
        await pilot.press("plus")  # zoom in: last 50%
        assert screen.chart_view.zoom == 0.5
        path = str(root / "logs_v2")
        before = len(screen.chart.series[path].steps)
        metrics = root / "logs_v2" / "metrics.jsonl"
        last = json.loads(metrics.read_text().splitlines()[-1])
        with metrics.open("a") as handle:
            for i in range(1, 4):
                handle.write(json.dumps(last | {"step": last["step"] + i}) + "\n")
        await wait_until(pilot, lambda: len(screen.chart.series[path].steps) == before + 3, what="new lines")
        assert screen.chart_view.zoom == 0.5 and screen.chart.metric == "env/all/reward/total"


async def test_a_metric_picked_by_search_replaces_the_overlay_and_a_flat_one_stays_flat(
    tmp_path: Path,
) -> None:
    app = TinkertopApp([_workspace(tmp_path)])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot)
        await pilot.press("slash", *"optim/lr", "enter", "space")
        await wait_until(
            pilot, lambda: screen.chart.metric == "optim/lr" and screen.chart.keys, what="optim/lr"
        )
        await pilot.pause()
        assert screen.picker.picked == ["optim/lr"]  # one metric at a time
        # 4e-05 in all four runs: drawn as a level line with its value said, never scaled to its range
        assert screen.chart.flat_note.startswith("flat at")


# --- review fixes: text shown as written, the table read again only on a change, a deleted run ------
@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty logs folder (for :func:`_two_arith_runs`); the test's own home."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs"


def _two_arith_runs(root: Path, names: tuple[str, str], configs: tuple[dict, dict]) -> list[Path]:
    """Two copies of the formats' rl_arith run named ``names``, their config updated with ``configs``."""
    from tests.app.conftest import copy_run

    out = []
    for name, extra in zip(names, configs, strict=True):
        run = copy_run("rl_arith", root / "tmp").rename(root / name)
        (root / "tmp").rmdir()
        config = json.loads((run / "config.json").read_text())
        (run / "config.json").write_text(json.dumps(config | extra))
        out.append(run)
    return out


def _shown(table, row_key: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The cells of a DataTable row as drawn (a plain str cell is read as markup when drawn)."""
    cells = table._get_row_renderables(table.get_row_index(row_key)).cells
    return [str(cell) for cell in cells]


async def test_brackets_in_names_and_config_values_are_shown_as_written(root: Path) -> None:
    a, _b = _two_arith_runs(
        root,
        ("sweep[lr=1e-4]", "plain"),
        ({"splits": ["train", "test"], "stop": "[/INST]"}, {"splits": ["train"], "stop": "[bold]</s>"}),
    )
    app = TinkertopApp([root])
    async with app.run_test(size=(160, 45)) as pilot:
        table = await _loaded(pilot, 2)
        assert "sweep[lr=1e-4]" in _shown(table, str(a))[0]
        screen = await _compare(pilot, 2)
        assert "sweep[lr=1e-4]" in _shown(screen.table_view, str(a))[1]
        await pilot.press("d")
        keys = screen.diff_pane.keys
        await wait_until(pilot, lambda: "stop" in screen.diff_pane.rows_shown(), what="diff rows")
        await pilot.pause()
        assert sorted(_shown(keys, "splits")[2:]) == ["[train, test]", "[train]"]
        assert sorted(_shown(keys, "stop")[2:]) == ["[/INST]", "[bold]</s>"]
        assert app.is_running


async def test_the_table_is_read_again_only_when_a_poll_found_a_change(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runner.compare
    from tui.screens import compare

    monkeypatch.setattr(compare, "POLL_S", 0.05)  # many polls quickly; the test waits on their count
    real = runner.compare.compare_table
    calls: list[int] = []

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]  # seam: count the table reads
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner.compare, "compare_table", counted)
    a, _b = _two_arith_runs(root, ("a", "b"), ({"seed": 1}, {"seed": 2}))
    app = TinkertopApp([root])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot, 2)
        assert len(calls) == 1
        polls = screen._polls
        await wait_until(pilot, lambda: screen._polls >= polls + 4 * compare.TABLE_EVERY, what="polls")
        assert len(calls) == 1  # nothing changed: no table read
        metrics = a / "metrics.jsonl"
        last = json.loads(metrics.read_text().splitlines()[-1])
        with metrics.open("a") as handle:
            handle.write(json.dumps(last | {"step": last["step"] + 1}) + "\n")
        row = lambda: next(r for r in screen.table_view.rows_shown if r.path == str(a))  # noqa: E731
        await wait_until(pilot, lambda: row().step == last["step"] + 1, what="the new step in the table")
        assert len(calls) == 2


async def test_a_run_deleted_while_compared_leaves_the_overlay_and_is_marked(root: Path) -> None:
    a, b = _two_arith_runs(root, ("a", "b"), ({"seed": 1}, {"seed": 2}))
    app = TinkertopApp([root])
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await _compare(pilot, 2)
        shutil.rmtree(a)
        await wait_until(pilot, lambda: str(a) not in app.summaries, what="the run gone", timeout=30)
        await wait_until(pilot, lambda: str(a) not in screen.chart.keys, what="its line gone")
        assert list(screen.chart.keys) == [str(b)]
        await wait_until(pilot, lambda: ("a (deleted)", screen.colours[str(a)]) in screen.legend.entries)
        assert app.screen is screen and app.is_running


def test_table_cells_with_brackets_are_shown_as_written(tmp_path: Path) -> None:
    from dataclasses import replace

    from textual.widgets._data_table import default_cell_formatter

    from runner.compare import compare_table
    from tui.widgets.compare_table import CompareTableView

    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 0, "env/[math]/reward": 1.0}\n')
    (row,) = compare_table([run], ["env/[math]/reward"]).rows
    odd = replace(row, note="[/x] 1 bad line", kind="[bold]rl")
    shown = {key: str(default_cell_formatter(CompareTableView._cell(odd, key, (1, 2, 3))))
             for key in ("note", "kind")}  # fmt: skip
    assert shown == {"note": "[/x] 1 bad line", "kind": "[bold]rl"}
