"""The ``mediagen`` command (typer + rich).

Exit codes: 0 all good, 1 some images failed, 2 bad input (spec, settings,
arguments). Expected errors print one clear message, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mediagen.cli import models as cli_models
from mediagen.cli.console import (
    EXIT_FAILED,
    EXIT_OK,
    configure_logging,
    console,
    err,
)
from mediagen.cli.console import brand_cell as _brand_cell
from mediagen.cli.console import formats_cell as _formats_cell
from mediagen.cli.console import user_errors as _user_errors
from mediagen.cli.run import manifest_key_of as _manifest_key
from mediagen.engine import guard as run_guard
from mediagen.errors import SpecError
from mediagen.manifest import prefix_owner, visibility
from mediagen.manifest.model import Manifest
from mediagen.plan import preflight
from mediagen.plan.diff import Plan, make_plan
from mediagen.plan.jobs import expand_spec, prefix_of
from mediagen.settings import get_settings
from mediagen.spec.models import JobSpec, json_schema, load_spec
from mediagen.spec.vocabulary import Quality, SizePreset, Theme
from mediagen.storage.bucket import Bucket, BucketConfig

app = typer.Typer(
    name="mediagen",
    help="Turn declarative YAML image specs into published, on-brand images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
SCHEMA_PATH = Path("specs/mediagen-spec.schema.json")


class Runner(StrEnum):
    thread = "thread"
    dask = "dask"


class IfRunning(StrEnum):
    wait = "wait"
    refuse = "refuse"


SpecArg = Annotated[Path, typer.Argument(help="Path to a YAML spec.", show_default=False)]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    configure_logging(verbose)  # quiet without -v: see mediagen/cli/console.py
    # Telemetry cannot reach out from most CI and private networks; it only logs errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's 20 s default is too short for a busy 2-core machine starting its local API.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def _load(path: Path) -> JobSpec:
    return load_spec(path)  # refuses folders, FIFOs, devices and oversize files


def _hold_lease(ctx: typer.Context, spec: JobSpec, mode: IfRunning | None = None) -> None:
    """Hold the spec's lease (mediagen/storage/lease.py) until the command ends, however it ends."""
    from mediagen.plan.trust import ensure_local_bucket
    from mediagen.storage.lease import one_run_per_spec

    config = BucketConfig.for_spec(spec, get_settings())
    if config.provider == "local":  # one line for a folder that can't be made, not "no such file"
        ensure_local_bucket(config.bucket, named_by_spec=spec.storage.bucket is not None)
    bucket = Bucket(config)
    held = one_run_per_spec(bucket, prefix_of(spec), spec=spec.name, mode=mode)
    ctx.with_resource(held)


def _plan(spec: JobSpec) -> tuple[Plan, Bucket, Manifest | None]:
    settings = get_settings()
    jobs = expand_spec(spec, settings)
    bucket = Bucket(BucketConfig.for_spec(spec, settings))
    # Refused (exit 2) when another spec owns the prefix: see mediagen.manifest.prefix_owner.
    previous = prefix_owner.open_prefix(bucket, prefix_owner.claim_of(spec), jobs).previous
    return make_plan(jobs, previous, settings), bucket, previous


@app.command()
def validate(
    spec: SpecArg,
    check_storage: Annotated[
        bool,
        typer.Option(
            "--check-storage",
            help="Also check the bucket: reachable, writable (a tiny probe object, "
            "deleted again), conditional writes. Writes no image.",
        ),
    ] = False,
) -> None:
    """Check a spec: syntax, fields, ids, template expansion (and, if asked, storage)."""
    checks = []
    with _user_errors():
        job_spec = _load(spec)
        jobs = expand_spec(job_spec, get_settings())
        if check_storage:  # before any "ok": a bucket that fails says so, and only that
            from mediagen.plan.trust import ensure_local_bucket
            from mediagen.storage.check import check_storage as run_checks

            config = BucketConfig.for_spec(job_spec, get_settings())
            if config.provider == "local":
                ensure_local_bucket(config.bucket, job_spec.storage.bucket is not None)
            checks = run_checks(
                Bucket(config), prefix_of(job_spec), prefix_owner.claim_of(job_spec)
            )
    console.print(f"[green]ok[/] {spec}: spec {job_spec.name!r}, {len(jobs)} image(s)")
    if check_storage:
        for check in checks:
            mark = "[green]ok[/]" if check.ok else "[yellow]warning[/]"
            console.print(f"{mark} {check.name}: {check.detail}", highlight=False, soft_wrap=True)


