"""The Prefect flow ``generate-media``: thin wrappers around :mod:`mediagen.engine.stages`.

Plan first, then fan out only the images that need work, as chains of three
tasks (generate → process → upload) that pass references, never bytes. The
bucket is the cache (originals are stored the moment they exist), so Prefect's
own task cache is off: it would key on the run and never hit across runs.
"""

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from prefect.runtime import deployment, flow_run
from prefect.states import Cancelled, Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from flows import concurrency_limits, fanout, partial, run_logs, secret_blocks
from flows.artifacts import ProgressReporter, publish_run_artifacts, stopped_by_abort
from flows.parameters import SpecParameter, spec_name
from mediagen.backends import get_backend_class
from mediagen.engine import guard as run_guard
from mediagen.engine import ratelimit
from mediagen.engine import stages as pipeline
from mediagen.errors import (
    AuthError,
    BudgetExceededError,
    ConfigurationError,
    RunAbortedError,
    RunInterruptedError,
    TransientError,
    TransientStorageError,
)
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.manifest.prefix_owner import claim_of, open_prefix
from mediagen.plan import preflight, trust
from mediagen.plan.diff import Plan, make_plan
from mediagen.plan.jobs import ImageJob, expand_spec, prefix_of
from mediagen.reasons import short_reason
from mediagen.settings import Settings, get_settings
from mediagen.spec import alt_text
from mediagen.spec.models import JobSpec, spec_from_any
from mediagen.storage import lease
from mediagen.storage.bucket import BucketConfig

DEFAULT_THREADS = 48

secret_blocks.register()  # the Gemini key may live in a Prefect Secret block
run_logs.install()  # mediagen's own log lines go to the run's logs on the server too


def _retry_transient(task: Any, task_run: Any, state: State) -> bool:
    """Retry only what may succeed later; blocked and permanent errors fail at once."""
    try:
        state.result()
    except (TransientError, TransientStorageError, ConnectionError, TimeoutError):
        return True
    except Exception:
        return False
    return False


def _jittered_delays(retries: int, base: float) -> list[float]:
    # Prefect's client-side engine ignores retry_jitter_factor: jitter here, per image,
    # so a storm of 429s does not come back as a synchronised storm.
    return [round(base * 2**i * random.uniform(1.0, 1.5), 3) for i in range(retries)]


_task_options: dict[str, Any] = {
    "cache_policy": NO_CACHE,
    "persist_result": False,
    "retry_condition_fn": _retry_transient,
}


@dataclass(frozen=True)
class Stopped:
    """An image the run stopped before making (abort, budget): passed down the chain.

    Its tasks end Completed, so a bad key or an exhausted budget gives one message
    for the run instead of three failed task runs per image in the logs and the UI.
    """

    status: str  # failed | skipped | pending
    error: str


@task(name="generate", task_run_name="generate-{job.id}", **_task_options)
def generate_task(job: ImageJob, ctx: pipeline.RunContext) -> pipeline.Generated | Stopped:
    try:
        return pipeline.generate(job, ctx)
    except RunInterruptedError as exc:  # Ctrl-C / cancel before its backend call
        return Stopped("pending", f"generate: {exc}")
    except (AuthError, ConfigurationError, RunAbortedError) as exc:
        return Stopped("failed", f"generate: {short_reason(exc)}")
    except BudgetExceededError as exc:
        return Stopped("skipped", f"generate: {short_reason(exc)}")


@task(name="process", task_run_name="process-{job.id}", **_task_options)
def process_task(
    job: ImageJob, generated: pipeline.Generated | Stopped, ctx: pipeline.RunContext
) -> list[pipeline.Processed] | Stopped:
    if isinstance(generated, Stopped):
        return generated
    return pipeline.process(job, generated, ctx)


@task(name="upload", task_run_name="upload-{job.id}", **_task_options)
def upload_task(
    job: ImageJob,
    generated: pipeline.Generated | Stopped,
    processed: list[pipeline.Processed] | Stopped,
    ctx: pipeline.RunContext,
) -> ImageEntry:
    if isinstance(generated, Stopped):
        return pipeline.failed_entry(job, ctx, generated.error, status=generated.status)
    assert not isinstance(processed, Stopped)
    return pipeline.upload(job, generated, processed, ctx)


