"""Keys remapped in the workspace's tinkertop.toml act, and the help screen and the footer show them."""

from __future__ import annotations

from pathlib import Path

from textual.keys import Keys

from runner.keymap import key_problem
from tests.app.conftest import FIXED_MTIME, FROZEN_NOW, copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.screens.help import HelpScreen, binding_ids
from tui.widgets.run_table import RunTable


def workspace(tmp_path: Path, toml: str) -> Path:
    """``tmp_path`` as a workspace: ``tinkertop.toml`` beside ``results/logs`` holding three runs."""
    logs = tmp_path / "results" / "logs"
    logs.mkdir(parents=True)
    for i, name in enumerate(("rl_arith", "dpo_local", "sl_conversations")):
        copy_run(name, logs, mtime=FIXED_MTIME + 60 * i)
    (tmp_path / "tinkertop.toml").write_text(toml)
    return logs


def footer_line(app: TinkertopApp) -> str:
    return screen_text(app).rstrip("\n").splitlines()[-1]


def notes(app: TinkertopApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_remapped_sort_key_sorts_and_shows_in_help_and_footer(tmp_path: Path) -> None:
    logs = workspace(tmp_path, '[alerts.spike]\nwarn = 7\n\n[keys]\n"runs.sort" = "o"\n')
    app = TinkertopApp([logs], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 3, what="three runs")
        await wait_until(pilot, app.keys_loaded.is_set, what="keys loaded")
        await pilot.pause()
        table = app.runs_screen.query_one(RunTable)
        names = lambda: [Path(p).name for p in table._order]  # noqa: E731
        assert names() == ["sl_conversations", "dpo_local", "rl_arith"]  # newest first
        await pilot.press("s")  # no longer the sort key
        assert names() == ["sl_conversations", "dpo_local", "rl_arith"]
        await pilot.press("o")  # sort: name
        assert names() == ["dpo_local", "rl_arith", "sl_conversations"]
        assert "sort: name" in screen_text(app)
        footer = footer_line(app)
        assert " o Sort" in footer and " s Sort" not in footer, footer
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.pause()
        row = next(line for line in screen_text(app).splitlines() if "runs.sort" in line)
        assert row.split()[1:4] == ["o", "Sort", "runs.sort"], row  # inside the box: "│ o  Sort  runs.sort"
        assert not [n for n in notes(app) if "key remapping" in n]


async def test_unmapped_footer_shows_the_default_key(tmp_path: Path) -> None:
    logs = workspace(tmp_path, "[notify]\nbell = false\n")
    app = TinkertopApp([logs], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.keys_loaded.is_set(), what="loaded")
        await pilot.pause()
        assert " s Sort" in footer_line(app)


async def test_bad_entries_are_a_notification_naming_file_and_line_and_the_good_ones_apply(
    tmp_path: Path,
) -> None:
    logs = workspace(tmp_path, '[keys]\n"runs.sortt" = "p"\n"app.quit" = "ctlr+q"\n"runs.sort" = "o"\n')
    app = TinkertopApp([logs], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.keys_loaded.is_set(), what="loaded")
        text = await wait_until(pilot, lambda: "\n".join(n for n in notes(app) if "tinkertop.toml" in n))
        path = tmp_path / "tinkertop.toml"
        assert f"{path}: line 2: unknown binding id 'runs.sortt'" in str(text)
        assert f"{path}: line 3: unknown modifier 'ctlr'" in str(text)
        await pilot.pause()
        assert " o Sort" in footer_line(app)
        assert app.is_running  # the app stays up, `q` still quits
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="quit")


def test_binding_ids_cover_every_screen_and_widget() -> None:
    ids = binding_ids()
    for bid in ("app.quit", "runs.sort", "run.tab_charts", "alerts.ack", "help.close", "confirm.yes",
                "launch.go", "run.stop_run", "runs.delete_run", "chart.ema"):  # fmt: skip
        assert bid in ids, bid


def test_every_textual_key_and_every_default_binding_key_is_a_valid_key_name() -> None:
    odd = ("ctrl+@", "ctrl-at")  # Textual's own aliases of ctrl+space, not names a binding uses
    names = {k.value for k in Keys if not k.value.startswith("<") and k.value not in odd}
    assert [k for k in names if key_problem(k)] == []
    from textual.binding import Binding
    from textual.dom import DOMNode

    binding_ids()  # imports every screen and widget module
    classes: list[type] = [DOMNode]
    defaults: set[str] = set()
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls.__module__.startswith("tui."):
            for b in cls.__dict__.get("BINDINGS", []):
                if isinstance(b, Binding):
                    defaults.update(k.strip() for k in b.key.split(","))
    assert "s" in defaults and "question_mark" in defaults
    assert [k for k in defaults if key_problem(k)] == []


async def test_a_message_with_brackets_is_shown_as_written(tmp_path: Path) -> None:
    logs = workspace(tmp_path, 'keys = "o"\n')
    app = TinkertopApp([logs], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.keys_loaded.is_set(), what="loaded")
        await wait_until(pilot, lambda: any("tinkertop.toml" in n for n in notes(app)), what="the message")
        (note,) = [n for n in app._notifications if "tinkertop.toml" in str(n.message)]
        assert not note.markup  # "[keys]" is text, not a style tag the toast would swallow
        assert "line 1: [keys] must be a table" in str(note.message)


async def test_a_remapped_key_taken_from_another_binding_is_a_warning(tmp_path: Path) -> None:
    logs = workspace(tmp_path, '[keys]\n"runs.sort" = "slash"\n')
    app = TinkertopApp([logs], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded and app.keys_loaded.is_set(), what="loaded")
        await wait_until(
            pilot, lambda: any("runs.filter lost its key" in n for n in notes(app)), what="taken"
        )
        table = app.runs_screen.query_one(RunTable)
        before = list(table._order)
        await pilot.press("slash")  # sorts now (by name), no filter opens
        await wait_until(pilot, lambda: "sort: name" in screen_text(app), what="sorted")
        assert list(table._order) != before
        assert len([n for n in notes(app) if "lost its key" in n]) == 1  # said once, naming only it
        assert [n for n in notes(app) if "lost its key" in n][0].startswith("key remapping: runs.filter lost")
