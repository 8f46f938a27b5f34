"""`?`: the keys of the current screen, generated from the binding table."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """A list of (keys, description, id) rows; any of escape/?/q closes it."""

    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close help", id="help.close"),
    ]

    def __init__(self, title: str, rows: list[tuple[str, str, str]]) -> None:
        super().__init__(id="help")
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _, _ in self.rows), default=4) + 2
        text = Text.assemble((self.title_text, "bold"), "\n")
        for keys, desc, bid in self.rows:
            if not keys:  # a section title
                text.append(f"\n{desc}\n", style="bold")
            else:
                text.append(f"  {keys.ljust(width)}", style="bold")
                text.append(desc)
                text.append(f"  {bid}\n", style="dim")
        text.append("\nKeys can be remapped by binding id. Press escape to close.")
        with VerticalScroll(id="help-box"):
            yield Static(text)

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)
