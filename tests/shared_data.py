"""Where the shared test data lives: ``$TINKERTOP_SHARED``, else ``shared/`` beside the project.

``../shared/realdata`` (real public runs) and ``../shared/formats`` (every cookbook file type) sit beside
the project on the development machine; a clone elsewhere (a CI checkout) points at them with
``TINKERTOP_SHARED``. Tests that need them skip cleanly when they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINKERTOP_SHARED") or REPO.parent / "shared")
