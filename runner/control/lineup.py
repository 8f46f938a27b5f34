"""``python -m runner.control.lineup --json``: the cookbook's model lineup with each model's recommended
renderer and suggested learning rate, one JSON list on stdout.

A process of its own because the lineup imports ``tinker_cookbook`` (and with it torch): the app asks
for it through :func:`runner.api.model_lineup` and never imports the cookbook itself.
"""

from __future__ import annotations

import json
import sys


def lineup_rows() -> list[dict[str, object]]:
    from runner.control.catalogue import models, suggested_lr

    return [m.__dict__ | {"label": m.label, "lr": suggested_lr(m.name)} for m in models()]


def main(argv: list[str]) -> int:
    if argv != ["--json"]:
        print("usage: python -m runner.control.lineup --json", file=sys.stderr)
        return 2
    print(json.dumps(lineup_rows()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
