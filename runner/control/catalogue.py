"""The cookbook's recipes as installed (tinker-cookbook 0.5.8), the model lineup, and user targets.

This module is cheap to import: the table is static text. The model lineup and learning-rate
suggestions import ``tinker_cookbook`` lazily, only when asked (launch paths).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

_R = "tinker_cookbook.recipes."


@dataclass(frozen=True)
class Recipe:
    key: str
    module: str
    kind: str  # rl | sl | dpo | distill | data
    data: str  # where its data comes from
    offline: bool  # runs on the embedded backend with no download
    needs: tuple[str, ...] = ()  # extra packages not installed here, or services
    logdir_arg: bool = True  # accepts behavior_if_log_dir_exists
    smoke: tuple[str, ...] = field(default=())  # tiny overrides for a local smoke run

    @property
    def target(self) -> str:
        return self.module


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "math_rl",
        _R + "math_rl.train",
        "rl",
        "env=arithmetic is generated (no dataset); math/gsm8k/polaris/deepmath download HF data",
        True,
        smoke=(
            "env=arithmetic",
            "group_size=2",
            "groups_per_batch=2",
            "max_tokens=4",
            "max_steps=3",
            "eval_every=0",
            "save_every=1",
            "lora_rank=4",
        ),
    ),
    Recipe(
        "guess_number",
        _R + "multiplayer_rl.guess_number.train",
        "rl",
        "generated numbers (no dataset)",
        True,
        smoke=("group_size=2", "batch_size=2", "max_tokens=8", "max_steps=3", "eval_every=0", "save_every=1"),
    ),
    Recipe(
        "shorter",
        _R + "preference.shorter.train",
        "rl",
        "one dummy prompt, local 'shorter' preference",
        True,
        smoke=("group_size=2", "batch_size=2", "max_tokens=8", "max_steps=3"),
    ),
    Recipe(
        "chat_sl",
        _R + "chat_sl.train",
        "sl",
        "dataset=no_robots|tulu3 download; dataset=/path/file.jsonl is local",
        True,
        smoke=("batch_size=4", "max_length=256", "max_steps=3", "eval_every=0", "save_every=1"),
    ),
    Recipe("dpo", _R + "preference.dpo.train", "dpo", "HF hhh|helpsteer3|ultrafeedback", False),
    Recipe("twenty_questions", _R + "multiplayer_rl.twenty_questions.train", "rl", "bundled nouns", False),
    Recipe(
        "text_arena",
        _R + "multiplayer_rl.text_arena.train",
        "rl",
        "textarena games",
        False,
        needs=("textarena",),
    ),
    Recipe("distillation", _R + "distillation.on_policy_distillation", "distill", "HF deepmath|tulu3", False),
    Recipe(
        "distillation_multi_teacher",
        _R + "distillation.on_policy_multi_teacher",
        "distill",
        "HF datasets, two teachers",
        False,
    ),
    Recipe(
        "distillation_off_policy",
        _R + "distillation.off_policy_reasoning",
        "sl",
        "HF reasoning traces",
        False,
    ),
    Recipe(
        "prompt_distillation",
        _R + "prompt_distillation.train",
        "sl",
        "local JSONL made by prompt_distillation.create_data",
        False,
    ),
    Recipe("code_rl", _R + "code_rl.train", "rl", "HF code tasks", False, needs=("sandbox service",)),
    Recipe("rubric", _R + "rubric.train", "rl", "local JSONL (cwd-relative) + Tinker grader", False),
    Recipe("search_tool", _R + "search_tool.train", "rl", "HF + vector index", False, needs=("chromadb",)),
    Recipe("verifiers_rl", _R + "verifiers_rl.train", "rl", "verifiers envs", False, needs=("verifiers",)),
    Recipe("rl_numerics_check", _R + "rl_numerics_check.train", "rl", "HF wikitext", False),
    Recipe("forecasting", _R + "forecasting.train", "rl", "HF prophet-arena", False),
    Recipe("sdft", _R + "sdft.train", "sl", "external data_dir", False),
    Recipe(
        "sl_basic", _R + "sl_basic", "sl", "HF no_robots, or a local JSONL override", False, logdir_arg=False
    ),
    Recipe("rl_basic", _R + "rl_basic", "rl", "HF gsm8k", False, logdir_arg=False),
)


def by_key() -> dict[str, Recipe]:
    return {r.key: r for r in RECIPES}


@dataclass(frozen=True)
class Target:
    """What ``launch RECIPE`` names: a catalogue recipe, a user module, or a script path."""

    recipe: str  # what the user typed (catalogue key, module, or script path)
    module: str | None  # python -m <module>
    script: str | None  # python <script>
    logdir_arg: bool = True
    entry: Recipe | None = None

    def argv(self, python: str) -> list[str]:
        return [python, "-m", self.module] if self.module else [python, self.script or ""]


class UnknownRecipe(ValueError):
    pass


def resolve_target(recipe: str, cwd: str | Path = ".") -> Target:
    """A catalogue key, a dotted module (``pkg.mod``), or a ``*.py`` script path."""
    entries = by_key()
    if recipe in entries:
        r = entries[recipe]
        return Target(recipe, r.module, None, r.logdir_arg, r)
    for r in RECIPES:
        if recipe == r.module:
            return Target(recipe, r.module, None, r.logdir_arg, r)
    path = Path(cwd) / recipe
    if recipe.endswith(".py") or path.is_file():
        if not path.is_file():
            raise UnknownRecipe(f"{recipe}: no such script")
        return Target(recipe, None, str(path.resolve()))
    if all(part.isidentifier() for part in recipe.split(".")):
        try:
            found = importlib.util.find_spec(recipe)
        except (ImportError, ValueError):
            found = None
        if found is not None:
            return Target(recipe, recipe, None)
    known = ", ".join(entries)
    raise UnknownRecipe(f"unknown recipe {recipe!r}: not in the catalogue ({known}), a module, or a script")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str  # base | instruct | hybrid | reasoning
    size: str
    renderer: str
    vision: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind}+vision" if self.vision else self.kind


def _kind(name: str, attrs) -> str:
    """Derived from the cookbook's metadata: chat flag and which renderers it recommends."""
    renderers = attrs.recommended_renderers
    if not attrs.is_chat:
        return "base"
    if any("disable_thinking" in r for r in renderers):
        return "hybrid"
    first = renderers[0]
    if "thinking" in name.lower() or "reasoning" in first or "thinking" in first or "gpt_oss" in first:
        return "reasoning"
    if any("thinking" in r or "reasoning" in r for r in renderers[1:]):
        return "hybrid"
    return "instruct"


def models() -> list[ModelInfo]:
    """The cookbook's model lineup (imports ``tinker_cookbook.model_info``: launch paths only)."""
    from tinker_cookbook import model_info as mi

    tables = [
        mi.get_llama_info,
        mi.get_qwen_info,
        mi.get_deepseek_info,
        mi.get_gpt_oss_info,
        mi.get_moonshot_info,
        mi.get_zai_info,
        mi.get_nvidia_info,
        mi.get_thinkingmachines_info,
    ]
    out = []
    for table in tables:
        for version, attrs in table().items():
            name = f"{attrs.organization}/{version}"
            renderer = attrs.recommended_renderers[0]
            out.append(ModelInfo(name, _kind(name, attrs), attrs.size_str, renderer, attrs.is_vl))
    return out


def recommended_renderer(model_name: str) -> str | None:
    from tinker_cookbook import model_info

    try:
        return model_info.get_recommended_renderer_name(model_name)
    except Exception:
        return None


def suggested_lr(model_name: str) -> float | None:
    """``hyperparam_utils.get_lr`` for known models (None when the cookbook has no formula)."""
    try:
        from tinker_cookbook import hyperparam_utils

        return hyperparam_utils.get_lr(model_name)
    except Exception:
        return None
