"""The launch form: recipe, model, renderer, learning rate, local, name, overrides, sweep, experiment.

Validate (enter in any field, ``ctrl+r``) resolves the config in a subprocess and shows it, or the
error naming the bad key; Launch (``ctrl+l``) is allowed only when the form is unchanged since a
successful validation. The model lineup and learning-rate suggestions load in a worker. With
Experiment on, validate is ``tinkertop experiment --dry-run`` (a bad eval set named with its file and
line) and launch starts the experiment detached (``api.start_experiment``), its log in the results folder.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path

from rich.markup import escape as _escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Select, Static, Switch

from runner import api
from runner.api import ExperimentStarted, LaunchForm, LaunchResult, ModelChoice
from runner.control.catalogue import RECIPES, by_key
from runner.experiment.evals import ARITHMETIC
from tui.widgets.footer import SteadyFooter

_lineup: list[ModelChoice] | None = None  # loaded once per app process


class LineupLoaded(Message):
    def __init__(self, models: list[ModelChoice], error: str = "") -> None:
        super().__init__()
        self.models = models
        self.error = error


class FormChecked(Message):
    """A validate (``launched`` False) or launch (True) finished."""

    def __init__(self, form: LaunchForm, result: LaunchResult, launched: bool) -> None:
        super().__init__()
        self.form = form
        self.result = result
        self.launched = launched


class ExperimentLaunched(Message):
    """``api.start_experiment`` returned (``started``) or failed (``error``)."""

    def __init__(self, started: ExperimentStarted | None, error: str = "") -> None:
        super().__init__()
        self.started = started
        self.error = error


def offered_eval_set(key: str) -> str:
    """The eval set the form fills in for a recipe (``arithmetic`` for the arithmetic one), else ""."""
    recipe = by_key().get(key)
    return ARITHMETIC if recipe and f"env={ARITHMETIC}" in recipe.data else ""


def experiment_hint(key: str) -> str:
    offered = offered_eval_set(key)
    extra = f"; offered: [b]{offered}[/b]" if offered else ""
    return (
        "eval set: an RL JSONL {question, answer}, an SFT chat JSONL {messages} or a cookbook "
        f"benchmark (gsm8k, …){extra}. Base eval, training, trained eval; resumable"
    )


def recipe_info(key: str) -> str:
    recipe = by_key().get(key)
    if recipe is None:
        return "a module (pkg.mod) or a script path with a chz entrypoint"
    where = (
        "[$success]runs offline[/] (use Local)" if recipe.offline else "[$warning]needs network / Tinker[/]"
    )
    needs = f" · needs {', '.join(recipe.needs)}" if recipe.needs else ""
    return f"{recipe.kind} · {where} · data: {recipe.data}{needs}"


def describe(result: LaunchResult, launched: bool, queued: bool = False) -> str:
    """The resolved config of each planned run (as ``tinkertop launch --dry-run`` prints it)."""
    verb = ("queued" if queued else "started") if launched else "would start"
    blocks = []
    for run in result.runs:
        lines = [f"[b]{verb} {_escape(run.name)}[/b]", f"  log_path: {_escape(run.log_path)}"]
        lines += [f"  note: {_escape(n)}" for n in run.notes]
        lines.append("  resolved config:")
        config = run.config
        lines += [
            f"    {_escape(k)} = {_escape(json.dumps(v, default=str))}" for k, v in sorted(config.items())
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


class LaunchScreen(Screen[None]):
    """New run (``n``) or clone-and-edit (``e``): validate first, then launch."""

    DEFAULT_CSS = """
    #launch-title { height: 1; padding: 0 1; }
    #launch-body { height: 1fr; }
    #launch-form { width: 1fr; min-width: 50; padding: 0 1; }
    #launch-result { width: 1fr; border-left: solid $primary; padding: 0 1; }
    .launch-row { height: auto; }
    .launch-row Input { width: 1fr; }
    .launch-row Label { padding: 1 1 0 1; }
    .launch-row Button { margin-right: 2; }
    #launch-recipe-info, #launch-status, #launch-exp-hint { padding: 0 1; }
    #launch-exp { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="launch.cancel"),
        Binding("ctrl+r", "validate", "Validate", id="launch.validate"),
        Binding("ctrl+l", "launch", "Launch", id="launch.go"),
    ]

    def __init__(self, cwd: Path, form: LaunchForm | None = None) -> None:
        super().__init__(id="launch")
        self.cwd = cwd
        self.initial = form or LaunchForm(recipe=RECIPES[0].key)
        self.valid_form: LaunchForm | None = None  # the form as last validated successfully
        self.busy = False
        self.launching = False
        self.result: LaunchResult | None = None

    def compose(self) -> ComposeResult:
        form = self.initial
        known = form.recipe in by_key()
        title = "Clone and edit" if form.name.endswith("-clone") else "New run"
        yield Static(
            f"[b]{title}[/b] · runs go to {_escape(str(self.cwd / 'results' / 'logs'))}", id="launch-title"
        )
        with Horizontal(id="launch-body"):
            with VerticalScroll(id="launch-form"):
                yield Label("Recipe")
                yield Select(
                    [(f"{r.key} ({r.kind}, {'offline' if r.offline else 'online'})", r.key) for r in RECIPES],
                    value=form.recipe if known else RECIPES[0].key,
                    allow_blank=False,
                    id="launch-recipe",
                )
                yield Input(
                    "" if known else form.recipe, placeholder="or a module / script path", id="launch-custom"
                )
                yield Static(recipe_info(form.recipe), id="launch-recipe-info")
                yield Label("Model (type, size)")
                yield Select([], prompt="recipe default (loading lineup…)", id="launch-model")
                with Horizontal(classes="launch-row"):
                    yield Input(form.renderer, placeholder="renderer_name", id="launch-renderer")
                    yield Input(form.learning_rate, placeholder="learning_rate", id="launch-lr")
                with Horizontal(classes="launch-row"):
                    yield Label("Local")
                    yield Switch(form.local, id="launch-local")
                    yield Label("Smoke sizes")
                    yield Switch(form.smoke, id="launch-smoke")
                    yield Label("Queue")
                    yield Switch(form.queue, id="launch-queue")
                    yield Label("Experiment")
                    yield Switch(form.experiment, id="launch-experiment")
                with Vertical(id="launch-exp"):
                    yield Label("Eval set · max examples · results folder")
                    yield Input(
                        form.eval_set,
                        placeholder="eval set: a JSONL path or a benchmark",
                        id="launch-eval-set",
                    )
                    with Horizontal(classes="launch-row"):
                        yield Input(form.max_examples, placeholder="max examples", id="launch-max-examples")
                        yield Input(
                            form.results_dir or api.RESULTS_DIR,
                            placeholder=f"results folder (default {api.RESULTS_DIR})",
                            id="launch-results",
                        )
                    yield Static(experiment_hint(form.recipe), id="launch-exp-hint")
                yield Input(form.name, placeholder="run name (default <recipe>-<time>)", id="launch-name")
                yield Input(
                    form.overrides, placeholder="overrides: key=value key=value", id="launch-overrides"
                )
                yield Input(form.sweep, placeholder="sweep: key=a,b,c key2=x,y", id="launch-sweep")
                with Horizontal(classes="launch-row"):
                    yield Button("Validate (ctrl+r)", id="launch-validate")
                    yield Button("Launch (ctrl+l)", variant="primary", id="launch-go", disabled=True)
                yield Static("not validated yet: press enter or ctrl+r", id="launch-status")
            with VerticalScroll(id="launch-result"):
                yield Static("The resolved config shows here before anything starts.", id="launch-config")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.query_one("#launch-recipe", Select).focus()
        self.query_one("#launch-exp").display = self.initial.experiment
        if _lineup is None:
            self.run_worker(self._load_lineup, thread=True, group="launch-lineup", exit_on_error=False)
        else:
            self._show_lineup(_lineup)

    # --- the form -------------------------------------------------------------
    def form(self) -> LaunchForm:
        """The form's current values."""
        custom = self.query_one("#launch-custom", Input).value.strip()
        recipe = custom or str(self.query_one("#launch-recipe", Select).value)
        model = self.query_one("#launch-model", Select).value
        return LaunchForm(
            recipe=recipe,
            model="" if model == Select.NULL else str(model),
            renderer=self._text("#launch-renderer"),
            learning_rate=self._text("#launch-lr"),
            local=self.query_one("#launch-local", Switch).value,
            smoke=self.query_one("#launch-smoke", Switch).value,
            queue=self.query_one("#launch-queue", Switch).value,
            name=self._text("#launch-name"),
            overrides=self._text("#launch-overrides"),
            sweep=self._text("#launch-sweep"),
            experiment=self.query_one("#launch-experiment", Switch).value,
            eval_set=self._text("#launch-eval-set"),
            max_examples=self._text("#launch-max-examples"),
            results_dir=self._text("#launch-results"),
        )

    def _text(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def can_launch(self) -> bool:
        return not self.busy and self.valid_form is not None and self.valid_form == self.form()

    def _status(self, text: str) -> None:
        self.query_one("#launch-status", Static).update(text)
        self.query_one("#launch-go", Button).disabled = not self.can_launch()

    @on(Input.Changed)
    @on(Switch.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        if self.valid_form is not None and self.valid_form != self.form():
            self._status("[$warning]changed since validation: validate again (enter)[/]")
        elif self.valid_form is not None:
            self._status("[$success]valid[/]: ctrl+l launches")

    @on(Select.Changed, "#launch-recipe")
    @on(Input.Changed, "#launch-custom")
    def _recipe_changed(self) -> None:
        recipe = self.form().recipe
        self.query_one("#launch-recipe-info", Static).update(recipe_info(recipe))
        self.query_one("#launch-exp-hint", Static).update(experiment_hint(recipe))

    @on(Switch.Changed, "#launch-experiment")
    def _experiment_changed(self, event: Switch.Changed) -> None:
        self.query_one("#launch-exp").display = event.value
        eval_set = self.query_one("#launch-eval-set", Input)
        if event.value and not eval_set.value.strip():
            eval_set.value = offered_eval_set(self.form().recipe)

    @on(Select.Changed, "#launch-model")
    def _model_changed(self, event: Select.Changed) -> None:
        choice = next((m for m in _lineup or [] if m.name == event.value), None)
        if choice is None:
            return
        self.query_one("#launch-renderer", Input).value = choice.renderer
        self.query_one("#launch-lr", Input).value = "" if choice.lr is None else f"{choice.lr:.3g}"

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_validate()

    @on(Button.Pressed, "#launch-validate")
    def _validate_pressed(self) -> None:
        self.action_validate()

    @on(Button.Pressed, "#launch-go")
    def _launch_pressed(self) -> None:
        self.action_launch()

    # --- lineup ---------------------------------------------------------------
    def _load_lineup(self) -> None:
        global _lineup
        try:
            models = api.model_lineup()
        except Exception as exc:  # noqa: BLE001 - shown in the form
            self.post_message(LineupLoaded([], error=str(exc)))
            return
        _lineup = models
        self.post_message(LineupLoaded(models))

    def on_lineup_loaded(self, message: LineupLoaded) -> None:
        if message.error:
            self.query_one("#launch-model", Select).prompt = "recipe default (lineup failed)"
            self.notify(f"model lineup: {message.error}", severity="warning", markup=False)
            return
        self._show_lineup(message.models)

    def _show_lineup(self, models: list[ModelChoice]) -> None:
        select = self.query_one("#launch-model", Select)
        options = [(f"{m.name}  ({m.label}, {m.size})", m.name) for m in models]
        wanted = self.initial.model
        if wanted and wanted not in {m.name for m in models}:
            options.insert(0, (f"{wanted}  (not in the lineup)", wanted))
        renderer, lr = self._text("#launch-renderer"), self._text("#launch-lr")
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.prompt = "recipe default"
            if wanted:
                select.value = wanted
        # a clone keeps its own renderer and learning rate
        self.query_one("#launch-renderer", Input).value = renderer
        self.query_one("#launch-lr", Input).value = lr

    # --- validate / launch ----------------------------------------------------
    def action_validate(self) -> None:
        if self.busy:
            return
        form = self.form()
        self.busy = True
        extra = "; Local starts the embedded backend if needed" if form.local else ""
        what = "experiment: reads the eval set and imports" if form.experiment else "imports"
        self._status(f"validating {_escape(form.recipe)}… ({what} the recipe in a subprocess{extra})")
        self.run_worker(
            partial(self._check, form, False), thread=True, group="launch-check", exit_on_error=False
        )

    def action_launch(self) -> None:
        if not self.can_launch():
            if not self.busy:
                self._status("[$warning]validate first: launch only from a valid form[/]")
            return
        form = self.form()
        self.busy = self.launching = True
        self._status(f"launching {_escape(form.recipe)}…")
        work = partial(self._start_experiment, form) if form.experiment else partial(self._check, form, True)
        self.run_worker(work, thread=True, group="launch-check", exit_on_error=False)

    def _start_experiment(self, form: LaunchForm) -> None:
        runs = self.result.runs if self.result else []
        if not form.name and len(runs) == 1:
            form = replace(form, name=runs[0].name)  # start the name that was shown
        try:
            started = api.start_experiment(form, self.cwd)
        except (OSError, ValueError) as exc:
            self.post_message(ExperimentLaunched(None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ExperimentLaunched(started))

    def on_experiment_launched(self, message: ExperimentLaunched) -> None:
        self.busy = self.launching = False
        started = message.started
        if started is None:
            self.query_one("#launch-config", Static).update(f"[$error]✗ {_escape(message.error)}[/]")
            self._status(f"[$error]experiment not started: {_escape(message.error)}[/]")
            return
        self.notify(
            f"experiment started (pid {started.pid}): results in {started.results}, log {started.log}; "
            "its run joins the list when training starts",
            markup=False,
            timeout=10,
        )
        self.dismiss(None)

    def _check(self, form: LaunchForm, launched: bool) -> None:
        runs = self.result.runs if launched and self.result else []
        if launched and not form.name and not form.sweep and len(runs) == 1:
            form = replace(form, name=runs[0].name)  # launch the name that was shown
        try:
            result = api.launch(form, self.cwd) if launched else api.validate(form, self.cwd)
        except Exception as exc:  # noqa: BLE001 - a timeout or a broken launcher, shown in the form
            result = LaunchResult(False, -1, f"{type(exc).__name__}: {exc}")
        self.post_message(FormChecked(form, result, launched))

    def on_form_checked(self, message: FormChecked) -> None:
        self.busy = self.launching = False
        self.result = message.result
        config = self.query_one("#launch-config", Static)
        if not message.result.ok:
            self.valid_form = None
            error = _escape(message.result.error)
            config.update(f"[$error]✗ {error}[/]")
            self._status(f"[$error]invalid: {error.splitlines()[0] if error else 'launcher failed'}[/]")
            return
        config.update(describe(message.result, message.launched, message.form.queue))
        if message.launched:
            names = ", ".join(r.name for r in message.result.runs)
            self.notify(f"{'queued' if message.form.queue else 'started'} {names}", markup=False)
            self.dismiss(None)
            return
        self.valid_form = message.form
        n = len(message.result.runs)
        self._status(f"[$success]valid[/]: {n} run{'s' if n != 1 else ''}; ctrl+l launches")

    def action_cancel(self) -> None:
        if self.launching:
            self.notify("launching: wait for the result", severity="warning")
            return
        self.dismiss(None)
