"""A plan made in this process, handed to the flow run it starts: plan once per run.

``mediagen run`` reads the spec, takes the spec's lease, plans (reading the previous
manifest from the bucket) and runs preflight before it starts Prefect: it must say
"up to date" or refuse a bad key without starting a flow. The flow used to do all
of it again. Now the CLI hands its plan on (:func:`handed`, set around the flow
call by :func:`flows.run.run_flow`) and the flow's plan step takes it
(:func:`take`) instead of planning again.

Why not a flow parameter: parameters are stored on the Prefect server, and a
plan is as large as the spec (a job per image, the previous manifest). The
hand-off is a context variable: it reaches the flow body (which runs in the
caller's context, as :mod:`flows.run_registry`'s local options do), never leaves
the process, and two flow runs in one process (a web app calling ``run_spec``
twice) never see each other's plan.

A handed plan is taken only while it is still valid, else the flow plans itself:

- for the same spec (content hash) and the same settings (backend, keys, storage:
  what planning reads);
- once (the flow run that takes it consumes it);
- its manifest is current because the CLI holds the spec's lease from before it
  planned until the run ends (:func:`mediagen.storage.lease.one_run_per_spec`):
  no other run of the spec can write a manifest in between.

A deployment run (a worker, ``mediagen submit``, the UI) has no caller in its
process: it plans itself, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from mediagen.manifest.model import Manifest
from mediagen.plan.diff import Plan
from mediagen.settings import Settings


@dataclass(frozen=True)
class Planned:
    """A plan, and what it was made from (preflight passed on it)."""

    spec_hash: str
    settings: Settings
    plan: Plan
    previous: Manifest | None


class _Slot:
    """One hand-off, taken at most once (a lock: the context may be copied to threads)."""

    def __init__(self, planned: Planned) -> None:
        self._planned: Planned | None = planned
        self._lock = threading.Lock()

    def take(self) -> Planned | None:
        with self._lock:
            planned, self._planned = self._planned, None
            return planned


_handed: ContextVar[_Slot | None] = ContextVar("mediagen_handed_plan", default=None)


@contextmanager
def handed(planned: Planned | None) -> Iterator[None]:
    """The flow run started in this context may take ``planned`` (None: nothing handed)."""
    token = _handed.set(_Slot(planned) if planned is not None else None)
    try:
        yield
    finally:
        _handed.reset(token)


def take(spec_hash: str, settings: Settings) -> Planned | None:
    """The plan handed to this flow run, if it is for this spec and these settings."""
    slot = _handed.get()
    planned = slot.take() if slot is not None else None
    if planned is None or planned.spec_hash != spec_hash or planned.settings != settings:
        return None
    return planned


__all__ = ["Planned", "handed", "take"]
