"""Metric search: type to filter the key list, space/enter to pick keys to overlay."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, SelectionList


class MetricPicker(Vertical):
    """A filter box over a multi-select list of metric keys."""

    class Changed(Message):
        """The picked keys changed."""

        def __init__(self, keys: list[str]) -> None:
            super().__init__()
            self.keys = keys

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.all_keys: list[str] = []
        self.picked: list[str] = []
        self.needle = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search metrics", id="metric-search")
        yield SelectionList[str](id="metric-list")

    def set_keys(self, keys: list[str], picked: list[str] | None = None) -> None:
        """All metric keys of the run; new keys are appended without resetting the list."""
        if picked is not None:
            self.picked = list(picked)
        old = set(self.all_keys)
        self.all_keys = sorted(keys) if not old else self.all_keys + [k for k in keys if k not in old]
        if picked is not None or not old:
            self.all_keys = sorted(keys)
            self._rebuild()
            return
        listing = self.query_one(SelectionList)
        for key in self.all_keys:
            if key not in old and self._matches(key):
                listing.add_option((key, key, key in self.picked))

    def _matches(self, key: str) -> bool:
        return all(part in key.lower() for part in self.needle.lower().split())

    def _rebuild(self) -> None:
        listing = self.query_one(SelectionList)
        with listing.prevent(SelectionList.SelectedChanged):
            listing.clear_options()
            listing.add_options([(k, k, k in self.picked) for k in self.all_keys if self._matches(k)])
        if listing.option_count:
            shown = [k for k in self.all_keys if self._matches(k)]
            first = next((i for i, k in enumerate(shown) if k in self.picked), 0)
            listing.highlighted = first

    @on(Input.Changed, "#metric-search")
    def _search(self, event: Input.Changed) -> None:
        self.needle = event.value
        self._rebuild()

    @on(Input.Submitted, "#metric-search")
    def _search_done(self) -> None:
        self.query_one(SelectionList).focus()

    @on(SelectionList.SelectedChanged)
    def _picked(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        shown = {k for k in self.all_keys if self._matches(k)}
        selected = set(self.query_one(SelectionList).selected)
        kept = [k for k in self.picked if k not in shown]
        new = kept + [k for k in self.all_keys if k in selected]
        if new != self.picked:
            self.picked = new
            self.post_message(self.Changed(list(new)))
