"""The first paint's quick scan in two parts (issue 12: 1,000 runs): the runs that changed last first (the
top of the list, sorted "updated"), then the others, sent by a forked child as two frames; a child that
fails falls back (no first frame: the app scans itself; no second: the full read brings them)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import tui.prefetch as prefetch
from runner.runs.quick import quick_scan, quick_scan_parts
from tui.prefetch import QuickScanChild, first_part, first_summaries

T0 = 1_780_000_000.0


def _runs(root: Path, n: int) -> list[str]:
    """``n`` run folders, each changed at its own time: run ``r<i>`` last changed ``changed[i]`` (the
    newest run is not the last by name, nor by creation)."""
    changed = [T0 + (i * 7) % n for i in range(n)]
    for i in range(n):
        run = root / f"r{i:02d}"
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text(json.dumps({"step": i, "env/all/reward/total": i / 10}) + "\n")
        (run / "config.json").write_text("{}")
        for path in (run / "metrics.jsonl", run / "config.json", run):
            os.utime(path, (T0, T0))
    for i in range(n):  # one file newer than the others of its folder: that is when the run changed
        os.utime(root / f"r{i:02d}" / "metrics.jsonl", (changed[i], changed[i]))
    newest = sorted(range(n), key=lambda i: -changed[i])
    return [str(root / f"r{i:02d}") for i in newest]


def test_the_first_part_holds_the_runs_that_changed_last(tmp_path: Path) -> None:
    newest = _runs(tmp_path, 12)
    (first, found_1), (rest, found_2) = quick_scan_parts([tmp_path], first=5)
    assert found_1 == found_2 == 12
    assert {s.path for s in first} == set(newest[:5])
    assert {s.path for s in rest} == set(newest[5:])
    whole = {s.path: s for s in quick_scan([tmp_path])}
    assert [whole[s.path] for s in first + rest] == first + rest  # the same summaries as one scan
    assert sorted(first, key=lambda s: -(s.last_change or 0))[0].path == newest[0]


def test_fewer_runs_than_the_first_part_come_in_it_whole(tmp_path: Path) -> None:
    _runs(tmp_path, 3)
    (first, found), (rest, _) = quick_scan_parts([tmp_path], first=5)
    assert len(first) == found == 3 and rest == []


def test_the_first_part_is_two_screens_and_at_least_the_first_fill() -> None:
    assert first_part(10) == prefetch.FIRST_FILL and first_part(80) == 160


def _forks() -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: no child")


def test_the_child_sends_the_newest_runs_first_then_the_others(tmp_path: Path) -> None:
    _forks()
    newest = _runs(tmp_path, 12)
    child = QuickScanChild([tmp_path], first=4)
    pid = child.pid
    head = child.first()
    assert head is not None and child.found == 12
    assert {s.path for s in head} == set(newest[:4])
    tail = child.rest()
    assert tail is not None and {s.path for s in tail} == set(newest[4:])
    assert child.rest() is None  # collected once
    with pytest.raises(ChildProcessError):  # and reaped
        os.waitpid(pid, os.WNOHANG)


def _first_then_dies(roots, first):  # type: ignore[no-untyped-def]
    frames: Iterator[bytes] = real_frames(roots, first)
    yield next(frames)
    raise RuntimeError("the child dies after its first frame")


real_frames = prefetch.scan_frames


def test_a_child_that_dies_after_the_first_frame_leaves_the_rest_to_the_full_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seam: the forked child's work replaced (the child inherits the module), to make it fail for real."""
    _forks()
    newest = _runs(tmp_path, 6)
    monkeypatch.setattr(prefetch, "scan_frames", _first_then_dies)
    child = QuickScanChild([tmp_path], first=2)
    pid = child.pid
    head = child.first()
    assert head is not None and {s.path for s in head} == set(newest[:2])
    assert child.rest() is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _bad_frame(roots, first):  # type: ignore[no-untyped-def]
    yield prefetch.HEADER.pack(5) + b"nope!"
    yield from real_frames(roots, first)


def test_a_bad_first_frame_stops_the_child_and_the_app_scans_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seam: the forked child's work replaced, to send what is not a frame of summaries."""
    _forks()
    _runs(tmp_path, 3)
    monkeypatch.setattr(prefetch, "scan_frames", _bad_frame)
    child = QuickScanChild([tmp_path])
    pid = child.pid
    assert child.first() is None and child.rest() is None and child.result() is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_the_app_starts_on_the_first_part_and_keeps_the_child_only_for_more(tmp_path: Path) -> None:
    _forks()
    _runs(tmp_path / "a", 6)
    _runs(tmp_path / "b", 2)
    other = QuickScanChild([tmp_path / "a"], first=4)
    pid = other.pid
    assert first_summaries(other, [tmp_path / "b"]) == (None, None)  # other folders: the app scans itself
    with pytest.raises(ChildProcessError):  # that child stopped and reaped
        os.waitpid(pid, os.WNOHANG)
    few = QuickScanChild([tmp_path / "b"], first=4)
    pid = few.pid
    head, rest = first_summaries(few, [tmp_path / "b"])
    assert head is not None and len(head) == 2 and rest is None  # all of them at once
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    many = QuickScanChild([tmp_path / "a"], first=4)
    head, rest = first_summaries(many, [tmp_path / "a"])
    assert head is not None and len(head) == 4 and rest is many and rest.found == 6
    assert len(rest.rest() or []) == 2


def _ended(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped: its parent reaps it in ``rest()``)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.skipif(
    not Path("/proc/self/stat").exists() or (os.cpu_count() or 1) < 2, reason="Linux, 2 cores"
)
def test_the_child_ends_once_it_sent_the_others_before_they_are_asked_for(tmp_path: Path) -> None:
    """The others' frame is larger than a pipe's buffer (64 KiB): unread, it kept the child (and the cold
    reader, which starts once the child has ended) waiting until the app asked for it."""
    import time

    n = 120
    for i in range(n):  # RL-sized lines: ~2 KB a summary, the others' frame ~200 KB
        run = tmp_path / f"r{i:03d}"
        run.mkdir()
        row = {"step": 1, **{f"env/all/metric_{k:02d}": k / 7 for k in range(80)}}
        (run / "metrics.jsonl").write_text(json.dumps(row) + "\n")
    child = QuickScanChild([tmp_path], first=10)
    head = child.first()
    assert head is not None and len(head) == 10 and child.found == n
    pid, deadline = child.pid, time.monotonic() + 60
    while not _ended(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _ended(pid), "the child still waits for its second frame to be read"
    rest = child.rest()
    assert rest is not None and len(rest) == n - 10
