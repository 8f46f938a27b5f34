"""The embedded backend as a launch target: its environment, and the tiny model with its renderer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalTarget:
    model_path: str
    renderer: str


def local_model() -> LocalTarget:
    """The tiny local base model (built once, cached) and the renderer it was made for."""
    from runner.backend import tinymodel

    return LocalTarget(str(tinymodel.ensure_base_model()), tinymodel.RENDERER_NAME)


def backend_env() -> dict[str, str]:
    """``TINKER_BASE_URL``/``TINKER_API_KEY`` of the running embedded backend (started if needed)."""
    from runner.backend import control

    info = control.ensure_running()
    return dict(control.env_for(info))
