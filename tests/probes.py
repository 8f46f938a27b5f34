"""Fresh-interpreter probes for the import-boundary tests: what a piece of code loads, seen from a new
``python`` (this process has imported everything already)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def modules_after(code: str) -> set[str]:
    """The top-level modules loaded once ``code`` has run in a fresh interpreter (from the repo root)."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return set(done.stdout.split())
