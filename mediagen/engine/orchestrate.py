"""The one place that says how an image is made: generate → process → upload.

:func:`chain` is the sequence and its data flow, nothing else; *how* each stage
runs is the executor's business, a callable ``submit(stage, *args)`` that returns
a handle the next stages take as arguments:

- :class:`Direct`: call the stage here and now (the Python API, tests, bench);
- a Prefect task submit (``flows/generate_media.py``): a task run per stage, with
  retries and a row in the UI; the handles are Prefect futures.

On top of it: :func:`make_image` (one image, failures recorded in its entry),
:func:`make_files` (generate and process only, errors raised: the Python API
publishes itself), :func:`run_images` (many images on a thread pool) and
:func:`run_spec` (a whole spec without Prefect: plan, images, manifest).

The step functions (:func:`generate_step` …) are what an executor's stage runs:
the stages of :mod:`mediagen.engine.generate` / ``process`` / ``upload`` plus the
stop handling (:class:`~mediagen.engine.outcomes.Stopped` passed down the chain).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mediagen.backends import get_backend_class

# Candidate-aware stages: the ordinary ones for an image without candidates (issue 17).
from mediagen.engine.candidates import generate_any as generate
from mediagen.engine.candidates import process_any as process
from mediagen.engine.candidates import upload_any as upload
from mediagen.engine.context import Generated, Processed, RunContext
from mediagen.engine.finalize import finalize
from mediagen.engine.outcomes import StageState, Stopped, image_outcome, stopped, stopped_entry
from mediagen.engine.run import Run
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.diff import Plan
from mediagen.plan.jobs import ImageJob
from mediagen.settings import Settings
from mediagen.spec import alt_text

Submit = Callable[..., Any]  # submit(stage name, *args) -> a handle later stages take


# -- the steps an executor runs ----------------------------------------------------------


def generate_step(job: ImageJob, ctx: RunContext, run: Run) -> Generated | Stopped:
    """Generate, or the :class:`Stopped` of an image the run stopped (abort, budget, Ctrl-C)."""
    try:
        return generate(job, ctx, run)
    except Exception as exc:
        stop = stopped("generate", exc)
        if stop is None:
            raise
        return stop


def process_step(
    job: ImageJob, generated: Generated | Stopped, ctx: RunContext, run: Run
) -> list[Processed] | Stopped:
    if isinstance(generated, Stopped):
        return generated
    return process(job, generated, ctx, run)


def upload_step(
    job: ImageJob,
    generated: Generated | Stopped,
    processed: list[Processed] | Stopped,
    ctx: RunContext,
    run: Run,
) -> ImageEntry:
    if isinstance(generated, Stopped):
        return stopped_entry(job, ctx, generated)
    assert not isinstance(processed, Stopped)
    return upload(job, generated, processed, ctx, run)


STEPS: dict[str, Callable[..., Any]] = {
    "generate": generate_step,
    "process": process_step,
    "upload": upload_step,
}
STAGE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "generate": generate,
    "process": process,
    "upload": upload,
}


# -- the chain ------------------------------------------------------------------------


def chain(job: ImageJob, ctx: RunContext, submit: Submit, *, publish: bool = True) -> list[Any]:
    """Submit the stages of ``job`` in order; returns their handles.

    ``publish=False`` stops after processing (the Python API uploads on its own terms).
    """
    generated = submit("generate", job, ctx)
    processed = submit("process", job, generated, ctx)
    if not publish:
        return [generated, processed]
    return [generated, processed, submit("upload", job, generated, processed, ctx)]


class Direct:
    """An executor that runs each stage at once, in this thread, for ``run``.

    Handles are :class:`StageState`; a stage whose input failed is not run.
    ``raising=True`` runs the plain stages and lets their errors propagate.
    """

    def __init__(self, run: Run, *, raising: bool = False) -> None:
        self.run = run
        self.raising = raising

    def __call__(self, stage: str, *args: Any) -> StageState:
        inputs = []
        for arg in args:
            if isinstance(arg, StageState):
                if not arg.completed:
                    return StageState(name="NotReady")  # its input failed: not run
                arg = arg.value
            inputs.append(arg)
        if self.raising:
            return StageState(completed=True, value=STAGE_FUNCTIONS[stage](*inputs, self.run))
        try:
            return StageState(completed=True, value=STEPS[stage](*inputs, self.run))
        except Exception as exc:
            return StageState(failed=True, error=exc, message=str(exc))


def make_image(job: ImageJob, ctx: RunContext, run: Run) -> ImageEntry:
    """Make and publish one image; a failure is recorded in the entry, not raised."""
    return image_outcome(job, ctx, chain(job, ctx, Direct(run)))


def make_files(job: ImageJob, ctx: RunContext, run: Run) -> tuple[Generated, list[Processed]]:
    """Generate and process one image (files in the scratch folder); errors are raised."""
    generated, processed = chain(job, ctx, Direct(run, raising=True), publish=False)
    return generated.value, processed.value


def run_images(
    jobs: Iterable[ImageJob], ctx: RunContext, run: Run, *, workers: int = 1
) -> dict[str, ImageEntry]:
    """Make every job's image (``workers`` at a time); returns {image id: entry}."""
    jobs = list(jobs)
    if workers <= 1:
        return {job.id: make_image(job, ctx, run) for job in jobs}
    with ThreadPoolExecutor(workers, thread_name_prefix="mediagen-image") as pool:
        entries = pool.map(lambda job: make_image(job, ctx, run), jobs)
        return {job.id: entry for job, entry in zip(jobs, entries, strict=True)}


def run_spec(
    plan: Plan,
    ctx: RunContext,
    run: Run,
    previous: Manifest | None = None,
    *,
    workers: int = 1,
) -> Manifest:
    """Run a planned spec without Prefect: make what the plan says, write the manifest."""
    results = run_images(plan.todo, ctx, run, workers=workers)
    return finalize(ctx, plan, results, previous, run)


def quota_models(jobs: Iterable[ImageJob], settings: Settings) -> set[str]:
    """The models whose quota the jobs spend (their backends say: the engine never names
    a provider); the flow holds one cross-process limit per model named here."""
    return {
        model
        for job in jobs
        for model in get_backend_class(job.backend).quota_models(
            job.request, settings, describes=alt_text.is_auto(job.alt_text)
        )
    }


__all__ = [
    "STEPS",
    "Direct",
    "Submit",
    "chain",
    "generate_step",
    "make_files",
    "make_image",
    "process_step",
    "quota_models",
    "run_images",
    "run_spec",
    "upload_step",
]
