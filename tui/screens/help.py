"""`?`: the keys of the current screen from the binding tables (as remapped by ``[keys]``), and the
binding ids every screen and widget has (what ``[keys]`` may remap)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static

REMAP_HINT = 'Keys can be remapped by binding id: [keys] in tinkertop.toml, e.g. "runs.sort" = "o".'


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
        text.append(f"\n{REMAP_HINT}\nPress escape to close.")
        with VerticalScroll(id="help-box"):
            yield Static(text)


def help_for(app: App[Any]) -> HelpScreen:
    """The help of the top screen: its keys, the app's and the focused widget's, as remapped."""
    screen = app.screen
    rows: list[tuple[str, str, str]] = []
    for title, node in (("this screen", screen), ("everywhere", app), ("focused widget", screen.focused)):
        if node is None:
            continue
        section = binding_rows(app, node)
        if section:
            rows.append(("", title, ""))
            rows.extend(section)
    return HelpScreen(f"Keys: {screen.id or 'screen'}", rows)


def binding_rows(app: App[Any], node: DOMNode) -> list[tuple[str, str, str]]:
    """One row per action of ``node``'s bindings: all its keys, its description and binding id."""
    by_action: dict[str, list[Binding]] = {}
    table = node._bindings.copy()
    table.apply_keymap(app._keymap)  # the keys as remapped in tinkertop.toml
    for bindings in table.key_to_bindings.values():
        for binding in bindings:
            if binding.description:
                by_action.setdefault(binding.action, []).append(binding)
    rows = []
    for group in by_action.values():
        main = next((b for b in group if b.id), group[0])
        keys = ",".join(dict.fromkeys(app.get_key_display(b) for b in group))
        rows.append((keys, main.description, main.id or ""))
    return rows


def binding_ids() -> set[str]:
    """Every binding id of the app, its screens and widgets (imports the screens the app loads lazily:
    called only when ``tinkertop.toml`` remaps keys, in a worker)."""
    import importlib
    import pkgutil

    import tui.screens
    import tui.widgets

    for package in (tui.screens, tui.widgets):
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    ids: set[str] = set()
    for cls in tui_classes():
        ids.update(b.id for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and b.id)
    return ids


def tui_classes() -> list[type[DOMNode]]:
    """The app's, screens' and widgets' classes (those imported so far)."""
    found: list[type[DOMNode]] = []
    classes: list[type[DOMNode]] = [DOMNode]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls.__module__.startswith("tui."):
            found.append(cls)
    return found


def keys_taken(keymap: dict[str, str]) -> list[str]:
    """The bindings (id, else action) that ``keymap`` leaves without a key: a remapped key that another
    binding of the same screen or widget had replaces it (Textual's own rule, applied here to say so)."""
    normal = App._normalize_keymap(keymap)
    lost: set[str] = set()
    for cls in tui_classes():
        table = cls._merged_bindings
        if table is None:
            continue
        remapped = table.copy()
        remapped.apply_keymap(normal)
        before = {b.id or b.action for bindings in table.key_to_bindings.values() for b in bindings}
        after = {b.id or b.action for bindings in remapped.key_to_bindings.values() for b in bindings}
        lost |= before - after
    return sorted(lost)
