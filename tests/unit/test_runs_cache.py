"""The columnar metrics cache: hit, appended, truncated, replaced, rewritten, corrupt, off."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner.runs import cache
from runner.runs.folder import RunFolder
from runner.runs.jsonl import JsonlTail
from tests.unit.table_state import state


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINKERTOP_METRICS_CACHE", raising=False)
    monkeypatch.setattr(cache, "SAVE_MIN_BYTES", 1)  # small test files are cached too
    return tmp_path / "cache"


def lines(start: int, stop: int, tag: str = "a") -> str:
    """Rows with ints, floats, a NaN, strings, booleans, null, a sparse key and a bad line."""
    out = []
    for i in range(start, stop):
        row = {"step": i, "loss": 1.0 / (i + 1), "n": i * 2, "tag": tag, "ok": i % 2 == 0, "none": None}
        if i % 7 == 3:
            row["eval/acc"] = i / 100
        out.append(json.dumps(row))
        if i == 5:
            out.append('{"step": 5, "kl": NaN}')
            out.append("{not json")
    return "\n".join(out) + "\n"


def run_dir(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    (folder / "metrics.jsonl").write_text(text)
    return folder


def read(folder: Path) -> RunFolder:
    run = RunFolder(folder)
    run.refresh()
    return run


def outcome(run: RunFolder) -> str:
    assert run._cache is not None
    return run._cache.outcome


def test_unchanged_file_is_a_hit_with_the_same_table(tmp_path: Path) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    first = read(folder)
    assert outcome(first) == "miss"
    assert cache.entry_path(folder / "metrics.jsonl").exists()
    again = read(folder)
    assert outcome(again) == "hit"
    assert state(again.table) == state(first.table)
    assert again.table.bad[0].line == 8  # "{not json": line numbers survive the cache


def test_a_folder_in_the_variable_holds_the_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``TINKERTOP_METRICS_CACHE=<folder>`` (what the test suite sets) puts the entries there, not in
    ``$TINKERTOP_CACHE/metrics``; the entry is used again from there."""
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("TINKERTOP_METRICS_CACHE", str(elsewhere))
    folder = run_dir(tmp_path, lines(0, 40))
    assert outcome(read(folder)) == "miss"
    assert [p.parent for p in elsewhere.glob("*.ttmc")] == [elsewhere]
    assert not (tmp_path / "cache" / "metrics").exists()
    assert outcome(read(folder)) == "hit"


def test_hit_parses_no_line_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    read(folder)
    parsed: list[int] = []
    real = JsonlTail._parse_into
    monkeypatch.setattr(
        JsonlTail, "_parse_into", lambda self, ls, b: (parsed.append(len(ls)), real(self, ls, b))
    )
    assert outcome(read(folder)) == "hit"
    assert parsed == []


def test_appended_lines_are_read_after_the_cached_rows(tmp_path: Path) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    read(folder)
    with (folder / "metrics.jsonl").open("a") as fh:
        fh.write(lines(40, 50))
    again = read(folder)
    assert outcome(again) == "hit"
    cached_state = state(again.table)
    (tmp_path / "cache").rename(tmp_path / "cache-off")
    assert state(read(folder).table) == cached_state
    assert again.table.last_step == 49


def test_truncated_file_is_read_from_the_start(tmp_path: Path) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    read(folder)
    with (folder / "metrics.jsonl").open("r+") as fh:  # same inode, shorter, other content
        fh.truncate(0)
        fh.write(lines(0, 3, tag="b"))
    again = read(folder)
    assert outcome(again) == "stale: truncated"
    assert again.table.last_step == 2 and again.table.latest()["tag"] == "b"
    assert not cache.entry_path(folder / "metrics.jsonl").exists() or outcome(read(folder)) == "hit"


def test_replaced_file_is_read_from_the_start(tmp_path: Path) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    read(folder)
    new = tmp_path / "new.jsonl"
    new.write_text(lines(0, 40, tag="c"))  # same size, another inode
    os.replace(new, folder / "metrics.jsonl")
    again = read(folder)
    assert outcome(again) == "stale: replaced"
    assert again.table.latest()["tag"] == "c"


