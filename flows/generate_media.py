"""The Prefect flow ``generate-media``: thin wrappers around :mod:`mediagen.engine`.

Plan first, then fan out only the images that need work: each image's whole
chain (:func:`mediagen.engine.orchestrate.chain`: generate → process → upload)
runs inside one task run, one image per task run for up to 20 images, several
for larger runs (``flows/image_tasks.py``: why, and what the UI shows per image);
the tasks pass references, never bytes, and call straight into the engine. One
:class:`~mediagen.engine.run.Run` per flow run holds the run's state (abort,
budget, limits, clients); tasks find it through :mod:`flows.run_registry`. The
bucket is the cache (originals are stored the moment they exist), so Prefect's
own task cache is off: it would key on the run and never hit across runs.
"""

from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Cancelled, Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows import (
    batch_delivery,
    concurrency_limits,
    fanout,
    partial,
    review,
    run_logs,
    run_registry,
    secret_blocks,
)
from flows.artifacts import ProgressReporter, publish_run_artifacts
from flows.image_tasks import batch_name, make_task
from flows.parameters import SpecParameter, spec_name
from flows.plan_handoff import take as take_handed_plan
from flows.quoting import quoted
from mediagen.engine import orchestrate
from mediagen.engine.context import RunContext
from mediagen.engine.finalize import finalize
from mediagen.engine.outcomes import summarize
from mediagen.engine.pool import batches, images_per_task
from mediagen.engine.run import Run
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.manifest.prefix_owner import claim_of, open_prefix
from mediagen.plan import preflight, trust
from mediagen.plan.diff import Plan, make_plan
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.spec.models import JobSpec, spec_from_any
from mediagen.storage import lease

DEFAULT_THREADS = 48

secret_blocks.register()  # the Gemini key may live in a Prefect Secret block
run_logs.install()  # mediagen's own log lines go to the run's logs on the server too


_task_options: dict[str, Any] = {"cache_policy": NO_CACHE, "persist_result": False}


@task(name="plan", **_task_options)
def plan_task(spec: JobSpec, ctx: RunContext) -> tuple[Plan, Manifest | None]:
    run = run_registry.run_for(ctx)
    settings = run.settings
    jobs = expand_spec(spec, settings)
    # Refused (PrefixConflict) when another spec owns the prefix
    # (see mediagen.manifest.prefix_owner).
    previous = open_prefix(run.bucket(ctx.bucket), claim_of(spec), jobs).previous
    return make_plan(jobs, previous, settings), previous


def _plan(spec: JobSpec, ctx: RunContext) -> tuple[Plan, Manifest | None]:
    return plan_task(quoted(spec), quoted(ctx))


@task(name="write-manifest", **_task_options)
def manifest_task(
    ctx: RunContext, plan: Plan, results: dict[str, ImageEntry], previous: Manifest | None
) -> Manifest:
    run = run_registry.run_for(ctx)
    manifest = finalize(ctx, plan, results, previous, run)
    publish_run_artifacts(ctx, manifest, run.bucket(ctx.bucket))
    return manifest


def _run_name() -> str:
    spec = flow_run.parameters.get("spec")
    return spec_name(spec) or (Path(str(spec)).stem if spec else "generate-media")


def _deployment_id() -> UUID | None:
    """The flow run's deployment, from the run's context: ``prefect.runtime.deployment.id``
    looks on the context object itself, finds nothing and asks the API (~0.1 s)."""
    context = FlowRunContext.get()
    run = context.flow_run if context else None
    return run.deployment_id if run else None


@flow(
    name="generate-media",
    flow_run_name=_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=DEFAULT_THREADS),
    persist_result=False,
    # A run killed by a worker's cancel, or crashed, records itself in its manifest.
    on_cancellation=[partial.record_stopped_run],
    on_crashed=[partial.record_stopped_run],
)
def generate_media(spec: SpecParameter, concurrency: int | None = None) -> State:
    """Generate, process and publish every image of ``spec`` (a path or a mapping)."""
    logger = get_run_logger()
    settings = run_registry.flow_settings()
    # A run of a deployment got its spec from someone else: it may not choose what the
    # worker reads or where it writes (mediagen/plan/trust.py).
    trusted = _deployment_id() is None
    trust.check_spec_source(spec, trusted=trusted)
    job_spec = spec_from_any(spec)
    trust.check_spec(job_spec, settings, trusted=trusted)
    run_id = str(flow_run.id or "")
    ctx = RunContext.for_spec(job_spec, settings, run_id=run_id, concurrency=concurrency)
    with run_registry.flow_run(ctx, settings) as run:
        # One run per spec, wherever it starts: wait for (or refuse) a run of this prefix
        # in flight.
        bucket = run.bucket(ctx.bucket)
        with lease.one_run_per_spec(bucket, ctx.prefix, spec=job_spec.name, run_id=run_id,
                                    logger=logger, on_lost=run.abort):  # fmt: skip
            return _run(job_spec, ctx, run)


