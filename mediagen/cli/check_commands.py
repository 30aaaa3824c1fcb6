"""Commands that read and show, and never publish: ``validate``, ``plan``, ``schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mediagen.cli.console import brand_cell, console, formats_cell, user_errors
from mediagen.cli.planning import DeliveryOption, SpecArg, ensure_bucket, load, plan_spec
from mediagen.manifest import prefix_owner
from mediagen.plan import preflight
from mediagen.plan.jobs import expand_spec, prefix_of
from mediagen.settings import get_settings
from mediagen.spec.models import json_schema
from mediagen.storage.bucket import Bucket


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
    with user_errors():
        job_spec = load(spec)
        jobs = expand_spec(job_spec, get_settings())
        if check_storage:  # before any "ok": a bucket that fails says so, and only that
            from mediagen.plan.storage_check import check_storage as run_checks

            checks = run_checks(
                Bucket(ensure_bucket(job_spec)), prefix_of(job_spec),
                prefix_owner.claim_of(job_spec),
            )  # fmt: skip
    console.print(f"[green]ok[/] {spec}: spec {job_spec.name!r}, {len(jobs)} image(s)")
    if check_storage:
        for check in checks:
            mark = "[green]ok[/]" if check.ok else "[yellow]warning[/]"
            console.print(f"{mark} {check.name}: {check.detail}", highlight=False, soft_wrap=True)


def plan(spec: SpecArg, delivery: DeliveryOption = None) -> None:
    """Show what a run would do: new, changed, unchanged and removed images, and cost."""
    with user_errors():
        job_spec = load(spec, delivery)
        the_plan, _, _ = plan_spec(job_spec)
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
            formats_cell(job),
            job.backend,
            job.request.model or "",
            f"${item.estimated_cost_usd:.4f}",
            item.reason,
            brand_cell(item.brand_score, item.off_brand),
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
    with user_errors():  # the same refusal `run` would give
        preflight.check_estimate(the_plan.estimated_cost_usd, job_spec.budget_usd)


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


__all__ = ["plan", "schema", "validate"]
