"""Shared helpers for the app tests: real run folders from ../shared/formats, condition waits."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.shared_data import SHARED

FORMATS = SHARED / "formats"
FIXED_MTIME = 1_780_000_000.0  # 2026-05-28, long before any test runs: statuses are stable
FROZEN_NOW = FIXED_MTIME + 3600.0


def copy_run(name: str, dest: Path, mtime: float | None = None) -> Path:
    """Copy ``shared/formats/<name>`` to ``dest/<name>`` (skip the test when absent)."""
    src = FORMATS / name
    if not src.is_dir():
        pytest.skip(f"{src} is absent")
    target = dest / name
    shutil.copytree(src, target)
    if mtime is not None:
        for path in [target, *target.rglob("*")]:
            os.utime(path, (mtime, mtime))
    return target


async def wait_until(pilot, cond: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:  # type: ignore[no-untyped-def]
    """Let the app run until ``cond()`` is truthy; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")
