"""What a run that stops early leaves behind: a partial manifest, and the flow hooks.

An interrupted run (Ctrl-C, SIGTERM, a cancel from the UI) writes its manifest
itself, from what it has in memory: images published so far are ``ok``, the rest
``pending`` (:func:`pending_entry`). The next run plans those as retries, and
their originals, stored the moment the backend answered, are reused: nothing
already paid for is generated again.

When the process that ran the flow cannot write it (a worker cancelled the run
and killed it, the process crashed), Prefect calls the flow's ``on_cancellation``
/ ``on_crashed`` hooks, often in another process (the worker or runner). The
hook (:func:`record_stopped_run`) checks the bucket: if the run's own manifest is
there it does nothing; otherwise it writes one from the plan, every image the
run had to make marked ``pending``, plus the gallery.
"""

from __future__ import annotations

import logging
from typing import Any

from mediagen.engine import interrupts
from mediagen.engine.context import RunContext
from mediagen.engine.entries import failed_entry
from mediagen.engine.finalize import finalize
from mediagen.manifest.model import ImageEntry, Manifest, manifest_key, read_manifest
from mediagen.manifest.report import interrupted_lines
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import JobSpec, spec_from_any
from mediagen.storage.bucket import Bucket

logger = logging.getLogger("mediagen")


def pending_entry(
    job: ImageJob, ctx: RunContext, reason: str, previous: Manifest | None
) -> ImageEntry:
    """The entry of an image the run did not finish.

    An image that was published before (its spec changed since) keeps its old,
    still valid entry: apps keep a working URL until the next run replaces it.
    """
    old = previous.images.get(job.id) if previous is not None else None
    if old is not None and old.status == "ok":
        return old
    return failed_entry(job, ctx, f"pending: {reason}", status="pending")


def write_pending_manifest(job_spec: JobSpec, run_id: str, reason: str) -> Manifest | None:
    """Record a run that could not record itself; None if it already did."""
    settings = get_settings()
    # The same context the flow builds, and a Run of its own: the flow's is gone.
    ctx = RunContext.for_spec(job_spec, settings, run_id=run_id)
    with ctx.new_run(settings) as run:
        current = read_manifest(run.bucket(ctx.bucket), ctx.prefix)
        if current is not None and current.run_id == run_id:
            return None  # the run wrote its own (partial) manifest before it stopped
        plan = make_plan(expand_spec(job_spec, settings), current, settings)
        results = {job.id: pending_entry(job, ctx, reason, current) for job in plan.todo}
        return finalize(ctx, plan, results, current, run)


def record_stopped_run(flow: Any, flow_run: Any, state: Any) -> None:
    """``on_cancellation`` / ``on_crashed`` hook of ``generate-media``.

    Never raises: a hook's error would only add noise to a run that already
    stopped. What it did goes to the run's log.
    """
    from prefect.logging.loggers import flow_run_logger

    run_log = flow_run_logger(flow_run, flow)
    reason = f"run {state.name.lower()}" if state is not None else "run stopped"
    try:
        job_spec = spec_from_any(flow_run.parameters.get("spec"))
        manifest = write_pending_manifest(job_spec, str(flow_run.id), reason)
    except Exception as exc:  # the bucket may be what failed
        run_log.warning("could not record the stopped run in its manifest: %s", exc)
        return
    if manifest is not None:
        run_log.warning(
            "%s: manifest written with %d image(s) pending; the next run resumes them",
            reason, manifest.counts.get("pending", 0),
        )  # fmt: skip


def note_interrupted(manifest: Manifest, ctx: RunContext, bucket: Bucket) -> None:
    """Hand the CLI's watchdog its last lines, in case threads still at the backend
    keep this process from returning to the command before its deadline."""
    interrupts.record_final_lines(
        interrupted_lines(manifest, bucket.plain_url(manifest_key(ctx.prefix)))
    )
