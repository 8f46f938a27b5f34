"""The launch form as data: :class:`LaunchForm` (what the app's form holds, and the same launch as
``tinkertop launch`` or ``tinkertop experiment`` arguments), :class:`LaunchResult` (what a launch or a
dry run answered) and :func:`form_from_spec` (a launched run's spec back into the form, for clone).
Re-exported by :mod:`runner.api`, the module the app calls."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.control.launch import LaunchRequest, PlannedRun

FIELD_KEYS = {"model": "model_name", "renderer": "renderer_name", "learning_rate": "learning_rate"}
LAUNCH_TIMEOUT_S = 600.0  # a launch or a dry run (the launcher subprocess imports the recipe)
RESULTS_DIR = "results"  # ``tinkertop experiment --out`` default


@dataclass(frozen=True)
class LaunchForm:
    """What the launch form holds; ``request(cwd)`` is the launch it asks for."""

    recipe: str
    model: str = ""
    renderer: str = ""
    learning_rate: str = ""
    local: bool = False
    smoke: bool = False
    queue: bool = False  # queue the runs (at most N at once) instead of starting them now
    name: str = ""
    overrides: str = ""  # free "key=value key=value" text (shell quoting allowed)
    sweep: str = ""  # "key=a,b,c key2=x,y": one run per combination
    experiment: bool = False  # base eval -> train -> trained eval (``tinkertop experiment``)
    eval_set: str = ""  # a file or a benchmark name (``--eval-set``)
    max_examples: str = ""  # ``--max-examples`` as typed (the CLI checks it)
    results_dir: str = ""  # ``--out`` (empty: the CLI's default)

    def override_list(self) -> list[str]:
        out = [f"{key}={getattr(self, attr)}" for attr, key in FIELD_KEYS.items() if getattr(self, attr)]
        return out + shlex.split(self.overrides)

    def args(self) -> list[str]:
        """The same launch as ``tinkertop launch`` arguments."""
        args = [self.recipe, *self.override_list()]
        args += ["--local"] if self.local else []
        args += ["--smoke"] if self.smoke else []
        args += ["--queue"] if self.queue else []
        args += ["--name", self.name] if self.name else []
        for item in shlex.split(self.sweep):
            args += ["--sweep", item]
        return args

    def experiment_args(self) -> list[str]:
        """The same experiment as ``tinkertop experiment`` arguments (ValueError: what the form lacks)."""
        if self.sweep or self.queue:
            raise ValueError("an experiment trains one run: no sweep, no queue")
        if not self.eval_set:
            raise ValueError("an experiment needs an eval set (a JSONL file or a benchmark name)")
        args = ["experiment", self.recipe, *self.override_list(), "--eval-set", self.eval_set]
        args += ["--max-examples", self.max_examples] if self.max_examples else []
        args += ["--local"] if self.local else []
        args += ["--smoke"] if self.smoke else []
        args += ["--name", self.name] if self.name else []
        return [*args, "--out", self.results_dir or RESULTS_DIR]

    def request(self, cwd: Path) -> LaunchRequest:
        """The launch request (ValueError: unbalanced quotes in the free fields)."""
        return LaunchRequest(
            recipe=self.recipe,
            overrides=self.override_list(),
            name=self.name or None,
            local=self.local,
            sweep=shlex.split(self.sweep),
            queue=self.queue,
            smoke=self.smoke,
            cwd=Path(cwd),
        )


@dataclass
class LaunchResult:
    ok: bool
    exit_code: int
    error: str = ""  # what the launcher said on stderr (names the bad key or missing credential)
    runs: list[PlannedRun] = field(default_factory=list)  # configs redacted
    ids: list[str] = field(default_factory=list)


def form_from_spec(spec: dict[str, Any]) -> LaunchForm:
    """Split a spec's overrides back into the form's fields."""
    fields: dict[str, str] = {}
    rest: list[str] = []
    by_key = {key: attr for attr, key in FIELD_KEYS.items()}
    for item in [*spec.get("user_overrides", []), *spec.get("combo", [])]:
        key, _, value = str(item).partition("=")
        if key in by_key:
            fields[by_key[key]] = value
        else:
            rest.append(str(item))
    return LaunchForm(
        recipe=str(spec.get("recipe") or ""),
        local=bool(spec.get("local")),
        smoke=bool(spec.get("smoke")),
        name=f"{spec.get('name', 'run')}-clone",
        overrides=shlex.join(rest),
        model=fields.get("model", ""),
        renderer=fields.get("renderer", ""),
        learning_rate=fields.get("learning_rate", ""),
    )
