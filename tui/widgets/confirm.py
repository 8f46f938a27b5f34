"""Confirmation dialogs for destructive actions: they always name the run."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

_CSS = """
ConfirmModal, TypeNameModal { align: center middle; }
ConfirmModal > Vertical, TypeNameModal > Vertical {
    width: 72; height: auto; max-height: 80%; padding: 1 2;
    border: thick $error; background: $surface;
}
.confirm-title { text-style: bold; margin-bottom: 1; }
.confirm-body { margin-bottom: 1; }
.confirm-buttons { height: auto; align-horizontal: right; }
.confirm-buttons Button { margin-left: 2; }
"""


class ConfirmModal(ModalScreen[bool]):
    """Yes/no for an action on one run: ``y`` confirms, ``n`` or escape cancels (the default)."""

    DEFAULT_CSS = _CSS
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, body: str, verb: str) -> None:
        super().__init__(id="confirm-modal")
        self.title_text = title
        self.body = body
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="confirm-title", id="confirm-title", markup=False)
            yield Static(self.body, classes="confirm-body", id="confirm-body", markup=False)
            with Horizontal(classes="confirm-buttons"):
                yield Button("Cancel (n)", id="confirm-no")
                yield Button(f"{self.verb} (y)", variant="error", id="confirm-yes")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class TypeNameModal(ModalScreen[str | None]):
    """Delete-style confirmation: the user must type the run's exact name; escape cancels."""

    DEFAULT_CSS = _CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(self, title: str, body: str, name: str, verb: str = "Delete") -> None:
        super().__init__(id="type-name-modal")
        self.title_text = title
        self.body = body
        self.expected = name
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="confirm-title", id="confirm-title", markup=False)
            yield Static(self.body, classes="confirm-body", id="confirm-body", markup=False)
            yield Input(placeholder=f"type {self.expected} to confirm", id="confirm-input")
            with Horizontal(classes="confirm-buttons"):
                yield Button("Cancel (esc)", id="confirm-no")
                yield Button(self.verb, variant="error", id="confirm-yes", disabled=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def matches(self) -> bool:
        return self.query_one(Input).value == self.expected

    @on(Input.Changed)
    def _typed(self) -> None:
        self.query_one("#confirm-yes", Button).disabled = not self.matches()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        if self.matches():
            self.dismiss(self.expected)
        else:
            self.notify(f"type exactly {self.expected!r} to confirm", severity="warning", markup=False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes" and self.matches():
            self.dismiss(self.expected)
        elif event.button.id == "confirm-no":
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
