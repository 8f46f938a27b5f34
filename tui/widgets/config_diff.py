"""The compare view's config diff: the flattened config keys that differ across the runs (added,
removed and changed marked; all keys on request), and below, each run's git commit and code diff
side by side, each in its own scrollable column; and the picker of a differing key to group by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import HorizontalScroll, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, OptionList, Static

from runner.compare import ConfigDiff
from runner.compare.diff import format_value
from tui.format import middle_cut
from tui.widgets.compare_chart import RGB, swatch

# change -> (mark, theme variable)
CHANGES = {
    "added": ("+", "success"),
    "removed": ("-", "error"),
    "changed": ("~", "warning"),
    "same": (" ", ""),
}
VALUE_WIDTH = 24
MAX_CODE_PANES = 12  # code diffs side by side at most (the first runs); the note says so


def diff_title(diff: ConfigDiff, all_keys: bool) -> str:
    """What the pane shows: how many keys, and how many differ."""
    differing = sum(1 for r in diff.rows if r.change != "same")
    if all_keys:
        return f"config: all {len(diff.rows)} keys ({differing} differ; a: only those that differ)"
    if not diff.rows:
        return "config: no key differs across these runs (a: all keys)"
    return f"config: {differing} keys differ (+ added, - removed, ~ changed; a: all keys)"


class ConfigDiffPane(Vertical):
    """Keys table on top, commits and code diffs below."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.diff: ConfigDiff | None = None
        self.all_keys = False
        self.title = Static("config: reading…", id="diff-title", markup=False)
        self.keys = DataTable[Text | str](id="diff-keys", cursor_type="row", zebra_stripes=True)
        self.code = HorizontalScroll(id="diff-code")

    def compose(self) -> ComposeResult:
        yield self.title
        yield self.keys
        yield self.code

    def show(self, diff: ConfigDiff, colours: Mapping[str, RGB]) -> None:
        """A new diff (the first one, or after ``a`` toggled all keys)."""
        self.diff = diff
        self.title.update(diff_title(diff, self.all_keys))
        self._keys(diff, colours)
        self._code(diff, colours)

    def rows_shown(self) -> list[str]:
        """The keys in the table, in order."""
        return [str(k.value) for k in self.keys.rows]

    def _keys(self, diff: ConfigDiff, colours: Mapping[str, RGB]) -> None:
        table = self.keys
        table.clear(columns=True)
        table.add_column("", key="change", width=1)
        table.add_column("key", key="key")
        for i, name in enumerate(diff.runs):
            colour = colours.get(diff.paths[i], (128, 128, 128)) if i < len(diff.paths) else (128, 128, 128)
            table.add_column(swatch(colour, middle_cut(name, VALUE_WIDTH)), key=f"run{i}")
        for row in diff.rows:
            mark, variable = CHANGES.get(row.change, ("?", "warning"))
            style = self._style(variable)
            cells: list[Text | str] = [Text(mark, style=style + Style(bold=True)), Text(row.key, style=style)]
            cells += [Text(middle_cut(format_value(v), VALUE_WIDTH)) for v in row.values]  # never markup
            table.add_row(*cells, key=row.key)

    def _code(self, diff: ConfigDiff, colours: Mapping[str, RGB]) -> None:
        self.code.remove_children()
        panes = []
        for i, name in enumerate(diff.runs[:MAX_CODE_PANES]):
            colour = colours.get(diff.paths[i], (128, 128, 128)) if i < len(diff.paths) else (128, 128, 128)
            head = swatch(colour, name)
            head.append(f"\ncommit {diff.commits[i] or 'not recorded'}\n", style="bold")
            body = diff.code_diffs[i]
            head.append(body if body is not None else "no code diff recorded (code.diff)")
            panes.append(VerticalScroll(Static(head, markup=False), classes="code-pane"))
        if len(diff.runs) > MAX_CODE_PANES:
            more = f"and {len(diff.runs) - MAX_CODE_PANES} more runs: compare fewer to see their code"
            panes.append(VerticalScroll(Static(more, markup=False), classes="code-pane"))
        for note in diff.notes[:1]:
            panes.append(VerticalScroll(Static(f"⚠ {note}", markup=False), classes="code-pane"))
        self.code.mount_all(panes)

    def _style(self, variable: str) -> Style:
        value = self.app.theme_variables.get(variable) if variable else None
        return Style(color=Color.parse(value).rich_color) if value else Style()


class GroupPicker(ModalScreen[str | None]):
    """Pick the config key to group by (the keys that differ across the runs); escape: no change."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="compare.group_cancel")]

    def __init__(self, keys: list[str], current: str | None) -> None:
        super().__init__(id="group-picker")
        self.keys = keys
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="group-box"):
            yield Static("Group by which config key? (enter picks, escape cancels)", markup=False)
            yield OptionList("(no grouping)", *self.keys, id="group-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = self.keys.index(self.current) + 1 if self.current in self.keys else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss("" if event.option_index == 0 else self.keys[event.option_index - 1])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