@app.command()
def plan(spec: SpecArg) -> None:
    """Show what a run would do: new, changed, unchanged and removed images, and cost."""
    with _user_errors():
        job_spec = _load(spec)
        the_plan, _, _ = _plan(job_spec)
    table = Table(title=f"Plan for {job_spec.name}")
    for column in ("id", "action", "size", "formats", "backend", "model", "est. cost", "why"):
        table.add_column(column)
    table.add_column("brand fit")
    for item in the_plan.items:
        job = item.job
        table.add_row(
            job.id,
            item.action,
            job.size_name,
            _formats_cell(job),
            job.backend,
            job.request.model or "",
            f"${item.estimated_cost_usd:.4f}",
            item.reason,
            _brand_cell(item.brand_score, item.off_brand),
        )
    for image_id in the_plan.removed:
        table.add_row(image_id, "removed", "", "", "", "", "", "no longer in the spec", "")
    console.print(table)
    counts = the_plan.counts()
    console.print(
        " · ".join(f"{k}: {v}" for k, v in counts.items())
        + f" · estimated cost: ${the_plan.estimated_cost_usd:.4f}"
        + (f" · budget: ${job_spec.budget_usd:.4f}" if job_spec.budget_usd is not None else "")
    )
    if the_plan.off_brand:
        console.print(
            f"[yellow]off-brand[/] ({len(the_plan.off_brand)}): {', '.join(the_plan.off_brand)}",
            soft_wrap=True,
        )
    from mediagen.plan.size import run_size  # disk, time and file-count thresholds

    for warning in run_size(the_plan.todo).warnings(get_settings()):
        console.print(f"[yellow]warning[/]: {warning}", highlight=False, soft_wrap=True)
    with _user_errors():  # the same refusal `run` would give
        run_guard.check_estimate(the_plan.estimated_cost_usd, job_spec.budget_usd)


@app.command()
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
) -> None:
    """Generate, process and publish every image that needs it; write the manifest."""
    from mediagen.cli import run as cli_run

    with cli_run.signal_guard() as guard:  # Ctrl-C from here on: exit 130, no traceback
        _run(ctx, spec, guard, concurrency, runner, dask_address, prune, yes, if_running)


def _run(ctx: typer.Context, spec: Path, guard: Any, concurrency: int | None,
         runner: Runner | None, dask_address: str | None, prune: bool, yes: bool,
         if_running: IfRunning | None) -> None:  # fmt: skip
    from mediagen.cli import run as cli_run

    with _user_errors():
        job_spec = _load(spec)
        _hold_lease(ctx, job_spec, if_running)  # before planning: plan what the other run left
        the_plan, bucket, previous = _plan(job_spec)
        preflight.check_run(job_spec, the_plan, get_settings())  # before any work
    todo = len(the_plan.todo)
    counts = the_plan.counts()
    console.print(
        f"[bold]{job_spec.name}[/]: {todo} image(s) to make, {counts['unchanged']} unchanged"
    )
    up_to_date = previous is not None and previous.spec_hash == job_spec.content_hash()
    up_to_date = up_to_date and not todo and not the_plan.removed
    if up_to_date and not _urls_expiring(previous) and not visibility.flipped(previous, bucket):
        # Nothing to make, upload or rewrite: skip starting Prefect altogether.
        console.print(
            f"up to date: manifest {bucket.plain_url(_manifest_key(previous, prefix_of(job_spec)))}"
        )
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


def _urls_expiring(manifest: Manifest | None) -> bool:
    """Presigned URLs past half their life: rewrite the manifest even if nothing changed."""
    from datetime import UTC, datetime, timedelta

    if manifest is None or manifest.urls_expire_at is None:
        return False
    left = manifest.urls_expire_at - datetime.now(UTC)
    return left < (manifest.urls_expire_at - manifest.created_at) / 2 or left < timedelta(0)


