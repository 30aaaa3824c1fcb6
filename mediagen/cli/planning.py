"""What every spec command does first: read the spec, hold its lease, plan it.

Shared by the command modules (``check_commands``, ``publish_commands``) so
that ``plan`` shows exactly what ``run`` would do: one reading, one lease,
one plan.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mediagen.manifest import prefix_owner
from mediagen.manifest.model import Manifest
from mediagen.plan.diff import Plan, make_plan
from mediagen.plan.jobs import expand_spec, prefix_of
from mediagen.settings import get_settings
from mediagen.spec.delivery import Delivery, override
from mediagen.spec.models import JobSpec, load_spec
from mediagen.storage.bucket import Bucket, BucketConfig

SpecArg = Annotated[Path, typer.Argument(help="Path to a YAML spec.", show_default=False)]
DeliveryOption = Annotated[
    Delivery | None,
    typer.Option(
        help="Deliver every image this way, whatever the spec says: sync (full price), "
        "batch or flex (half price, slower). Default: the spec's delivery (sync)."
    ),
]


class IfRunning(StrEnum):
    wait = "wait"
    refuse = "refuse"


def load(path: Path, delivery: Delivery | None = None) -> JobSpec:
    """The spec at ``path``; ``delivery`` (``--delivery``) overrides every image's."""
    return override(load_spec(path), delivery)  # refuses folders, FIFOs, devices, huge files


def ensure_bucket(spec: JobSpec) -> BucketConfig:
    """The spec's bucket config; a local folder that can't be made is one clear line."""
    from mediagen.plan.trust import ensure_local_bucket

    config = BucketConfig.for_spec(spec, get_settings())
    if config.provider == "local":  # one line for a folder that can't be made, not "no such file"
        ensure_local_bucket(config.bucket, named_by_spec=spec.storage.bucket is not None)
    return config


def hold_lease(ctx: typer.Context, spec: JobSpec, mode: IfRunning | None = None) -> None:
    """Hold the spec's lease (mediagen/storage/lease.py) until the command ends, however it ends."""
    from mediagen.storage.lease import one_run_per_spec

    bucket = Bucket(ensure_bucket(spec))
    held = one_run_per_spec(bucket, prefix_of(spec), spec=spec.name, mode=mode)
    ctx.with_resource(held)


def plan_spec(spec: JobSpec) -> tuple[Plan, Bucket, Manifest | None]:
    settings = get_settings()
    jobs = expand_spec(spec, settings)
    bucket = Bucket(BucketConfig.for_spec(spec, settings))
    # Refused (exit 2) when another spec owns the prefix: see mediagen.manifest.prefix_owner.
    previous = prefix_owner.open_prefix(bucket, prefix_owner.claim_of(spec), jobs).previous
    return make_plan(jobs, previous, settings), bucket, previous


__all__ = [
    "DeliveryOption",
    "IfRunning",
    "SpecArg",
    "ensure_bucket",
    "hold_lease",
    "load",
    "plan_spec",
]
