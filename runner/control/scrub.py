"""Masking secrets that a job prints into its console log, in place.

The job writes straight to the console log (so it keeps running if its supervisor dies); the supervisor
scans what was appended since its last look and overwrites any secret with ``*`` of the same length. The
same length means the file never shifts under the job's appends (O_APPEND) nor under a reader's byte
offsets. Matching: the exact values of the secret variables the job was given, plus the key patterns of
``creds`` (``tml-...``, a named API key or token).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from runner.control import creds

# bytes kept from the end of one scan for the next, so a secret split across two writes is still found
OVERLAP = 256
MAX_SCAN = 4 * 1024 * 1024


class ConsoleScrubber:
    def __init__(self, path: Path, secrets: list[str]) -> None:
        self.path = path
        self.offset = 0
        values = [s.encode() for s in secrets if s]
        patterns = [re.escape(v) for v in sorted(values, key=len, reverse=True)]
        patterns.append(creds._KEY_RE.pattern.encode())
        self._exact = re.compile(b"|".join(patterns))
        self._named = [re.compile(p.pattern.encode()) for p in creds.NAMED_PATTERNS]

    def scan(self) -> int:
        """Mask secrets in bytes appended since the last scan; returns how many were masked now."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError:
            return 0
        count = 0
        try:
            size = os.fstat(fd).st_size
            if size < self.offset:  # replaced or truncated: start over
                self.offset = 0
            while self.offset < size:
                start = max(0, self.offset - OVERLAP)
                data = os.pread(fd, min(MAX_SCAN, size - start), start)
                if not data:
                    break
                spans = [m.span() for m in self._exact.finditer(data)]
                spans += [m.span(2) for named in self._named for m in named.finditer(data)]
                for a, b in spans:
                    if data[a:b].strip(b"*"):
                        os.pwrite(fd, b"*" * (b - a), start + a)
                        count += 1
                self.offset = start + len(data)
        finally:
            os.close(fd)
        return count
