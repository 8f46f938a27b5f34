"""Where the shared test data lives, and where the installed ``tinkertop`` command is.

``$TINKERTOP_SHARED``, else ``shared/`` beside the project: ``shared/realdata`` (real public runs) and
``shared/formats`` (every cookbook file type). A clone elsewhere points at them with ``TINKERTOP_SHARED``.
On a developer machine, tests that need them skip when they are absent; in CI (``CI`` set) a missing
shared folder fails the session instead (see ``tests/conftest.py``), so a third of the suite cannot
vanish silently.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINKERTOP_SHARED") or REPO.parent / "shared")
NEEDED = ("realdata", "formats")
IF_RLVR = SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR"  # five public runs, one folder
needs_if_rlvr = pytest.mark.skipif(not IF_RLVR.is_dir(), reason="../shared/realdata absent")


def in_ci() -> bool:
    """True when ``CI`` is set to anything but empty/0/false (GitHub, GitLab and most CIs set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_shared() -> list[Path]:
    """The shared folders the tests need that are absent."""
    return [SHARED / name for name in NEEDED if not (SHARED / name).is_dir()]


def cli_exe() -> Path:
    """The installed ``tinkertop`` entry point: beside this interpreter, else on ``PATH``."""
    beside = Path(sys.executable).parent / "tinkertop"
    if beside.exists():
        return beside
    found = shutil.which("tinkertop")
    return Path(found) if found else beside
