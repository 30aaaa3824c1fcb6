"""``mediagen run`` once the plan says there is work: run the flow here, report, exit.

- The flow runs against ``PREFECT_API_URL`` or a quiet temporary local API
  (:mod:`flows.local_api`).
- Ctrl-C / SIGTERM stop the run cleanly (:mod:`mediagen.engine.interrupts`): a partial
  manifest, a few lines, exit 130.
- The report: the image table on stdout; on stderr one line per image that
  failed, one line for an aborted run, and no traceback without ``-v``.
- One plan: the command plans (and runs preflight) before it starts Prefect, and hands
  that plan to the flow (:mod:`flows.plan_handoff`), which does not plan again.
- Exit codes: 0 all published, 1 some failed (or the run itself failed),
  2 the run was aborted by a refused key or setting, 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediagen.backends import preload
from mediagen.cli.console import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    brand_cell,
    console,
    err,
    formats_cell,
    say,
    user_errors,
)
from mediagen.engine import interrupts
from mediagen.engine.run import Run
from mediagen.errors import RunInterruptedError
from mediagen.imaging import allocator
from mediagen.manifest import visibility
from mediagen.manifest.gallery import gallery_key
from mediagen.manifest.model import Manifest, manifest_key
from mediagen.manifest.report import failure_line, interrupted_lines
from mediagen.plan.diff import Plan
from mediagen.settings import get_settings
from mediagen.spec.models import JobSpec
from mediagen.storage import url_expiry
from mediagen.storage.bucket import Bucket


def signal_guard() -> interrupts.SignalGuard:
    """Install before anything slow: a Ctrl-C during start-up is handled too."""
    return interrupts.SignalGuard(get_settings().interrupt_grace, say)


def stop_if_interrupted() -> None:
    """Before the run starts: an interrupt so far means nothing was made."""
    if interrupts.interrupted():
        say(f"{interrupts.interrupted()} before the run started: nothing was made")
        raise typer.Exit(interrupts.EXIT_CODE)


SUMMARY_ROWS = 50  # rows of the table printed after a run


def run_flow_and_report(
    job_spec: JobSpec,
    todo: int,
    bucket: Bucket,
    prefix: str,
    guard: interrupts.SignalGuard,
    planned: tuple[Plan, Manifest | None] | None = None,
    **flow_options: Any,
) -> Manifest:
    """Run the flow; print the report. Raises ``typer.Exit`` unless all went well.

    ``planned``: the plan (and previous manifest) this command made and ran preflight
    on, under the spec's lease it holds: the flow takes it instead of planning again.
    """
    allocator.limit_malloc_arenas()  # before the task threads: flat memory (bench/ 3)
    stop_if_interrupted()
    from flows.local_api import local_api, start_early

    # The local API comes up (~4 s) while Prefect and the flow are imported (bench/startup.py).
    early = start_early()
    from prefect.exceptions import TerminationSignal

    from flows.plan_handoff import Planned
    from flows.run import run_flow  # imports Prefect: only when a run needs it

    if planned is not None:
        plan, previous = planned
        flow_options["planned"] = Planned(job_spec.content_hash(), get_settings(), plan, previous)
        if early is not None:  # the first image need not wait for its SDK's import
            preload(job.backend for job in plan.todo)

    runs: list[Run] = []  # the flow's Run: was it interrupted (a signal, a cancel)?
    try:
        with _progress(todo) as advance, local_api(early):
            stop_if_interrupted()
            with user_errors():
                # The flow's Run reports to the bar (its own events only, not another run's).
                manifest = run_flow(
                    job_spec, listeners=[advance], on_run=runs.append, **flow_options
                )
    except typer.Exit:
        raise  # already said (a click Exit is a RuntimeError: keep it out of the next clause)
    except (RunInterruptedError, TerminationSignal, KeyboardInterrupt):
        say(f"{interrupts.interrupted() or 'interrupted'} before any image was recorded")
        raise typer.Exit(interrupts.EXIT_CODE) from None
    except RuntimeError as exc:  # Prefect itself could not start or run the flow
        say(f"error: Prefect could not run the flow: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    if guard.interrupted or interrupts.interrupted() or any(r.interrupted for r in runs):
        for line in interrupted_lines(
            manifest, bucket.plain_url(manifest_key_of(manifest, prefix))
        ):
            say(line)
        guard.finished()
        raise typer.Exit(interrupts.EXIT_CODE)
    if manifest.run_aborted:
        # The key (or another setting) was refused: one line, and "fix your settings".
        stopped = sum(1 for e in manifest.images.values() if e.status != "ok")
        say(f"error: run aborted: {manifest.run_aborted} ({stopped} image(s) not made)")
        raise typer.Exit(EXIT_BAD_INPUT)
    print_summary(manifest, bucket, prefix)
    for entry in manifest.failed():
        if entry.status in ("failed", "blocked"):
            say(failure_line(entry))
    return manifest


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    # Transient: the bar is for watching; the report that follows is what stays.
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=total == 0 or not err.is_terminal,
    )
    bar = progress.add_task("images", total=total)

    def advance(image_id: str, event: str) -> None:
        if event in ("published", "failed", "blocked"):
            progress.advance(bar)

    with progress:
        yield advance


def print_summary(manifest: Manifest, bucket: Bucket, prefix: str) -> None:
    table = Table(title=f"{manifest.spec_name}: {manifest.counts['ok']} published")
    for column in ("id", "status", "size", "format", "bytes", "cost", "brand fit", "url / reason"):
        table.add_column(column, overflow="fold")
    entries = list(manifest.images.values())
    # A terminal is no place for 10,000 rows (nor worth the seconds rich takes to lay
    # them out): the images that were not published first, the rest in the manifest.
    shown = entries
    if len(entries) > SUMMARY_ROWS:
        shown = sorted(entries, key=lambda e: e.status == "ok")[:SUMMARY_ROWS]
    for entry in shown:
        fit = entry.brand_fit
        table.add_row(
            entry.id,
            entry.status,
            f"{entry.width}x{entry.height}",
            formats_cell(entry),
            str(entry.bytes or ""),
            f"${entry.cost_usd:.4f}",
            brand_cell(fit.score, fit.off_brand) if fit else "",
            entry.url if entry.status == "ok" else (entry.error or ""),
        )
    console.print(table)
    if len(entries) > len(shown):
        console.print(f"… and {len(entries) - len(shown)} more image(s): see the manifest")
    off_brand = [e.id for e in manifest.images.values() if e.brand_fit and e.brand_fit.off_brand]
    if off_brand:
        console.print(f"[yellow]off-brand[/] ({len(off_brand)}): {', '.join(off_brand)}")
    change = manifest.visibility_change
    if change is not None and change.run_id == manifest.run_id:
        console.print(visibility.describe(change), highlight=False, soft_wrap=True)
    if manifest.urls_expire_with_session:
        line = url_expiry.describe(manifest.urls_expire_at, manifest.session_expires_at)
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"manifest: {bucket.plain_url(manifest_key_of(manifest, prefix))}")
    own = manifest.spec_name if manifest.shared_prefix else None
    console.print(f"gallery: {bucket.plain_url(gallery_key(prefix, own))}")
    budget = f" (budget ${manifest.budget_usd:.4f})" if manifest.budget_usd is not None else ""
    console.print(f"cost: ${manifest.cost_usd:.4f}{budget}")
    skipped = manifest.counts.get("skipped", 0)
    if skipped:
        console.print(f"{skipped} image(s) skipped: budget reached; run again to make them")


def manifest_key_of(manifest: Manifest, prefix: str | None = None) -> str:
    """Where ``manifest`` lives (its own key when its spec shares the prefix)."""
    prefix = manifest.storage.get("prefix") if prefix is None else prefix
    own = manifest.spec_name if manifest.shared_prefix else None
    return manifest_key(str(prefix or ""), own)


__all__ = ["EXIT_OK", "manifest_key_of", "print_summary", "run_flow_and_report", "signal_guard"]