def _prune(bucket: Bucket, job_spec: JobSpec, yes: bool) -> None:
    from mediagen.manifest.prune import prune

    claim = prefix_owner.claim_of(job_spec)
    with _user_errors():
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


@app.command()
def delete(
    ctx: typer.Context,
    spec: SpecArg,
    image: Annotated[str, typer.Option("--image", help="Id of the image to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete (default: list only).")] = False,
) -> None:
    """Delete one image's published objects and its manifest entry (lists first)."""
    from mediagen.manifest.prune import delete_image

    with _user_errors():
        job_spec = _load(spec)
        bucket = Bucket(BucketConfig.for_spec(job_spec, get_settings()))
        prefix = prefix_of(job_spec)
        if yes:
            _hold_lease(ctx, job_spec)  # never delete under a run that may be reusing these objects
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


@app.command()
def submit(
    spec: SpecArg,
    deployment: Annotated[
        str, typer.Option(help="Deployment to run: NAME (of generate-media) or FLOW/NAME.")
    ] = "adhoc",
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the run to its end; exit with its status.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="With --watch: stop waiting after SECONDS.")
    ] = None,
) -> None:
    """Validate SPEC here, then run it on a Prefect deployment (PREFECT_API_URL)."""
    with _user_errors():
        job_spec = _load(spec)  # a bad spec stops here: nothing reaches the server
    from flows import submit as remote  # imports Prefect: only once the spec is valid

    with _user_errors():
        jobs = remote.jobs_to_submit(job_spec)  # the worker picks the backend, not this machine
        submitted = remote.submit_spec(job_spec, deployment)
    console.print(
        f"submitted {job_spec.name!r} ({len(jobs)} image(s)) to {submitted.deployment}",
        highlight=False,
    )
    console.print(f"flow run: {submitted.flow_run_id}", highlight=False)
    console.print(f"url: {submitted.url or '(set PREFECT_UI_URL to get a link)'}", highlight=False)
    if not watch:
        raise typer.Exit(EXIT_OK)

    def show(run: Any) -> None:
        state = run.state
        message = f": {state.message}" if state is not None and state.message else ""
        console.print(f"state: {state.name if state else 'unknown'}{message}", highlight=False)

    with _user_errors():
        final = remote.watch_run(submitted.flow_run_id, show, timeout=timeout)
    state = final.state
    if state is None or not state.is_final():
        err.print(f"still {state.name if state else 'unknown'} after {timeout:.0f} s; follow it at "
                  f"{submitted.url}", highlight=False)  # fmt: skip
        raise typer.Exit(EXIT_FAILED)
    with _user_errors():
        for name, link in sorted(remote.result_links(submitted.flow_run_id, job_spec.name).items()):
            console.print(f"{name}: {link}", highlight=False)
    raise typer.Exit(EXIT_OK if state.is_completed() else EXIT_FAILED)


@app.command()
def schema(
    out: Annotated[
        Path | None, typer.Option(help="Write the schema to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of a spec (point your editor at it for autocompletion)."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        console.print(f"wrote {out}")


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="What the image shows.")],
    out: Annotated[Path, typer.Option(help="File to write; its extension sets the format.")],
    size: Annotated[str, typer.Option(help="A preset name or WIDTHxHEIGHT.")] = "standard",
    theme: Annotated[Theme, typer.Option()] = Theme.MODERN,
    quality: Annotated[Quality, typer.Option()] = Quality.STANDARD,
    backend: Annotated[str | None, typer.Option(help="offline, gemini, ...")] = None,
    parents: Annotated[bool, typer.Option(help="Create --out's missing folders.")] = False,
) -> None:
    """Make one image and save it to a file (no spec, no bucket)."""
    from mediagen.client.api import generate_to_file

    with _user_errors():
        if size not in {s.value for s in SizePreset} and "x" not in size:
            raise SpecError(f"--size {size!r}: use a preset or WIDTHxHEIGHT")
        info = generate_to_file(
            prompt, out, size=size, theme=theme, quality=quality, backend=backend, parents=parents
        )
    console.print(f"wrote {out} ({info.width}x{info.height} {info.format}, {len(info.data)} bytes)")


app.command()(cli_models.models)  # `mediagen models`: the Gemini model catalogue


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
