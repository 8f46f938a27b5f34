"""A columnar cache of a metrics file's parsed table, kept outside the run folder.

Reopening a large ``metrics.jsonl`` parses nothing it parsed before: the table's columns are written
as raw arrays under ``cache_dir()/metrics/`` (one file per metrics path), with a header holding the
reader's position. A cache entry is used only when the metrics file is still the same file and holds
the same bytes up to that position: same identity ``(st_dev, st_ino)``, at least as long, and the same
first and last bytes before the position (the follower's own fingerprints). Anything else (truncated,
replaced, rewritten in place) is a miss and the file is read from byte 0. Lines appended since are read
by the follower as usual, from the cached position.

The cache is never trusted blindly: no pickle, a checksum over the arrays, every length checked against
the step column; a corrupt or foreign-version entry is deleted and the file read in full. Writes go to
a temporary file renamed into place, so a reader never sees half an entry. ``TINKERTOP_METRICS_CACHE=0``
turns the cache off.

The same entries hold the tables evicted past the memory budget (:mod:`runner.runs.residency`):
:meth:`CachedReader.evict_save` writes one unless the last save is current, and :func:`reload` reads it
back only when it was written at the follower's position of the eviction.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import sys
import threading
import zlib
from array import array
from pathlib import Path
from typing import Any

import orjson

from runner.paths import cache_dir
from runner.runs.counters import FallbackCounter
from runner.runs.jsonl import JsonlTail, open_regular
from runner.runs.series import MetricTable
from runner.runs.summary import BadLine

VERSION = 2
MAGIC = b"TTMC"
_HEAD = struct.Struct("<4sIII")  # magic, version, header length, header checksum
SAVE_MIN_BYTES = 256 * 1024  # a file (or growth since the last save) smaller than this is not cached
MAX_ENTRIES = 4096  # past this many entries the least recently used are deleted (on the first save)
MAX_BYTES = 2 << 30  # and past this many bytes in all
_pruned = False  # this process has pruned the cache folder once


class CacheCorrupt(ValueError):
    """A cache entry that does not hold what it claims."""


def enabled() -> bool:
    return os.environ.get("TINKERTOP_METRICS_CACHE", "1") != "0"


def entries_dir() -> Path:
    """The folder of the entries: ``$TINKERTOP_METRICS_CACHE`` when it names a folder (the test suite
    points it at a temporary one), else ``cache_dir()/metrics``."""
    env = os.environ.get("TINKERTOP_METRICS_CACHE", "")
    return Path(env) if env not in ("", "0", "1") else cache_dir() / "metrics"


def entry_path(metrics: str | Path) -> Path:
    """Where the cache entry of the metrics file at ``metrics`` lives (by its absolute path)."""
    digest = hashlib.sha1(os.path.abspath(metrics).encode(), usedforsecurity=False).hexdigest()
    return entries_dir() / f"{digest[:32]}.ttmc"


# ---- encoding ---------------------------------------------------------------------------------
def _table_header(t: MetricTable) -> dict[str, Any]:
    c = t._counter
    return {
        "base": t._base, "sparse_rows": t._row_of is not None, "order": list(t._order),
        "int_keys": sorted(t._int_keys), "float_keys": sorted(t._float_keys), "max_step": t._max_step,
        "sorted": t._sorted, "counter": [c.key, c.first, c.last, c.offset], "notes": t.notes,
        "n_lines": t.n_lines, "bad_lines": t.bad_lines, "bad": [[b.file, b.line, b.message] for b in t.bad],
        "other": {k: list(rows.items()) for k, rows in t._other.items() if rows},
    }  # fmt: skip


def _tail_header(tail: JsonlTail) -> dict[str, Any]:
    return {
        "offset": tail.offset, "line_no": tail.line_no, "n_bad": tail.n_bad, "ident": tail._ident,
        "open_object": tail._open_object, "skipping": tail._skipping,
        "head": tail._head.hex(), "tail": tail._tail.hex(),
    }  # fmt: skip


def encode(tail: JsonlTail, table: MetricTable) -> bytes:
    """The cache entry for ``table`` as read by ``tail`` (taken under the table's lock)."""
    with table._lock:
        blobs: list[tuple[str, str, bytes]] = [("steps", "", table._steps.tobytes())]
        blobs.append(("times", "", table._times.tobytes()))
        for key, col in table._cols.items():
            blobs.append(("col", key, col.tobytes()))
            blobs.append(("present", key, bytes(table._present[key])))
        header: dict[str, Any] = {"table": _table_header(table), "tail": _tail_header(tail)}
        header["byteorder"] = sys.byteorder
    body = b"".join(b for _, _, b in blobs)
    header["arrays"] = [[kind, key, len(b)] for kind, key, b in blobs]
    header["crc"] = zlib.crc32(body)
    meta = orjson.dumps(header)
    return _HEAD.pack(MAGIC, VERSION, len(meta), zlib.crc32(meta)) + meta + body


# ---- decoding ---------------------------------------------------------------------------------
def _split(data: bytes) -> tuple[dict[str, Any], memoryview]:
    if len(data) < _HEAD.size:
        raise CacheCorrupt("shorter than its header")
    magic, version, n_meta, meta_crc = _HEAD.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise CacheCorrupt(f"not a version-{VERSION} entry")
    meta = data[_HEAD.size : _HEAD.size + n_meta]
    if len(meta) != n_meta or zlib.crc32(meta) != meta_crc:
        raise CacheCorrupt("header checksum mismatch")
    header = orjson.loads(meta)
    if not isinstance(header, dict) or header.get("byteorder") != sys.byteorder:
        raise CacheCorrupt("bad header")
    body = memoryview(data)[_HEAD.size + n_meta :]
    if sum(n for _, _, n in header["arrays"]) != len(body) or zlib.crc32(body) != header["crc"]:
        raise CacheCorrupt("checksum or length mismatch")
    return header, body


def _arrays(header: dict[str, Any], body: memoryview) -> tuple[array, array, dict[str, array], dict]:
    steps, times = array("q"), array("d")
    cols: dict[str, array] = {}
    present: dict[str, bytearray] = {}
    pos = 0
    for kind, key, n in header["arrays"]:
        chunk = body[pos : pos + n]
        pos += n
        if kind == "steps":
            steps.frombytes(chunk)
        elif kind == "times":
            times.frombytes(chunk)
        elif kind == "col":
            cols[key] = array("d")
            cols[key].frombytes(chunk)
        else:
            present[key] = bytearray(chunk)
    n_rows = len(steps)
    lengths = {len(times)} | {len(c) for c in cols.values()} | {len(p) for p in present.values()}
    if lengths - {n_rows} or cols.keys() != present.keys():
        raise CacheCorrupt("columns of different lengths")
    return steps, times, cols, present


def restore_table(table: MetricTable, header: dict[str, Any], body: memoryview) -> None:
    """Fill an empty ``table`` from a decoded entry."""
    steps, times, cols, present = _arrays(header, body)
    h = header["table"]
    counter = FallbackCounter()
    counter.key, counter.first, counter.last, counter.offset = h["counter"]
    with table._lock:
        table._steps, table._times, table._cols, table._present = steps, times, cols, present
        table._row_of = {s: r for r, s in enumerate(steps)} if h["sparse_rows"] else None
        table._base, table._max_step, table._sorted = int(h["base"]), int(h["max_step"]), bool(h["sorted"])
        table._order = dict.fromkeys(h["order"])
        table._int_keys, table._float_keys = set(h["int_keys"]), set(h["float_keys"])
        table._other = {k: {int(r): v for r, v in rows} for k, rows in h["other"].items()}
        table._counter = counter
        table.notes, table.n_lines, table.bad_lines = list(h["notes"]), int(h["n_lines"]), int(h["bad_lines"])
        table.bad = [BadLine(file=str(f), line=int(n), message=str(m)) for f, n, m in h["bad"]]
        table.version += 1


def restore_tail(tail: JsonlTail, h: dict[str, Any]) -> None:
    """Put ``tail`` at the entry's position; every field is decoded before any is set."""
    numbers = int(h["offset"]), int(h["line_no"]), int(h["n_bad"])
    ident = (int(h["ident"][0]), int(h["ident"][1]))
    flags = bool(h["open_object"]), bool(h["skipping"])
    head, end = bytes.fromhex(h["head"]), bytes.fromhex(h["tail"])
    tail.offset, tail.line_no, tail.n_bad = numbers
    tail._ident = ident
    tail._open_object, tail._skipping = flags
    tail._head, tail._tail = head, end


def still_valid(metrics: Path, h: dict[str, Any]) -> str | None:
    """None when the metrics file still holds the bytes the entry was read from; else why not."""
    fd, st = open_regular(metrics)
    try:
        offset, head, tail = int(h["offset"]), bytes.fromhex(h["head"]), bytes.fromhex(h["tail"])
        if [st.st_dev, st.st_ino] != list(h["ident"]):
            return "replaced"
        if st.st_size < offset:
            return "truncated"
        if os.pread(fd, len(head), 0) != head or os.pread(fd, len(tail), offset - len(tail)) != tail:
            return "rewritten"
        return None
    finally:
        os.close(fd)


# ---- the entry points -------------------------------------------------------------------------
def load(tail: JsonlTail, table: MetricTable) -> str:
    """Fill a fresh ``tail`` and empty ``table`` from the cache when it still applies.

    Returns ``"hit"``, ``"miss"`` (no entry, or the cache is off), ``"stale: <why>"`` (the file changed
    under it: truncated, replaced, rewritten; the entry is dropped) or ``"corrupt: <why>"`` (dropped).
    Only on ``"hit"`` are ``tail`` and ``table`` changed."""
    if not enabled() or tail.offset or len(table):
        return "miss"
    path = entry_path(tail.path)
    try:
        data = path.read_bytes()
    except OSError:
        return "miss"
    try:
        header, body = _split(data)
        why = still_valid(tail.path, header["tail"])
        if why is None:
            fresh = MetricTable()
            restore_table(fresh, header, body)
            restore_tail(tail, header["tail"])
            _adopt(table, fresh)
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: kept by prune_once
            return "hit"
        outcome = f"stale: {why}"
    except OSError:
        return "miss"
    except (CacheCorrupt, ValueError, KeyError, TypeError, IndexError, OverflowError) as exc:
        outcome = f"corrupt: {exc}"
    path.unlink(missing_ok=True)
    return outcome


def _adopt(table: MetricTable, fresh: MetricTable) -> None:
    """Move ``fresh``'s state into ``table`` (keeping its lock and its version counters rising)."""
    with table._lock:
        version, resets = table.version, table.resets
        for name, value in vars(fresh).items():
            if name not in ("_lock", "version", "resets"):
                setattr(table, name, value)
        table.version, table.resets = version + 1, resets


def tail_state(tail: JsonlTail) -> dict[str, Any]:
    """The follower's position as an entry records it (compare with :func:`reload`'s ``expected``)."""
    state: dict[str, Any] = orjson.loads(orjson.dumps(_tail_header(tail)))
    return state


def reload(metrics: Path, expected: dict[str, Any]) -> MetricTable | None:
    """The table an evicted run held, from its entry, when the entry was written at exactly the position
    ``expected`` (:func:`tail_state` when the table left memory); None otherwise (no entry, another
    position, corrupt: the caller reads the file again). The metrics file itself is not read: the
    follower checks it on its next read. ``version`` and ``resets`` are the caller's to set."""
    path = entry_path(metrics)
    try:
        header, body = _split(path.read_bytes())
        if header["tail"] != expected:
            return None
        table = MetricTable()
        restore_table(table, header, body)
        return table
    except OSError:
        return None
    except (CacheCorrupt, ValueError, KeyError, TypeError, IndexError, OverflowError):
        path.unlink(missing_ok=True)
        return None


def save(tail: JsonlTail, table: MetricTable, force: bool = False) -> bool:
    """Write the entry for what ``tail`` has read into ``table`` (atomically); False when skipped
    (the cache is off, the file is small and not ``force``, or the cache folder cannot be written)."""
    if not enabled() or (tail.offset < SAVE_MIN_BYTES and not force) or tail._ident is None:
        return False
    path = entry_path(tail.path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(encode(tail, table))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):  # the folder may not exist (a file where it should be)
            tmp.unlink(missing_ok=True)
        return False
    prune_once(path.parent)
    return True


def prune_once(folder: Path, keep: int | None = None, max_bytes: int | None = None) -> int:
    """Delete the least recently used entries past ``keep`` entries (default MAX_ENTRIES) or
    ``max_bytes`` in all (default MAX_BYTES), once per process unless ``keep`` is given; returns how
    many were deleted."""
    global _pruned
    if keep is None:
        if _pruned:
            return 0
        _pruned, keep = True, MAX_ENTRIES
    budget = MAX_BYTES if max_bytes is None else max_bytes
    try:
        entries = [
            (e.stat().st_mtime, e.stat().st_size, e.path)
            for e in os.scandir(folder)
            if e.name.endswith(".ttmc")
        ]
    except OSError:
        return 0
    entries.sort(reverse=True)
    total, deleted = 0, 0
    for n, (_, size, path) in enumerate(entries):
        total += size
        if n >= keep or total > budget:
            Path(path).unlink(missing_ok=True)
            deleted += 1
    return deleted


class CachedReader:
    """When to save: after the first full read, then after every ``SAVE_MIN_BYTES`` of growth."""

    def __init__(self, tail: JsonlTail) -> None:
        self.tail = tail
        self.saved_at = 0  # the tail's offset at the last save or load
        self.outcome = ""

    def load_if_fresh(self, table: MetricTable) -> str:
        """Load the entry when nothing was read yet (see :func:`load`); else ``"read"``."""
        if self.tail.offset or len(table):
            return "read"
        self.outcome = load(self.tail, table)
        self.saved_at = self.tail.offset
        return self.outcome

    def evict_save(self, table: MetricTable) -> bool:
        """Make sure the entry holds ``table`` as read up to the tail's position (before the table leaves
        memory): saved again unless the last save or load was at this position and the entry is there."""
        if self.saved_at == self.tail.offset and entry_path(self.tail.path).exists():
            return True
        if not save(self.tail, table, force=True):
            return False
        self.saved_at = self.tail.offset
        return True

    def maybe_save(self, table: MetricTable) -> bool:
        if self.tail.offset < self.saved_at:  # the file was read again from the start
            self.saved_at = 0
        if self.tail.offset - self.saved_at < SAVE_MIN_BYTES:
            return False
        self.saved_at = self.tail.offset
        return save(self.tail, table)
