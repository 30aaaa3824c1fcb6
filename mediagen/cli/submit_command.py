"""``mediagen submit``: validate a spec here, then run it on a Prefect deployment.

This module and ``mediagen.cli.run`` are the library's only doors to Prefect
(``.importlinter``): ``flows.submit`` is imported once the spec is valid, so a
bad spec never reaches the server and ``mediagen --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mediagen.cli.console import EXIT_FAILED, EXIT_OK, console, err, user_errors
from mediagen.cli.planning import SpecArg, load


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
    with user_errors():
        job_spec = load(spec)  # a bad spec stops here: nothing reaches the server
    from flows import submit as remote  # imports Prefect: only once the spec is valid

    with user_errors():
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

    with user_errors():
        final = remote.watch_run(submitted.flow_run_id, show, timeout=timeout)
    state = final.state
    if state is None or not state.is_final():
        err.print(f"still {state.name if state else 'unknown'} after {timeout:.0f} s; follow it at "
                  f"{submitted.url}", highlight=False)  # fmt: skip
        raise typer.Exit(EXIT_FAILED)
    with user_errors():
        for name, link in sorted(remote.result_links(submitted.flow_run_id, job_spec.name).items()):
            console.print(f"{name}: {link}", highlight=False)
    raise typer.Exit(EXIT_OK if state.is_completed() else EXIT_FAILED)


__all__ = ["submit"]