@task(name="plan", **_task_options)
def plan_task(spec: JobSpec, ctx: pipeline.RunContext) -> tuple[Plan, Manifest | None]:
    settings = get_settings()
    jobs = expand_spec(spec, settings)
    # Refused (PrefixConflict) when another spec owns the prefix
    # (see mediagen.manifest.prefix_owner).
    previous = open_prefix(pipeline.bucket_for(ctx.bucket), claim_of(spec), jobs).previous
    return make_plan(jobs, previous, settings), previous


@task(name="write-manifest", **_task_options)
def manifest_task(
    ctx: pipeline.RunContext,
    plan: Plan,
    results: dict[str, ImageEntry],
    previous: Manifest | None,
    budget_usd: float | None = None,
) -> Manifest:
    manifest = pipeline.finalize(ctx, plan, results, previous, budget_usd)
    publish_run_artifacts(ctx, manifest)
    return manifest


def _run_name() -> str:
    spec = flow_run.parameters.get("spec")
    return spec_name(spec) or (Path(str(spec)).stem if spec else "generate-media")


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
    settings = get_settings()
    # A run of a deployment got its spec from someone else: it may not choose what the
    # worker reads or where it writes (mediagen/plan/trust.py).
    trusted = deployment.id is None
    trust.check_spec_source(spec, trusted=trusted)
    job_spec = spec_from_any(spec)
    trust.check_spec(job_spec, settings, trusted=trusted)
    limit = concurrency or job_spec.concurrency or settings.concurrency
    ctx = pipeline.RunContext(
        spec_name=job_spec.name,
        spec_hash=job_spec.content_hash(),
        spec_version=job_spec.version,
        prefix=prefix_of(job_spec),
        # The connection pool is sized to the images in flight (see storage.pool_size_for).
        bucket=BucketConfig.for_spec(job_spec, settings, concurrency=limit),
        run_id=str(flow_run.id or ""),
        shared_prefix=job_spec.storage.shared_prefix,
    )
    # One run per spec, wherever it starts: wait for (or refuse) a run of this prefix in flight.
    bucket = pipeline.bucket_for(ctx.bucket)
    with lease.one_run_per_spec(bucket, ctx.prefix, spec=job_spec.name, run_id=ctx.run_id,
                                logger=logger, on_lost=run_guard.abort):  # fmt: skip
        return _run(job_spec, ctx, limit, settings)


def _run(job_spec: JobSpec, ctx: pipeline.RunContext, limit: int, settings: Settings) -> State:
    """The run, under the spec's lease: plan, fan out, write the manifest."""
    logger = get_run_logger()
    pipeline.set_concurrency(limit)
    run_guard.start_run(job_spec.budget_usd)
    ratelimit.configure(job_spec.rate_limits)
    plan, previous = plan_task(job_spec, ctx)
    counts = plan.counts()
    logger.info(
        "Plan for %s: %d new, %d changed, %d retry, %d unchanged, %d removed; "
        "estimated cost $%.4f",
        job_spec.name, counts["new"], counts["changed"], counts["retry"],
        counts["unchanged"], counts["removed"], plan.estimated_cost_usd,
    )  # fmt: skip
    logger.info(run_logs.backend_line(job_spec, [i.job for i in plan.items], settings))
    # No key for an explicit gemini spec, or an estimate over budget: fail before any work.
    preflight.check_run(job_spec, plan, settings)
    try:
        return _fan_out(job_spec, ctx, plan, previous, settings, limit)
    finally:
        concurrency_limits.uninstall()


