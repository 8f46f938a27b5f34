"""A trajectory's transcript: system, user, assistant, tool and env messages, markdown as markdown and
code as code, thinking folded (``t`` unfolds it), tool calls, special tokens (``<|im_end|>``) hidden
unless shown. A search hit is marked above its message and scrolled to.

Long answers are the norm (thousands of tokens of markdown): the transcript is rendered to lines in a
thread worker (Rich, at the view's width) and the view draws only the lines on screen (the line API),
so neither a long text nor a resize blocks the UI. One widget per transcript, not one per block.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.geometry import Size
from textual.message import Message as TextualMessage
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

if TYPE_CHECKING:
    from runner.rollouts import Message, Trajectory

# <|im_end|>, <|eot_id|>, <｜end▁of▁sentence｜> (full-width bars)
SPECIAL = re.compile(r"<[|｜][^<>\s]{1,60}?[|｜]>")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
CONTEXT = 60  # characters of context either side of a hit
CHECK_LINES = 64  # a render asks whether it was cancelled this often (lines)
CHUNK_LINES = 40  # a long markdown text is parsed and rendered in blocks of about this many lines
PARA_CUT = 5  # a paragraph is cut (at a hard break) only past this many chunks' worth of lines
LIST_ITEM = re.compile(r"^\s*([-*+]|\d+[.)])(\s|$)")
MIN_WIDTH = 20
ROLE_VARS = {
    "system": "warning",
    "user": "primary",
    "assistant": "success",
    "tool": "accent",
    "env": "secondary",
}


def special_tokens(text: str, show: bool) -> tuple[str, int]:
    """``text`` without its special tokens (or with them as inline code), and how many it had."""
    count = len(SPECIAL.findall(text))
    if not count:
        return text, 0
    return SPECIAL.sub((lambda m: f"`{m.group(0)}`") if show else "", text), count


def escape_html(markdown: str) -> str:
    """Escape ``<`` outside code so that ``<think>`` or ``<b>`` stay visible (the markdown renderer
    drops HTML tags and what they hold would vanish from a transcript), and keep each line break of
    the text (a model's single newlines mean something: a markdown soft break would join the lines)."""
    out, fenced = [], False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            line = _escape_outside_spans(line)
            if line.strip() and not line.endswith("  "):
                line += "  "  # a hard break
        out.append(line)
    return "\n".join(out)


def _escape_outside_spans(line: str) -> str:
    parts, last = [], 0
    for match in CODE_SPAN.finditer(line):
        parts.append(line[last : match.start()].replace("<", "\\<"))
        parts.append(match.group(0))
        last = match.end()
    parts.append(line[last:].replace("<", "\\<"))
    return "".join(parts)


def as_code(text: str, lang: str = "text") -> str:
    """``text`` as a fenced code block (a fence longer than any run of backticks in it)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def hit_line(text: str, start: int, end: int) -> Text:
    """The matched text with some context either side, the match highlighted, on one line."""
    lo, hi = max(0, start - CONTEXT), min(len(text), end + CONTEXT)
    line = Text("⌕ hit: ", style="bold")
    line.append(("…" if lo else "") + text[lo:start].replace("\n", "⏎"))
    line.append(text[start:end].replace("\n", "⏎"), style="bold reverse")
    line.append(text[end:hi].replace("\n", "⏎") + ("…" if hi < len(text) else ""))
    return line


@dataclass(frozen=True)
class Spec:
    """What to draw: a trajectory and how (everything the worker needs, nothing of the widget)."""

    trajectory: Trajectory | None
    heading: str = ""
    note: str = ""
    hit: tuple[int, int, int] | None = None  # message index, start, end
    show_thinking: bool = False
    show_special: bool = False
    hit_field: str = "text"  # which of the message's texts the hit indexes: text, thinking, tool_calls


@dataclass
class Rendered:
    """A transcript as lines: ``offsets[i]`` is the first line of message ``i``; ``hit_y`` the hit's."""

    lines: list[Strip]
    offsets: list[int]
    hit_y: int | None
    hidden: int

    @property
    def text(self) -> str:
        return "\n".join(line.text.rstrip() for line in self.lines)


def field_text(message: Message, field: str) -> str:
    """The text of a message a search hit's offsets index (``Hit.field``)."""
    if field == "thinking":
        return message.thinking or ""
    if field == "tool_calls":
        return "\n".join(message.tool_calls)
    return message.text


class _Cancelled(Exception):
    """The render was replaced by a newer one (its worker cancelled)."""


def render_transcript(
    spec: Spec,
    width: int,
    colours: Mapping[str, str],
    style: Style | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Rendered | None:
    """``spec`` as Rich-rendered lines ``width`` cells wide, each under ``style`` (the view's colours),
    in a worker thread. ``cancelled`` is asked every ``CHECK_LINES`` lines (Rich renders markdown
    lazily, block by block): True stops the render and returns None."""
    try:
        return _render(spec, width, colours, style, cancelled or (lambda: False))
    except _Cancelled:
        return None


def _lines(segments: Iterable[Segment], width: int) -> Iterable[list[Segment]]:
    """Segments cut into lines (as ``Console.render_lines`` does, unpadded), lazily."""
    return Segment.split_and_crop_lines(segments, width, include_new_lines=False, pad=False)


def _render(
    spec: Spec, width: int, colours: Mapping[str, str], style: Style | None, cancelled: Callable[[], bool]
) -> Rendered:
    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    options = console.options.update_width(width)
    lines: list[Strip] = []
    offsets: list[int] = []
    hit_y: int | None = None
    hidden = 0

    def add(renderable: RenderableType) -> None:
        if cancelled():
            raise _Cancelled
        for n, segments in enumerate(_lines(console.render(renderable, options), width)):
            if n % CHECK_LINES == CHECK_LINES - 1 and cancelled():
                raise _Cancelled
            strip = Strip(segments)
            lines.append(strip.apply_style(style) if style is not None else strip)

    add(Text(spec.heading, style="bold reverse"))
    t = spec.trajectory
    if t is None:
        add(Text("no trajectory selected", style="dim"))
        return Rendered(lines, offsets, None, 0)
    if not t.has_text or not t.messages:
        note = spec.note or "no text was logged for this trajectory"
        add(Text(f"\n{note}\nIts rewards and lengths (above) come from the summaries.", style="dim"))
        return Rendered(lines, offsets, None, 0)
    for i, message in enumerate(t.messages):
        offsets.append(len(lines))
        colour = colours.get(ROLE_VARS.get(message.role, "secondary"), "")
        add(Text(f"── {message.role} " + "─" * max(0, width - len(message.role) - 4), style=f"bold {colour}"))
        if spec.hit is not None and spec.hit[0] == i:
            hit_y = len(lines)
            add(hit_line(field_text(message, spec.hit_field), spec.hit[1], spec.hit[2]))
        body, n = message_body(message, spec)
        hidden += n
        add(body)
    if hidden and not spec.show_special:
        add(Text(f"\n{hidden} special token(s) hidden (T shows them)", style="dim"))
    return Rendered(lines, offsets, hit_y, hidden)


def chunks(markdown: str, size: int | None = None) -> list[tuple[str, bool]]:
    """``markdown`` cut at blank lines (about every ``size`` lines, default ``CHUNK_LINES``) where a new
    top-level block starts (outside code fences; the next line neither indented nor a list item), so
    that a long answer renders block by block (a replaced render stops between blocks) and looks the
    same (the blank line cut becomes the gap between the chunks). A paragraph longer than ``PARA_CUT``
    chunks is also cut after a hard line break (``escape_html`` ends each line with one) before a line
    starting with a letter: the lines show the same either way. Each chunk says whether a blank line
    (a gap) comes before it."""
    size = size or CHUNK_LINES
    out: list[tuple[str, bool]] = []
    cur: list[str] = []
    fenced, gap = False, False
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        after = lines[i + 1] if i + 1 < len(lines) else ""
        if not fenced and len(cur) >= size and _cut_here(line, after, len(cur) >= size * PARA_CUT):
            if line.strip():
                cur.append(line)  # the cut is after this line (a hard break), not in place of it
            out.append(("\n".join(cur), gap))
            cur, gap = [], not line.strip()
            continue
        cur.append(line)
    return [*out, ("\n".join(cur), gap)]


def _cut_here(line: str, after: str, in_paragraph: bool) -> bool:
    if not line.strip():  # a blank line before a new top-level block
        return after[:1] not in ("", " ", "\t") and not LIST_ITEM.match(after)
    return in_paragraph and line.endswith("  ") and after[:1].isalpha()


class LazyMarkdown:
    """Markdown parsed when Rich reaches it (not when the transcript's parts are gathered)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Markdown(self.text)


def message_body(message: Message, spec: Spec) -> tuple[RenderableType, int]:
    """One message's thinking (folded or not), text and tool calls; and its special tokens hidden."""
    parts: list[RenderableType] = []
    hidden = 0
    if message.thinking:
        thinking, n = special_tokens(message.thinking, False)
        hidden += n
        if spec.show_thinking:
            parts += [Text("▾ thinking", style="italic dim"), Text(thinking, style="italic")]
        else:
            parts.append(Text(f"▸ thinking · {len(thinking)} chars (t unfolds)", style="italic dim"))
    if message.text:
        text, n = special_tokens(message.text, spec.show_special)
        hidden += 0 if spec.show_special else n
        if message.role == "env":  # feedback and reward tables: plain text, as written
            parts.append(Text(text))
        elif message.role == "tool":
            parts.append(Markdown(as_code(text)))
        else:
            for chunk, gap in chunks(escape_html(text)):
                parts += [Text(""), LazyMarkdown(chunk)] if gap else [LazyMarkdown(chunk)]
    for call in message.tool_calls:
        parts.append(Markdown(as_code(f"tool call: {call}")))
    parts.append(Text(""))
    return Group(*parts), hidden


class TranscriptView(ScrollView, can_focus=True):
    """The messages of one trajectory; ``show`` replaces them, ``toggle`` re-renders them."""

    class Built(TextualMessage):
        def __init__(self, generation: int, rendered: Rendered, keep_scroll: bool) -> None:
            super().__init__()
            self.generation, self.rendered, self.keep_scroll = generation, rendered, keep_scroll

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = Spec(None)
        self.rendered = Rendered([], [], None, 0)
        self.generation = 0  # of the latest build asked for (older results are dropped)
        self.built = -1  # the generation shown
        self._width = 0

    @property
    def trajectory(self) -> Trajectory | None:
        return self.spec.trajectory

    @property
    def hit(self) -> tuple[int, int, int] | None:
        return self.spec.hit

    @property
    def ready(self) -> bool:
        """The latest ``show``/``toggle`` is on screen."""
        return self.built == self.generation

    def show(
        self,
        trajectory: Trajectory | None,
        heading: str = "",
        note: str = "",
        hit: tuple[int, int, int] | None = None,
        hit_field: str = "text",
    ) -> None:
        """Show ``trajectory`` under ``heading``; ``note`` says why a trajectory has no text; ``hit``:
        (message, start, end) of a search hit in the message's ``hit_field`` (text, thinking or
        tool_calls), marked and scrolled to. The same again: nothing to do."""
        s = self.spec
        unfold = s.show_thinking or (hit is not None and hit_field == "thinking")  # the hit must be seen
        spec = Spec(trajectory, heading, note, hit, unfold, s.show_special, hit_field)
        if spec != self.spec or self.generation == 0:
            self.spec = spec
            self._rebuild(keep_scroll=False)

    def toggle(self, what: str) -> None:
        """Flip ``thinking`` (fold/unfold) or ``special`` (show/hide special tokens); the scroll stays."""
        s = self.spec
        if what == "thinking":
            self.spec = replace(s, show_thinking=not s.show_thinking)
        else:
            self.spec = replace(s, show_special=not s.show_special)
        self._rebuild(keep_scroll=True)

    def _rebuild(self, keep_scroll: bool) -> None:
        self.generation += 1
        width = max(MIN_WIDTH, self.scrollable_content_region.width or 80)
        self._width = width
        colours = dict(self.app.theme_variables) if self.is_attached else {}
        # the view's colours under the lines' own, applied in the worker (not per paint, not on the loop)
        self._build(self.generation, self.spec, width, colours, self.rich_style, keep_scroll)

    @work(thread=True, exclusive=True, group="transcript-build", exit_on_error=False)
    def _build(
        self, generation: int, spec: Spec, width: int, colours: dict[str, str], style: Style, keep: bool
    ) -> None:
        """Render in this thread; a newer render cancels this one (exclusive group), which then stops at
        its next check and posts nothing."""
        worker = get_current_worker()
        rendered = render_transcript(spec, width, colours, style, lambda: worker.is_cancelled)
        if rendered is not None and not worker.is_cancelled:
            self.post_message(self.Built(generation, rendered, keep))

    def on_transcript_view_built(self, message: Built) -> None:
        message.stop()
        if message.generation != self.generation:
            return  # a newer transcript was asked for
        self.rendered = message.rendered
        self.built = message.generation
        width = max((line.cell_length for line in self.rendered.lines), default=0)
        self.virtual_size = Size(width, len(self.rendered.lines))
        if self.rendered.hit_y is not None and not message.keep_scroll:
            self.scroll_to(y=max(0, self.rendered.hit_y - 2), animate=False)
        elif not message.keep_scroll:
            self.scroll_home(animate=False)
        self.refresh()

    def on_resize(self) -> None:
        width = max(MIN_WIDTH, self.scrollable_content_region.width)
        if self.generation and width != self._width:
            self._rebuild(keep_scroll=True)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        width = self.scrollable_content_region.width
        style = self.rich_style
        lines = self.rendered.lines
        if index >= len(lines):
            return Strip.blank(width, style)
        return lines[index].crop_extend(scroll_x, scroll_x + width, style)
