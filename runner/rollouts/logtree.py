"""Walk a cookbook logtree (``Trace.to_dict()`` shape) into groups of transcripts and episodes.

The same walker reads the JSON the cookbook writes (``*_logtree.json``, text children HTML-escaped)
and the tree ``flat_html`` builds from the older HTML files (text already unescaped). Node shape:
``{"tag", "attrs", "children": [node | str], "data"?}``.

What it finds in each group section (``Group Rollout``, older ``do_group_rollout``):
- transcripts in the order the file holds them (completion order in the current layout): a new one
  starts at each ``Prompt`` section (current) or ``do_single_rollout`` section (older); conversation
  payloads become messages, key/value tables become reward components, paragraphs become env text
  (``Prompt:``/``Response:`` paragraphs of the older layout become user/assistant messages);
- episodes from ``Trajectory Details`` (current: per turn ``Step stats``, ``Step Metrics``,
  ``Diagnostics``) or ``Trajectory Summary`` (older: one table per trajectory).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from runner.rollouts.conversation import conversation
from runner.rollouts.trajectory import Message, RolloutError

KNOWN_TAGS = frozenset(
    "body h1 h2 h3 h4 h5 h6 p div section details summary pre table thead tbody tr th td span".split()
)
GROUP_TITLES = ("Group Rollout", "do_group_rollout")
_EPISODE = re.compile(r"^Trajectory (\d+)(?: Episode)?$")
_TURN = re.compile(r"^Turn (\d+)$")
_LABEL = re.compile(r"^([A-Za-z][A-Za-z0-9 _()/.-]{0,40}):\s?(.*)$", re.S)
USER_LABELS = ("prompt", "problem", "question", "input", "user")
ASSISTANT_LABELS = ("response", "completion", "output", "answer", "assistant")


@dataclass
class Transcript:
    """One logged transcript of a group (file order)."""

    messages: list[Message] = field(default_factory=list)
    table: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # older layout's "Key: value" paragraphs


@dataclass
class Episode:
    """One trajectory's numbers from the details section."""

    index: int
    step_rewards: list[float] = field(default_factory=list)
    tokens: int | None = None
    total: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    env_text: list[Message] = field(default_factory=list)


@dataclass
class GroupLog:
    transcripts: list[Transcript] = field(default_factory=list)
    episodes: dict[int, Episode] = field(default_factory=dict)


@dataclass
class TreeLog:
    title: str = ""
    groups: list[GroupLog] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)


class _Walker:
    def __init__(self, source: str, escaped: bool) -> None:
        self.source = source
        self.escaped = escaped

    def check(self, node: Any, where: str) -> dict[str, Any]:
        if not isinstance(node, dict) or not isinstance(node.get("tag"), str):
            raise RolloutError(f"{self.source}: not a logtree node at {where}")
        if node["tag"] not in KNOWN_TAGS:
            raise RolloutError(f"{self.source}: unknown logtree node <{node['tag']}> at {where}")
        if not isinstance(node.get("children", []), list):
            raise RolloutError(f"{self.source}: logtree node at {where} has no list of children")
        return node

    def text(self, node: Any) -> str:
        """The text of a node (or string), HTML-unescaped when the tree holds escaped text."""
        if isinstance(node, str):
            return html.unescape(node) if self.escaped and "&" in node else node
        if not isinstance(node, dict):
            return ""
        parts = []
        for child in node.get("children", ()):
            if isinstance(child, str):
                parts.append(html.unescape(child) if self.escaped and "&" in child else child)
            else:
                parts.append(self.text(child))
        return "".join(parts)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        lowered = text.strip().lower()
        return {"true": 1.0, "false": 0.0}.get(lowered)


def _tag(node: Any) -> str:
    return str(node.get("tag")) if isinstance(node, dict) else ""


def _children(node: dict[str, Any]) -> list[Any]:
    children = node.get("children", [])
    return children if isinstance(children, list) else []


def _classes(node: dict[str, Any]) -> list[str]:
    attrs = node.get("attrs") or {}
    return str(attrs.get("class", "")).split() if isinstance(attrs, dict) else []


def _section_parts(w: _Walker, node: dict[str, Any]) -> tuple[str, list[Any]]:
    """A section's title (its h1..h6 child) and the children of its body (or its other children)."""
    title, body = "", []
    for child in _children(node):
        if isinstance(child, dict) and re.fullmatch(r"h[1-6]", str(child.get("tag"))) and not title:
            title = w.text(child).strip()
        elif isinstance(child, dict) and "lt-section-body" in _classes(child):
            body.extend(_children(child))
        else:
            body.append(child)
    return title, body


