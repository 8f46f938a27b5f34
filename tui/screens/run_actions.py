"""Run control keys for the screens that show runs: new, clone, stop, resume, delete.

``RunControlMixin`` (a ``Screen``) goes first in a screen's bases; the screen adds
``control_bindings(prefix)`` to its BINDINGS and says which run is meant (``control_path``).
Every step that reads files or touches processes runs in a thread worker and reports by message;
destructive actions are capitals and always confirmed, naming the run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from runner import api
from runner.api import ActionResult, RunRef
from runner.status import LIVE_OR_QUEUED, STOPPABLE
from tui.typed import tapp
from tui.widgets.confirm import ConfirmModal, TypeNameModal

STOP_GRACE_S = 10.0
FORCE_GRACE_S = 1.0


def control_bindings(prefix: str) -> list[Binding]:
    """The control keys with ids under ``prefix`` (e.g. ``runs`` or ``run``)."""
    return [
        Binding("n", "new_run", "New run", id=f"{prefix}.new_run"),
        Binding("e", "clone_run", "Clone+edit", id=f"{prefix}.clone_run"),
        Binding("K", "stop_run", "Stop run", id=f"{prefix}.stop_run"),
        Binding("ctrl+k", "force_stop_run", "Force stop", show=False, id=f"{prefix}.force_stop_run"),
        Binding("R", "resume_run", "Resume run", id=f"{prefix}.resume_run"),
        Binding("D", "delete_run", "Delete run", id=f"{prefix}.delete_run"),
    ]


class RunLookedUp(Message):
    """The record of the run a control key is about (read in a worker)."""

    def __init__(self, ref: RunRef, verb: str) -> None:
        super().__init__()
        self.ref = ref
        self.verb = verb


class RunActionDone(Message):
    """A stop, resume, delete or clone finished (ok or refused)."""

    def __init__(self, verb: str, result: ActionResult) -> None:
        super().__init__()
        self.verb = verb
        self.result = result


class RunControlMixin(Screen[None]):
    """Actions behind ``control_bindings``, for the screens that show runs."""

    def control_path(self) -> str | None:
        """The folder of the run the keys act on (the screen says which)."""
        raise NotImplementedError

    # --- key actions ----------------------------------------------------------
    def action_new_run(self) -> None:
        from tui.screens.launch import LaunchScreen

        self.app.push_screen(LaunchScreen(self._workspace()))

    def action_clone_run(self) -> None:
        self._look_up("clone")

    def action_stop_run(self) -> None:
        self._look_up("stop")

    def action_force_stop_run(self) -> None:
        self._look_up("force")

    def action_resume_run(self) -> None:
        self._look_up("resume")

    def action_delete_run(self) -> None:
        self._look_up("delete")

    # --- lookup, confirm, act -------------------------------------------------
    def _workspace(self) -> Path:
        from runner.paths import workspace_for

        return workspace_for(tapp(self).roots)

    def _look_up(self, verb: str) -> None:
        path = self.control_path()
        if not path:
            self.notify("no run selected", severity="warning", markup=False)
            return
        self.run_worker(
            partial(self._lookup_worker, path, verb), thread=True, group="control-lookup", exit_on_error=False
        )

    def _lookup_worker(self, path: str, verb: str) -> None:
        self.post_message(RunLookedUp(api.lookup(path), verb))

    def on_run_looked_up(self, message: RunLookedUp) -> None:
        ref, verb = message.ref, message.verb
        notify = self.notify
        if ref.run_id is None:
            notify(
                f"{ref.name} was not launched by tinkertop: no supervisor record",
                severity="warning",
                markup=False,
            )
            return
        push = self.app.push_screen
        if verb == "clone":
            self._act("clone", api.clone_form, ref)
        elif verb in ("stop", "force"):
            if ref.status not in STOPPABLE:
                notify(f"{ref.name} is {ref.status}: nothing to stop", severity="warning", markup=False)
                return
            grace = STOP_GRACE_S if verb == "stop" else FORCE_GRACE_S
            body = (
                f"SIGTERM to the process group of {ref.title()}, SIGKILL after {grace:.0f} s.\n"
                "Its folder and logs stay; R resumes it from its last checkpoint."
            )
            title = f"{'Stop' if verb == 'stop' else 'Force-stop'} run {ref.name}?"
            push(ConfirmModal(title, body, "Stop"), partial(self._confirmed, verb, ref))
        elif verb == "resume":
            if ref.status in LIVE_OR_QUEUED:
                notify(f"{ref.name} is {ref.status}: nothing to resume", severity="warning", markup=False)
                return
            body = f"Relaunch {ref.title()} in its folder from its last checkpoint."
            push(
                ConfirmModal(f"Resume run {ref.name}?", body, "Resume"),
                partial(self._confirmed, "resume", ref),
            )
        elif verb == "delete":
            if ref.status in LIVE_OR_QUEUED:
                notify(
                    f"{ref.name} is {ref.status}: stop it (K) before deleting", severity="error", markup=False
                )
                return
            body = (
                f"Deletes the folder {ref.path} and its record. This cannot be undone.\nType the run's name:"
            )
            push(TypeNameModal(f"Delete run {ref.name}?", body, ref.name), partial(self._typed, ref))

    def _confirmed(self, verb: str, ref: RunRef, yes: bool | None) -> None:
        if not yes:
            return
        if verb in ("stop", "force"):
            self.notify(f"stopping {ref.name}…", markup=False)
            self._act("stop", api.stop, ref, STOP_GRACE_S if verb == "stop" else FORCE_GRACE_S)
        else:
            self._act("resume", api.resume, ref)

    def _typed(self, ref: RunRef, typed: str | None) -> None:
        if typed is not None:
            self._act("delete", api.delete, ref, typed)

    def _act(self, verb: str, fn: Callable[..., ActionResult], *args: object) -> None:
        """Run ``fn`` in an app-level worker (it outlives this screen) and report back here."""
        self.app.run_worker(
            partial(self._action_worker, verb, fn, *args),
            thread=True,
            group=f"control-{verb}",
            exit_on_error=False,
        )

    def _action_worker(self, verb: str, fn: Callable[..., ActionResult], *args: object) -> None:
        try:
            result = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported to the user
            result = ActionResult(False, f"{verb} failed: {type(exc).__name__}: {exc}")
        if not self.post_message(RunActionDone(verb, result)):
            self.app.call_from_thread(partial(self.app.notify, result.message, markup=False))

    def on_run_action_done(self, message: RunActionDone) -> None:
        result = message.result
        if message.verb == "clone" and result.ok and result.form is not None:
            from tui.screens.launch import LaunchScreen

            self.app.push_screen(LaunchScreen(self._workspace(), result.form))
            return
        self.notify(result.message, severity="information" if result.ok else "error", markup=False)
        tapp(self).resummarise_runs(every=True)
