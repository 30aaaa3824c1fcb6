"""The ``mediagen`` command (typer + rich).

Exit codes: 0 all good, 1 some images failed, 2 bad input (spec, settings,
arguments). Expected errors print one clear message, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediagen import allocator, events, preflight, run_guard
from mediagen.errors import BudgetExceededError, ConfigurationError, MediagenError, SpecError
from mediagen.jobs import expand_spec, prefix_of
from mediagen.manifest import Manifest, manifest_key, read_manifest
from mediagen.plan import Plan, make_plan
from mediagen.presets import Quality, SizePreset, Theme
from mediagen.settings import get_settings
from mediagen.spec import JobSpec, json_schema, load_spec
from mediagen.storage import Bucket, BucketConfig

app = typer.Typer(
    name="mediagen",
    help="Turn declarative YAML image specs into published, on-brand images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
SCHEMA_PATH = Path("specs/mediagen-spec.schema.json")


class Runner(StrEnum):
    thread = "thread"
    dask = "dask"


SpecArg = Annotated[Path, typer.Argument(help="Path to a YAML spec.", show_default=False)]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    # Telemetry cannot reach out from most CI and private networks; it only logs errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect's 20 s default is too short for a busy 2-core machine starting its local API.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Expected errors → one message, no traceback; exit 2 for bad input, 1 otherwise."""
    try:
        yield
    except SpecError as exc:
        err.print(f"error: {exc.args[0]}", highlight=False, markup=False, soft_wrap=True)
        for problem in exc.problems if exc.problems != [exc.args[0]] else []:
            err.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except FileNotFoundError as exc:
        err.print(f"error: no such file: {exc.filename or exc}", highlight=False, markup=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (ConfigurationError, BudgetExceededError) as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except MediagenError as exc:  # the run itself failed (storage, backend): not bad input
        err.print(
            f"error: {type(exc).__name__}: {exc}", highlight=False, markup=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_FAILED) from None


def _load(path: Path) -> JobSpec:
    if path.is_dir():
        raise SpecError(f"{path}: is a folder, not a spec file")
    return load_spec(path)


def _plan(spec: JobSpec) -> tuple[Plan, Bucket, Manifest | None]:
    settings = get_settings()
    jobs = expand_spec(spec, settings)
    bucket = Bucket(BucketConfig.for_spec(spec, settings))
    previous = read_manifest(bucket, prefix_of(spec))
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
    with _user_errors():
        job_spec = _load(spec)
        jobs = expand_spec(job_spec, get_settings())
    console.print(f"[green]ok[/] {spec}: spec {job_spec.name!r}, {len(jobs)} image(s)")
    if check_storage:
        from mediagen.storage_check import check_storage as run_checks

        with _user_errors():
            bucket = Bucket(BucketConfig.for_spec(job_spec, get_settings()))
            checks = run_checks(bucket, prefix_of(job_spec))
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
    with _user_errors():  # the same refusal `run` would give
        run_guard.check_estimate(the_plan.estimated_cost_usd, job_spec.budget_usd)


def _formats_cell(item: Any) -> str:
    """'jpeg,avif (7 files)': each format once, and the file count when renditions add some."""
    formats = ",".join(dict.fromkeys(o.format for o in item.outputs)) or getattr(item, "format", "")
    return f"{formats} ({len(item.outputs)} files)" if len(item.outputs) > 1 else formats


def _brand_cell(score: float | None, off_brand: bool) -> str:
    if score is None:
        return ""
    return f"{score:.0%} OFF-BRAND" if off_brand else f"{score:.0%}"


@app.command()
def run(
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
) -> None:
    """Generate, process and publish every image that needs it; write the manifest."""
    with _user_errors():
        job_spec = _load(spec)
        the_plan, bucket, previous = _plan(job_spec)
        preflight.check_run(job_spec, the_plan, get_settings())  # before any work
    todo = len(the_plan.todo)
    counts = the_plan.counts()
    console.print(
        f"[bold]{job_spec.name}[/]: {todo} image(s) to make, {counts['unchanged']} unchanged"
    )
    up_to_date = previous is not None and previous.spec_hash == job_spec.content_hash()
    if up_to_date and not todo and not the_plan.removed and not _urls_expiring(previous):
        # Nothing to make, upload or rewrite: skip starting Prefect altogether.
        console.print(f"up to date: manifest {bucket.plain_url(manifest_key(prefix_of(job_spec)))}")
        if prune:
            _prune(bucket, prefix_of(job_spec), yes)
        raise typer.Exit(EXIT_OK)
    allocator.limit_malloc_arenas()  # before the task threads: flat memory (bench/ 3)
    from flows.run import run_flow  # imports Prefect: only when a run needs it

    with _progress(todo) as advance:
        unsubscribe = events.subscribe(advance)
        try:
            with _user_errors():
                manifest = run_flow(
                    job_spec,
                    concurrency=concurrency,
                    runner=runner.value if runner else None,
                    dask_address=dask_address,
                )
        except RuntimeError as exc:  # Prefect itself could not start or run the flow
            err.print(f"error: Prefect could not run the flow: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(EXIT_FAILED) from None
        finally:
            unsubscribe()
    _print_summary(manifest, bucket, prefix_of(job_spec))
    if manifest.run_aborted:
        # The key (or another setting) was refused: one message, and "fix your settings".
        err.print(f"error: run aborted: {manifest.run_aborted}", highlight=False, markup=False,
                  soft_wrap=True)  # fmt: skip
        raise typer.Exit(EXIT_BAD_INPUT)
    if prune:
        _prune(bucket, prefix_of(job_spec), yes)
    raise typer.Exit(EXIT_FAILED if manifest.failed() else EXIT_OK)


def _urls_expiring(manifest: Manifest | None) -> bool:
    """Presigned URLs past half their life: rewrite the manifest even if nothing changed."""
    from datetime import UTC, datetime, timedelta

    if manifest is None or manifest.urls_expire_at is None:
        return False
    left = manifest.urls_expire_at - datetime.now(UTC)
    return left < (manifest.urls_expire_at - manifest.created_at) / 2 or left < timedelta(0)


def _prune(bucket: Bucket, prefix: str, yes: bool) -> None:
    from mediagen.prune import prune

    with _user_errors():
        deletion = prune(bucket, prefix, dry_run=not yes)
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
    spec: SpecArg,
    image: Annotated[str, typer.Option("--image", help="Id of the image to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete (default: list only).")] = False,
) -> None:
    """Delete one image's published objects and its manifest entry (lists first)."""
    from mediagen.prune import delete_image

    with _user_errors():
        job_spec = _load(spec)
        bucket = Bucket(BucketConfig.for_spec(job_spec, get_settings()))
        prefix = prefix_of(job_spec)
        try:
            deletion = delete_image(bucket, prefix, image, dry_run=not yes)
        except KeyError:
            raise SpecError(
                f"no image {image!r} in the manifest at {bucket.plain_url(manifest_key(prefix))}"
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
        jobs = expand_spec(job_spec, get_settings())
    from flows import submit as remote  # imports Prefect: only once the spec is valid

    with _user_errors():
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


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
        disable=total == 0,
    )
    bar = progress.add_task("images", total=total)

    def advance(image_id: str, event: str) -> None:
        if event in ("published", "failed", "blocked"):
            progress.advance(bar)

    with progress:
        yield advance


def _print_summary(manifest: Manifest, bucket: Bucket, prefix: str) -> None:
    table = Table(title=f"{manifest.spec_name}: {manifest.counts['ok']} published")
    for column in ("id", "status", "size", "format", "bytes", "cost", "brand fit", "url / reason"):
        table.add_column(column, overflow="fold")
    not_attempted = 0
    for entry in manifest.images.values():
        if manifest.run_aborted and _stopped_by_abort(entry.error or ""):
            not_attempted += 1  # summarised below, not one row each
            continue
        fit = entry.brand_fit
        table.add_row(
            entry.id,
            entry.status,
            f"{entry.width}x{entry.height}",
            _formats_cell(entry),
            str(entry.bytes or ""),
            f"${entry.cost_usd:.4f}",
            _brand_cell(fit.score, fit.off_brand) if fit else "",
            entry.url if entry.status == "ok" else (entry.error or ""),
        )
    console.print(table)
    if not_attempted:
        console.print(f"{not_attempted} image(s) not made: the run was aborted")
    off_brand = [e.id for e in manifest.images.values() if e.brand_fit and e.brand_fit.off_brand]
    if off_brand:
        console.print(f"[yellow]off-brand[/] ({len(off_brand)}): {', '.join(off_brand)}")
    console.print(f"manifest: {bucket.plain_url(manifest_key(prefix))}")
    budget = f" (budget ${manifest.budget_usd:.4f})" if manifest.budget_usd is not None else ""
    console.print(f"cost: ${manifest.cost_usd:.4f}{budget}")
    skipped = manifest.counts.get("skipped", 0)
    if skipped:
        console.print(f"{skipped} image(s) skipped: budget reached; run again to make them")


def _stopped_by_abort(error: str) -> bool:
    return any(name in error for name in ("RunAbortedError", "AuthError", "ConfigurationError"))


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
    from mediagen.api import generate_to_file

    with _user_errors():
        if size not in {s.value for s in SizePreset} and "x" not in size:
            raise SpecError(f"--size {size!r}: use a preset or WIDTHxHEIGHT")
        info = generate_to_file(
            prompt, out, size=size, theme=theme, quality=quality, backend=backend, parents=parents
        )
    console.print(f"wrote {out} ({info.width}x{info.height} {info.format}, {len(info.data)} bytes)")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
