"""The start-up path's forked quick scan (``tui.prefetch``) imports only what reading tails needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.probes import REPO


def test_the_forked_scan_imports_no_more_than_the_scan_needs(tmp_path: Path) -> None:
    """The child is the first paint's long pole with many runs: it reads tails, it never imports the
    launch side of ``runner.api`` (run in a fresh interpreter, as the child starts before Textual)."""
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    code = (
        "import pickle, sys\nfrom pathlib import Path\nfrom tui.prefetch import HEADER, scan_frames\n"
        f"frames = list(scan_frames([Path({str(tmp_path)!r})]))\n"
        "rows = [r for f in frames for r in pickle.loads(f[HEADER.size:])[0]]\n"
        "print(len(rows), ' '.join(m for m in sys.modules if m.startswith('runner.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    count, modules = out.stdout.split(" ", 1)
    assert count == "1"
    assert "runner.runs.quick" in modules.split()  # the probe works
    assert not {"runner.api", "runner.control.launch", "runner.control.launch_form"} & set(modules.split())