def _run(job_spec: JobSpec, ctx: RunContext, run: Run) -> State:
    """The run, under the spec's lease: plan, fan out, write the manifest."""
    logger = get_run_logger()
    settings = run.settings
    # `mediagen run` planned (and ran preflight) under the lease it still holds: plan once.
    planned = take_handed_plan(ctx.spec_hash, settings)
    plan, previous = (planned.plan, planned.previous) if planned else _plan(job_spec, ctx)
    counts = plan.counts()
    logger.info(
        "Plan for %s: %d new, %d changed, %d retry, %d unchanged, %d removed; "
        "estimated cost $%.4f",
        job_spec.name, counts["new"], counts["changed"], counts["retry"],
        counts["unchanged"], counts["removed"], plan.estimated_cost_usd,
    )  # fmt: skip
    logger.info(run_logs.backend_line(job_spec, [i.job for i in plan.items], settings))
    # No key for an explicit gemini spec, or an estimate over budget: fail before any work.
    if planned is None:
        preflight.check_run(job_spec, plan, settings)
    if batch_delivery.wanted(plan):  # rounds of batch jobs (flows/batch_delivery.py)
        return batch_delivery.run_rounds(job_spec, ctx, plan, previous, run, fan_out=_fan_out,
                                         replan=lambda: _plan(job_spec, ctx))  # fmt: skip
    return _fan_out(job_spec, ctx, plan, previous, run)


def _window(concurrency: int, per_task: int) -> int:
    """Images in flight: twice the backend's slots, so that when a call ends another image
    is already waiting for its slot. With exactly ``concurrency``, a slot stayed idle while
    its image was processed and uploaded, and while the other images of its task run
    finished (one reason 200 images at 16 took 1.36× the ideal: bench/versus_peer.py).
    Waiting images hold no pixels; the backend never sees more than ``concurrency`` calls."""
    return 2 * concurrency + per_task


def _fan_out(
    job_spec: JobSpec, ctx: RunContext, plan: Plan, previous: Manifest | None, run: Run,
    extra: dict[str, ImageEntry] | None = None,
) -> State:  # fmt: skip
    """Run the chains of the plan's images, but for ``extra`` (entries decided already)."""
    logger = get_run_logger()
    settings = run.settings
    extra = extra or {}
    # pick: review images wait for a person after the others are made (flows/review.py).
    todo = [job for job in plan.todo if job.id not in extra and not review.wants_review(job)]
    models = orchestrate.quota_models(todo, settings)
    if models and concurrency_limits.install(models, run):
        logger.info("Requests to %s share Prefect global concurrency limits", sorted(models))

    # One task run per image, or per few images in a large run (flows/image_tasks.py).
    per_task = images_per_task(len(todo), settings.images_per_task)

    def submit(jobs: list[ImageJob]) -> PrefectFuture[Any]:
        named = make_task.with_options(task_run_name=batch_name(jobs))
        return named.submit(quoted(jobs), quoted(ctx))

    progress = ProgressReporter(job_spec.name, len(todo), logger)
    fan = fanout.run_batches(
        batches(todo, per_task), submit, run, ctx, window=_window(ctx.concurrency, per_task),
        grace=settings.interrupt_grace,
        on_entry=lambda _, entry: progress.image_finished(entry.status == "ok"),
        cancel_requested=fanout.cancel_requested_on_server(), logger=logger,
    )  # fmt: skip
    progress.flush()
    results = dict(fan.entries)
    for job, why in fan.pending():
        results[job.id] = partial.pending_entry(job, ctx, f"{why}: {fan.interrupted}", previous)
    results.update(extra)
    waiting = [job for job in plan.todo if review.wants_review(job) and job.id not in extra]
    if fan.interrupted:
        results |= {j.id: partial.pending_entry(j, ctx, fan.interrupted, previous) for j in waiting}
    else:
        results |= review.review_todo(job_spec.name, waiting, previous, ctx, run)
    manifest = manifest_task(quoted(ctx), quoted(plan), quoted(results), quoted(previous))
    failed = manifest.failed()
    # One line per image that failed on its own; one line for all the images that an
    # abort or the budget stopped (a bad key must not print a thousand errors).
    summary = summarize(manifest)
    for entry in summary.failures:
        logger.error("Image %s %s: %s", entry.id, entry.status, entry.error)
    if manifest.run_aborted:
        logger.error("Run aborted: %s; %d image(s) not made", manifest.run_aborted, summary.aborted)
    if summary.skipped:
        logger.warning(
            "budget_usd $%.4f reached: %d image(s) skipped (they are retried next run)",
            job_spec.budget_usd or 0, summary.skipped,
        )  # fmt: skip
    message = (
        f"{manifest.counts['ok']} of {len(manifest.images)} images published, "
        f"{len(failed)} not; cost ${manifest.cost_usd:.4f}"
    )
    if manifest.run_aborted:
        message += f"; run aborted: {manifest.run_aborted}"
    if fan.interrupted:
        message += f"; {fan.interrupted}: {summary.pending} image(s) pending"
    logger.info(message)
    # Quoted, as the tasks' parameters are: Prefect would walk every entry (flows/quoting.py).
    data = quoted(manifest)
    if fan.interrupted:
        partial.note_interrupted(manifest, ctx, run.bucket(ctx.bucket))
    if fan.reraise is not None:
        raise fan.reraise  # a worker's cancel (SIGTERM): Prefect finishes the cancellation
    if fan.interrupted:
        return Cancelled(message=message, data=data)
    return Failed(message=message, data=data) if failed else Completed(message=message, data=data)
