"""Commands that write to the bucket: ``run`` (and ``--prune``) and ``delete``.

Both hold the spec's lease while they write (mediagen/storage/lease.py), and
both list what they would delete before deleting anything (``--yes``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from mediagen.cli.console import EXIT_FAILED, EXIT_OK, console, user_errors
from mediagen.cli.planning import DeliveryOption, IfRunning, SpecArg, hold_lease, load, plan_spec
from mediagen.cli.run import manifest_key_of
from mediagen.errors import SpecError
from mediagen.manifest import prefix_owner, visibility
from mediagen.manifest.model import Manifest
from mediagen.plan import preflight
from mediagen.plan.jobs import expand_spec, prefix_of
from mediagen.settings import get_settings
from mediagen.spec.models import JobSpec
from mediagen.storage.bucket import Bucket, BucketConfig


class Runner(StrEnum):
    thread = "thread"
    dask = "dask"


def run(
    ctx: typer.Context,
    spec: SpecArg,
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=256, help="Images in flight at once.")
    ] = None,
    runner: Annotated[
        Runner | None,
        typer.Option(help="Where tasks run: threads here (default), or a Dask cluster."),
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(help="Scheduler of an existing Dask cluster; default: a local one."),
    ] = None,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="After the run, list the objects of images no longer in the spec "
            "(only keys mediagen's manifest recorded). Deletes them only with --yes.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --prune: really delete.")] = False,
    if_running: Annotated[
        IfRunning | None,
        typer.Option(help="If the spec is running elsewhere: wait for it (default) or exit 2."),
    ] = None,
    delivery: DeliveryOption = None,
) -> None:
    """Generate, process and publish every image that needs it; write the manifest."""
    from mediagen.cli import run as cli_run

    with cli_run.signal_guard() as guard:  # Ctrl-C from here on: exit 130, no traceback
        _run(ctx, spec, guard, concurrency, runner, dask_address, prune, yes, if_running,
             delivery)  # fmt: skip


def _run(ctx: typer.Context, spec: Path, guard: Any, concurrency: int | None,
         runner: Runner | None, dask_address: str | None, prune: bool, yes: bool,
         if_running: IfRunning | None, delivery: Any = None) -> None:  # fmt: skip
    from mediagen.cli import run as cli_run

    with user_errors():
        job_spec = load(spec, delivery)  # --delivery: every image, whatever the spec says
        hold_lease(ctx, job_spec, if_running)  # before planning: plan what the other run left
        the_plan, bucket, previous = plan_spec(job_spec)
        preflight.check_run(job_spec, the_plan, get_settings())  # before any work
    todo = len(the_plan.todo)
    counts = the_plan.counts()
    console.print(
        f"[bold]{job_spec.name}[/]: {todo} image(s) to make, {counts['unchanged']} unchanged"
    )
    up_to_date = previous is not None and previous.spec_hash == job_spec.content_hash()
    up_to_date = up_to_date and not todo and not the_plan.removed
    if up_to_date and not urls_expiring(previous) and not visibility.flipped(previous, bucket):
        # Nothing to make, upload or rewrite: skip starting Prefect altogether.
        key = manifest_key_of(previous, prefix_of(job_spec))
        console.print(f"up to date: manifest {bucket.plain_url(key)}")
        if prune:
            _prune(bucket, job_spec, yes)
        raise typer.Exit(EXIT_OK)
    manifest = cli_run.run_flow_and_report(
        job_spec, todo, bucket, prefix_of(job_spec), guard, planned=(the_plan, previous),
        concurrency=concurrency, runner=runner.value if runner else None,
        dask_address=dask_address,
    )  # fmt: skip
    if prune:
        _prune(bucket, job_spec, yes)
    raise typer.Exit(EXIT_FAILED if manifest.failed() else EXIT_OK)


def urls_expiring(manifest: Manifest | None) -> bool:
    """Presigned URLs past half their life: rewrite the manifest even if nothing changed."""
    if manifest is None or manifest.urls_expire_at is None:
        return False
    left = manifest.urls_expire_at - datetime.now(UTC)
    return left < (manifest.urls_expire_at - manifest.created_at) / 2 or left < timedelta(0)


def _prune(bucket: Bucket, job_spec: JobSpec, yes: bool) -> None:
    from mediagen.manifest.prune import prune

    claim = prefix_owner.claim_of(job_spec)
    with user_errors():
        deletion = prune(bucket, claim.prefix, dry_run=not yes, claim=claim)
    _print_deletion(deletion.keys, deletion.done, "prune", "no longer used by any image")


def _print_deletion(keys: list[str], done: bool, what: str, why: str) -> None:
    if not keys:
        console.print(f"{what}: nothing to delete")
        return
    verb = "deleted" if done else "would delete"
    console.print(f"{what}: {verb} {len(keys)} object(s) {why}:")
    for key in keys:
        console.print(f"  {key}", highlight=False, markup=False, soft_wrap=True)
    if not done:
        console.print("dry run: nothing deleted; add --yes to delete them")


def delete(
    ctx: typer.Context,
    spec: SpecArg,
    image: Annotated[str, typer.Option("--image", help="Id of the image to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete (default: list only).")] = False,
) -> None:
    """Delete one image's published objects and its manifest entry (lists first)."""
    from mediagen.manifest.prune import delete_image

    with user_errors():
        job_spec = load(spec)
        bucket = Bucket(BucketConfig.for_spec(job_spec, get_settings()))
        prefix = prefix_of(job_spec)
        if yes:
            hold_lease(ctx, job_spec)  # never delete under a run that may be reusing these objects
        try:
            claim = prefix_owner.claim_of(job_spec)
            deletion = delete_image(bucket, prefix, image, dry_run=not yes, claim=claim)
        except KeyError:
            raise SpecError(
                f"no image {image!r} in the manifest at {bucket.plain_url(claim.manifest_key)}"
            ) from None
    _print_deletion(deletion.keys, deletion.done, f"delete {image}", "recorded for it")
    if deletion.done:
        console.print(f"removed {image!r} from the manifest")
    if deletion.done and any(j.id == image for j in expand_spec(job_spec, get_settings())):
        console.print(f"note: {image!r} is still in the spec: the next run publishes it again")


__all__ = ["Runner", "delete", "run", "urls_expiring"]
