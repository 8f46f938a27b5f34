"""The embedded backend as a launch target: its environment, and the model it serves with its renderer.

A ``--local`` launch makes sure the backend runs and takes ``model_name`` from the server itself, so the
run always asks for the model that is actually served (the tiny model's cache version can change).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalTarget:
    model_path: str
    renderer: str


def local_model() -> LocalTarget:
    """The model the running embedded backend serves (started if needed), and the tiny model's renderer."""
    from runner.backend import lifecycle, tinymodel

    info = lifecycle.ensure_running()
    return LocalTarget(str(info.model_path), tinymodel.RENDERER_NAME)


def backend_env() -> dict[str, str]:
    """``TINKER_BASE_URL``/``TINKER_API_KEY`` of the running embedded backend (started if needed)."""
    from runner.backend import lifecycle

    info = lifecycle.ensure_running()
    return dict(lifecycle.env_for(info))