def _fan_out(
    job_spec: JobSpec,
    ctx: pipeline.RunContext,
    plan: Plan,
    previous: Manifest | None,
    settings: Settings,
    limit: int = DEFAULT_THREADS,
) -> State:
    logger = get_run_logger()
    models = {
        model
        for job in plan.todo
        for model in get_backend_class(job.backend).quota_models(
            job.request, settings, describes=alt_text.is_auto(job.alt_text))
    }  # fmt: skip
    if models and concurrency_limits.install(models, settings):
        logger.info("Requests to %s share Prefect global concurrency limits", sorted(models))

    delays = {"retries": settings.task_retries}

    def submit(job: ImageJob) -> list[PrefectFuture[Any]]:
        retry = {**delays, "retry_delay_seconds": _jittered_delays(
            settings.task_retries, settings.retry_base_delay)}  # fmt: skip
        gen = generate_task.with_options(**retry).submit(job, ctx)
        proc = process_task.with_options(**retry).submit(job, gen, ctx)
        up = upload_task.with_options(**retry).submit(job, gen, proc, ctx)
        return [gen, proc, up]

    def finished(future: PrefectFuture[Any]) -> None:
        future.wait()  # done already: this only records the final state, no API call
        progress.image_finished(future.state.is_completed())

    progress = ProgressReporter(job_spec.name, len(plan.todo), logger)
    # Chains in flight: about what the thread pool runs at once (3 tasks per image).
    fan = fanout.run_chains(
        plan.todo, submit, window=limit + 1, grace=settings.interrupt_grace,
        on_finished=finished, cancel_requested=fanout.cancel_requested_on_server(),
        logger=logger,
    )  # fmt: skip
    progress.flush()
    done = fan.done()
    wait([f for _, futures in done.values() for f in futures])
    results = {image_id: _outcome(job, futures, ctx) for image_id, (job, futures) in done.items()}
    for job, why in fan.pending():
        results[job.id] = partial.pending_entry(job, ctx, f"{why}: {fan.interrupted}", previous)
    manifest = manifest_task(ctx, plan, results, previous, job_spec.budget_usd)
    failed = manifest.failed()
    # One line per image that failed on its own; one line for all the images that an
    # abort or the budget stopped (a bad key must not print a thousand errors).
    stopped = {"aborted": 0, "skipped": 0, "pending": 0}
    for entry in failed:
        if entry.status in ("skipped", "pending"):
            stopped[entry.status] += 1
        elif manifest.run_aborted and stopped_by_abort(entry):
            stopped["aborted"] += 1
        else:
            logger.error("Image %s %s: %s", entry.id, entry.status, entry.error)
    if manifest.run_aborted:
        logger.error(
            "Run aborted: %s; %d image(s) not made",
            manifest.run_aborted, stopped["aborted"],
        )  # fmt: skip
    if stopped["skipped"]:
        logger.warning(
            "budget_usd $%.4f reached: %d image(s) skipped (they are retried next run)",
            job_spec.budget_usd or 0, stopped["skipped"],
        )  # fmt: skip
    message = (
        f"{manifest.counts['ok']} of {len(manifest.images)} images published, "
        f"{len(failed)} not; cost ${manifest.cost_usd:.4f}"
    )
    if manifest.run_aborted:
        message += f"; run aborted: {manifest.run_aborted}"
    if fan.interrupted:
        message += f"; {fan.interrupted}: {stopped['pending']} image(s) pending"
    logger.info(message)
    data = manifest.model_dump(mode="json")
    if fan.interrupted:
        partial.note_interrupted(manifest, ctx)
    if fan.reraise is not None:
        raise fan.reraise  # a worker's cancel (SIGTERM): Prefect finishes the cancellation
    if fan.interrupted:
        return Cancelled(message=message, data=data)
    return Failed(message=message, data=data) if failed else Completed(message=message, data=data)


def _outcome(
    job: ImageJob, futures: list[PrefectFuture[Any]], ctx: pipeline.RunContext
) -> ImageEntry:
    """The upload's entry, or a failed entry naming the first stage that failed."""
    upload_state = futures[-1].state
    if upload_state.is_completed():
        return upload_state.result()
    made = (
        futures[0].state.result(raise_on_failure=False) if futures[0].state.is_completed() else None
    )
    made = made if isinstance(made, pipeline.Generated) else None  # its cost stays with it
    for stage, future in zip(("generate", "process", "upload"), futures, strict=True):
        state = future.state
        if state.is_failed() or state.is_crashed():
            error = state.result(raise_on_failure=False)
            if isinstance(error, RunInterruptedError):  # e.g. its alt text was not asked
                return pipeline.failed_entry(job, ctx, f"{stage}: {error}", status="pending")
            if isinstance(error, BaseException):
                entry = pipeline.failed_entry(job, ctx, error, generated=made)
                return entry.model_copy(update={"error": f"{stage}: {entry.error}"})
            return pipeline.failed_entry(job, ctx, f"{stage}: {state.message}")
    return pipeline.failed_entry(job, ctx, f"did not finish: {upload_state.name}")
