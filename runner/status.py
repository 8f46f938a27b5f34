"""A run's status: one enum for every layer (supervisor records, the run-folder reader, the CLI, the app).

``Status`` is a ``StrEnum``: each member *is* its string, so the JSON on disk and in ``--json`` output
keeps the same words, and records written before this enum (plain strings) compare equal to it.

Where each status comes from:

- the supervisor's record (``runner.control``): ``queued``, ``starting``, ``running``, ``finished``,
  ``failed``, ``stopped``, and ``lost`` (its supervisor is gone without a final record);
- the files alone (``runner.runs.status``): ``running``, ``finished``, ``failed``, ``stale``, ``unknown``;
- an action's outcome only, never a run's status: ``stopping`` (a stop asked for, not waited on) and
  ``deleted`` (``rm`` removed the run). A run that left the list is said by ``RunSummary.removed``.
"""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    LOST = "lost"
    STALE = "stale"
    UNKNOWN = "unknown"
    STOPPING = "stopping"
    DELETED = "deleted"

    @classmethod
    def parse(cls, text: object, default: Status) -> Status:
        """``text`` as a status; ``default`` when it is missing or not a status word."""
        try:
            return cls(str(text)) if text else default
        except ValueError:
            return default


LIVE = frozenset({Status.STARTING, Status.RUNNING})  # a supervisor owns a job (or is about to)
LIVE_OR_QUEUED = LIVE | {Status.QUEUED}  # nothing to resume or delete
TERMINAL = frozenset({Status.FINISHED, Status.FAILED, Status.STOPPED})  # ended, and recorded so
STOPPABLE = LIVE_OR_QUEUED | {Status.LOST}  # a lost run's job may still be there