def test_rewritten_in_place_is_read_from_the_start(tmp_path: Path) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    read(folder)
    path = folder / "metrics.jsonl"
    with path.open("r+") as fh:  # same inode, same size, other bytes
        fh.write(lines(0, 40, tag="d"))
    again = read(folder)
    assert outcome(again) == "stale: rewritten"
    assert again.table.latest()["tag"] == "d"


@pytest.mark.parametrize("damage", ["flip", "cut", "garbage", "empty"])
def test_corrupt_entry_is_discarded_and_the_file_read(tmp_path: Path, damage: str) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    expected = state(read(folder).table)
    entry = cache.entry_path(folder / "metrics.jsonl")
    data = bytearray(entry.read_bytes())
    if damage == "flip":
        data[-5] ^= 0xFF
    elif damage == "cut":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"TTMC" + os.urandom(200))
    else:
        data = bytearray()
    entry.write_bytes(bytes(data))
    again = read(folder)
    assert outcome(again).startswith("corrupt")
    assert state(again.table) == expected
    assert outcome(read(folder)) == "hit"  # written again after the full read


def test_sparse_steps_and_counter_rows_round_trip(tmp_path: Path) -> None:
    rows = [{"step": s, "x": float(s)} for s in (10, 3, 50, 3, 7)]
    rows += [{"progress/batch": b, "y": b} for b in (0, 1, 0)]  # no step: a counter, restarted
    folder = run_dir(tmp_path, "".join(json.dumps(r) + "\n" for r in rows))
    first = read(folder)
    again = read(folder)
    assert outcome(again) == "hit"
    assert state(again.table) == state(first.table)
    with (folder / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 3, "x": -1.0}) + "\n")  # merges into a cached row
    assert read(folder).table.column("x")[1][0] == -1.0


def test_cache_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_METRICS_CACHE", "0")
    folder = run_dir(tmp_path, lines(0, 40))
    read(folder)
    assert outcome(read(folder)) == "miss"
    assert not cache.entry_path(folder / "metrics.jsonl").exists()


def test_small_files_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "SAVE_MIN_BYTES", 1 << 20)
    folder = run_dir(tmp_path, lines(0, 40))
    read(folder)
    assert not cache.entry_path(folder / "metrics.jsonl").exists()


def test_prune_keeps_the_most_recently_used(tmp_path: Path) -> None:
    folder = tmp_path / "entries"
    folder.mkdir()
    for n in range(5):
        entry = folder / f"{n}.ttmc"
        entry.write_bytes(b"x")
        os.utime(entry, (1000 + n, 1000 + n))
    assert cache.prune_once(folder, keep=2) == 3
    assert sorted(p.name for p in folder.iterdir()) == ["3.ttmc", "4.ttmc"]


def test_prune_keeps_the_cache_under_its_byte_budget(tmp_path: Path) -> None:
    folder = tmp_path / "entries"
    folder.mkdir()
    for n in range(4):
        entry = folder / f"{n}.ttmc"
        entry.write_bytes(b"x" * 100)
        os.utime(entry, (1000 + n, 1000 + n))
    assert cache.prune_once(folder, keep=10, max_bytes=250) == 2
    assert sorted(p.name for p in folder.iterdir()) == ["2.ttmc", "3.ttmc"]


def test_damaged_header_is_discarded_and_the_file_read(tmp_path: Path) -> None:
    folder = run_dir(tmp_path, lines(0, 40))
    expected = state(read(folder).table)
    entry = cache.entry_path(folder / "metrics.jsonl")
    data = entry.read_bytes()
    n_lines = b'"n_lines":'
    at = data.index(n_lines) + len(n_lines)  # the count of lines read: a digit changed, JSON still valid
    entry.write_bytes(data[:at] + (b"9" if data[at : at + 1] != b"9" else b"8") + data[at + 1 :])
    again = read(folder)
    assert outcome(again).startswith("corrupt")
    assert state(again.table) == expected