def table_rows(w: _Walker, node: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A table's header cells and body rows, as stripped text."""
    header: list[str] = []
    rows: list[list[str]] = []
    for part in _children(node):
        if not isinstance(part, dict):
            continue
        for tr in _children(part) if part.get("tag") in ("thead", "tbody") else [part]:
            if not isinstance(tr, dict) or tr.get("tag") != "tr":
                continue
            cells = [w.text(c).strip() for c in _children(tr) if isinstance(c, dict)]
            is_head = part.get("tag") == "thead" or all(
                isinstance(c, dict) and c.get("tag") == "th" for c in _children(tr)
            )
            if is_head and not header:
                header = cells
            else:
                rows.append(cells)
    return header, rows


def _as_pairs(rows: list[list[str]]) -> dict[str, str]:
    return {r[0]: r[1] for r in rows if len(r) >= 2}


def walk(tree: Any, source: str, escaped: bool = True) -> TreeLog:
    """The groups of a logtree document (``{"title", "root", ...}``) or of a bare root node."""
    w = _Walker(source, escaped)
    if not isinstance(tree, dict):
        raise RolloutError(f"{source}: a logtree is a JSON object, not {type(tree).__name__}")
    root = tree.get("root", tree) if "tag" not in tree else tree
    out = TreeLog(title=str(tree.get("title", "")))
    _visit(w, w.check(root, "root"), "root", out)
    return out


def _visit(w: _Walker, node: dict[str, Any], where: str, out: TreeLog) -> None:
    for i, child in enumerate(_children(node)):
        if isinstance(child, str):
            continue
        here = f"{where}/{i}"
        child = w.check(child, here)
        if child["tag"] == "details" and "lt-exc" in _classes(child):
            out.exceptions.append(w.text(child).strip().splitlines()[0] if w.text(child).strip() else "")
            continue
        if child["tag"] == "section":
            title, body = _section_parts(w, child)
            if title in GROUP_TITLES:
                out.groups.append(_group(w, body, here))
                continue
        _visit(w, child, here, out)


def _group(w: _Walker, body: list[Any], where: str) -> GroupLog:
    group = GroupLog()
    state = _Pending(group)
    for i, child in enumerate(body):
        if isinstance(child, dict):
            _group_item(w, w.check(child, f"{where}/{i}"), f"{where}/{i}", state)
    return group


class _Pending:
    """The transcript being filled while walking a group's body."""

    def __init__(self, group: GroupLog) -> None:
        self.group = group
        self.current: Transcript | None = None

    def start(self) -> Transcript:
        self.current = Transcript()
        self.group.transcripts.append(self.current)
        return self.current

    def get(self) -> Transcript:
        return self.current if self.current is not None else self.start()


def _group_item(w: _Walker, node: dict[str, Any], where: str, state: _Pending) -> None:
    if node["tag"] == "section":
        title, body = _section_parts(w, node)
        if title in ("Trajectory Details", "Trajectory Summary"):
            _episodes(w, body, where, state.group)
            return
        if title in ("Prompt", "do_single_rollout"):
            state.start()
        for i, child in enumerate(body):
            if isinstance(child, dict):
                _group_item(w, w.check(child, f"{where}/{i}"), f"{where}/{i}", state)
        return
    for kind, value in _items(w, node, where):
        _add_item(state.get(), kind, value)


def _add_item(tr: Transcript, kind: str, value: Any) -> None:
    if kind == "messages":
        tr.messages.extend(value)
    elif kind == "pairs":
        tr.table.update(value)
    elif kind == "text":
        match = _LABEL.match(value)
        label = match.group(1).strip().lower() if match else ""
        if match and label in USER_LABELS + ASSISTANT_LABELS:
            role = "user" if label in USER_LABELS else "assistant"
            tr.messages.append(Message(role, match.group(2).strip()))
        else:
            if match:
                tr.labels[match.group(1).strip()] = match.group(2).strip()
            tr.messages.append(Message("env", value))


def _items(w: _Walker, node: dict[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    """Conversations, key/value tables and text of a node, in document order."""
    data = node.get("data")
    if isinstance(data, dict):
        if data.get("type") == "conversation":
            yield "messages", conversation(data)
        else:
            yield "text", json.dumps(data, ensure_ascii=False)
        return
    if node["tag"] == "table":
        header, rows = table_rows(w, node)
        yield "pairs", _as_pairs(rows) if len(header) <= 2 else {" ".join(r): "" for r in rows}
        return
    classes = _classes(node)
    if "lt-table-caption" in classes or "lt-subtitle" in classes:
        return
    if node["tag"] in ("p", "pre", "details") or not any(isinstance(c, dict) for c in _children(node)):
        text = w.text(node).strip()
        if text:
            yield "text", text
        return
    for i, child in enumerate(_children(node)):
        if isinstance(child, dict):
            yield from _items(w, w.check(child, f"{where}/{i}"), f"{where}/{i}")


def _episodes(w: _Walker, body: list[Any], where: str, group: GroupLog) -> None:
    caption = ""
    for i, child in enumerate(body):
        if not isinstance(child, dict):
            continue
        child = w.check(child, f"{where}/{i}")
        if "lt-table-caption" in _classes(child):
            caption = w.text(child).strip()
        elif child["tag"] == "table":
            match = _EPISODE.match(caption)
            if match:  # older layout: one table per trajectory, rows step | ob_len | ac_len | reward
                group.episodes[int(match.group(1))] = _summary_table(w, child, int(match.group(1)))
        elif child["tag"] == "section":
            title, inner = _section_parts(w, child)
            match = _EPISODE.match(title)
            if match:
                group.episodes[int(match.group(1))] = _episode(w, inner, int(match.group(1)))


def _summary_table(w: _Walker, node: dict[str, Any], index: int) -> Episode:
    header, rows = table_rows(w, node)
    col = {name: k for k, name in enumerate(header)}
    ep = Episode(index)
    tokens = 0
    for row in rows:
        reward = _number(row[col["reward"]]) if "reward" in col and len(row) > col["reward"] else None
        if row and row[0] == "total":
            ep.total = reward
        elif row and row[0] != "final":
            ep.step_rewards.append(reward if reward is not None else float("nan"))
            if "ac_len" in col and len(row) > col["ac_len"]:
                tokens += int(_number(row[col["ac_len"]]) or 0)
    ep.tokens = tokens
    return ep


def _episode(w: _Walker, body: list[Any], index: int) -> Episode:
    ep = Episode(index)
    for node in _flatten_sections(w, body):
        title, inner = node
        turn = _TURN.match(title)
        if turn:
            _turn(w, inner, int(turn.group(1)), ep)
        elif title == "Episode Details":
            continue
        else:
            for pairs in _tables(w, inner):
                if "total_return" in pairs:
                    ep.total = _number(pairs["total_return"])
    return ep


def _flatten_sections(w: _Walker, body: list[Any]) -> Iterator[tuple[str, list[Any]]]:
    """Sections at any depth below ``body`` (not inside Turn sections), plus a pseudo-section for
    the direct tables (title "")."""
    loose = []
    for child in body:
        if isinstance(child, dict) and child.get("tag") == "section":
            title, inner = _section_parts(w, child)
            yield title, inner
            if not _TURN.match(title):
                yield from _flatten_sections(w, inner)
        else:
            loose.append(child)
    yield "", loose


def _tables(w: _Walker, body: list[Any]) -> Iterator[dict[str, str]]:
    for child in body:
        if isinstance(child, dict) and child.get("tag") == "table":
            yield _as_pairs(table_rows(w, child)[1])


def _turn(w: _Walker, body: list[Any], turn: int, ep: Episode) -> None:
    lines = []
    for pairs in _tables(w, body):
        if "step_reward" in pairs:
            reward = _number(pairs["step_reward"])
            ep.step_rewards.append(reward if reward is not None else float("nan"))
            ep.tokens = (ep.tokens or 0) + int(_number(pairs.get("ac_len", "0")) or 0)
    for child in body:
        if isinstance(child, dict) and child.get("tag") == "section":
            title, inner = _section_parts(w, child)
            if title == "Step Metrics":
                for pairs in _tables(w, inner):
                    ep.metrics.update({k: n for k, v in pairs.items() if (n := _number(v)) is not None})
            elif title == "Diagnostics":
                lines.extend(_diagnostics(w, inner, ep))
    if lines:
        ep.env_text.append(Message("env", f"Turn {turn}\n" + "\n".join(lines)))


def _diagnostics(w: _Walker, body: list[Any], ep: Episode) -> list[str]:
    lines = []
    for child in body:
        if not isinstance(child, dict):
            continue
        if child.get("tag") == "details":
            summary = next((c for c in _children(child) if _tag(c) == "summary"), None)
            key = w.text(summary).strip() if summary else "details"
            value = "".join(w.text(c) for c in _children(child) if c is not summary).strip()
        else:
            key, _, value = w.text(child).strip().partition(": ")
        ep.logs[key] = value
        lines.append(f"{key}: {value}")
    return lines
