"""Candidates in tests: a backend whose picture depends on the request's seed (candidates
of known colours; the ``seedpaint`` fixture), and a run of a spec against its last manifest."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PIL import Image

from mediagen import backends
from mediagen.backends.base import GenerationRequest, GenerationResult
from mediagen.backends.offline import render_size
from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import run_spec
from mediagen.errors import BlockedError
from mediagen.manifest.model import Manifest, read_manifest
from mediagen.plan.candidates import candidate_seeds
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import Bucket
from tests.support.backends import CountingBackend


class SeedPaintBackend(CountingBackend):
    """A flat image in the colour the test assigned to the request's seed (grey otherwise;
    ``"blocked"``: a safety refusal);
    counts its calls like :class:`CountingBackend` (one cent each, so costs show)."""

    name = "seedpaint"
    colours: ClassVar[dict[int | None, str]] = {}

    def generate(self, request: GenerationRequest) -> GenerationResult:
        with self._lock:
            type(self).calls[request.prompt] += 1
        colour = self.colours.get(request.seed, "#808080")
        if colour == "blocked":
            raise BlockedError("IMAGE_SAFETY", "scripted block")
        buffer = io.BytesIO()
        Image.new("RGB", render_size(request.width, request.height), colour).save(buffer, "PNG")
        return GenerationResult(
            buffer.getvalue(), "image/png", self.name, "paint", False, cost_usd=0.01
        )


def paint(job: ImageJob, *colours: str) -> None:
    """Candidate i of ``job`` is painted ``colours[i]``."""
    SeedPaintBackend.colours.update(dict(zip(candidate_seeds(job), colours, strict=True)))


def jobs_of(spec: dict[str, Any]) -> list[ImageJob]:
    return expand_spec(parse_spec(spec), get_settings())


def context(spec: dict[str, Any], run_id: str = "r") -> RunContext:
    return RunContext.for_spec(parse_spec(spec), get_settings(), run_id=run_id)


def bucket_of(spec: dict[str, Any]) -> Bucket:
    ctx = context(spec)
    with ctx.new_run(get_settings()) as engine_run:
        return engine_run.bucket(ctx.bucket)


def run(spec: dict[str, Any]) -> tuple[Manifest, dict[str, int]]:
    """One run of ``spec`` against its last manifest (no Prefect); the manifest and the
    plan's counts."""
    settings = get_settings()
    job_spec = parse_spec(spec)
    ctx = context(spec)
    previous = read_manifest(bucket_of(spec), ctx.prefix)
    plan = make_plan(expand_spec(job_spec, settings), previous, settings)
    with ctx.new_run(settings) as engine_run:
        return run_spec(plan, ctx, engine_run, previous), plan.counts()


def files(root: Path) -> set[str]:
    """Every file under a local bucket folder, as keys."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def colour_of(data: bytes | Path) -> tuple[int, ...]:
    """The RGB colour at the centre of an encoded image."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as image:
        return image.convert("RGB").getpixel((image.width // 2, image.height // 2))  # type: ignore[return-value]


@pytest.fixture
def seedpaint(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> type[SeedPaintBackend]:
    """The ``seedpaint`` backend (candidates of known colours), no colours assigned yet."""
    monkeypatch.setitem(
        backends.BUILTIN_BACKENDS, "seedpaint", "tests.support.candidates:SeedPaintBackend"
    )
    monkeypatch.setattr(SeedPaintBackend, "colours", {})
    return SeedPaintBackend
