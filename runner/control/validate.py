"""Validate ``key=value`` overrides with chz against a recipe's config class, before anything starts.

Heavy: importing a cookbook recipe imports torch and transformers. Only launch paths call this.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from runner.control.catalogue import Target


class ConfigError(ValueError):
    """An override chz rejects (the message names the key)."""


@dataclass
class Entrypoint:
    config_cls: type
    module: ModuleType
    blueprint_factory: Any = None  # e.g. sl_basic.build_config_blueprint(model_name)

    def fields(self) -> set[str]:
        return set(getattr(self.config_cls, "__chz_fields__", {}))


def _load(target: Target) -> ModuleType:
    if target.module:
        return importlib.import_module(target.module)
    path = Path(target.script or "")
    name = f"_tinkertop_script_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: cannot be loaded as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _entry_call(module: ModuleType) -> tuple[str, str] | None:
    """(``entrypoint``|``nested_entrypoint``, argument name) found in the module source."""
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        arg = node.args[0]
        if fname in ("entrypoint", "nested_entrypoint") and isinstance(arg, ast.Name):
            return fname, arg.id
    return None


def find_entrypoint(target: Target) -> Entrypoint:
    """The chz config class behind a recipe's ``chz.entrypoint`` / ``chz.nested_entrypoint``."""
    try:
        module = _load(target)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{target.recipe}: import failed: {type(exc).__name__}: {exc}") from exc
    found = _entry_call(module)
    if found is None and hasattr(module, "build_config_blueprint") and hasattr(module, "main"):
        found = ("nested_entrypoint", "main")  # sl_basic / rl_basic: blueprint.make_from_argv
    if found is None:
        raise ConfigError(f"{target.recipe}: no chz.entrypoint(...) or chz.nested_entrypoint(...) found")
    kind, name = found
    obj = getattr(module, name, None)
    if kind == "nested_entrypoint" and callable(obj):
        hints = typing.get_type_hints(obj)
        first = next(iter(inspect.signature(obj).parameters), None)
        obj = hints.get(first) if first else None
    if not isinstance(obj, type) or not hasattr(obj, "__chz_fields__"):
        raise ConfigError(f"{target.recipe}: entrypoint argument {name!r} is not a chz class")
    return Entrypoint(obj, module, getattr(module, "build_config_blueprint", None))


def _model_from(argv: list[str]) -> str | None:
    found = None
    for arg in argv:
        if arg.startswith("model_name="):
            found = arg.removeprefix("model_name=")
    return found


def resolve(entry: Entrypoint, argv: list[str]) -> dict[str, Any]:
    """Apply ``argv`` like the recipe's own entrypoint and return the resolved config as a dict."""
    import chz

    if entry.blueprint_factory is not None:
        model = _model_from(argv)
        blueprint = entry.blueprint_factory(model) if model else entry.blueprint_factory()
    else:
        blueprint = chz.Blueprint(entry.config_cls)
    try:
        blueprint.apply_from_argv(list(argv))
        value = blueprint.make()
    except Exception as exc:  # chz raises several exception types; all mean "bad override"
        raise ConfigError(_message(exc)) from exc
    return to_plain(chz.asdict(value))


def _message(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if "Blueprint" not in type(exc).__name__ else text


def to_plain(obj: Any) -> Any:
    """JSON-friendly copy of a chz ``asdict`` result (enums, paths, callables as text)."""
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_plain(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return getattr(obj, "value", None) if hasattr(obj, "value") else str(obj)
