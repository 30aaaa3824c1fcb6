"""Benchmark 4: the processing step alone vs a bare Pillow resize + encode loop.

The same originals (as a Gemini model returns them: 1536 px PNG) are turned
into a 1024×1024 PNG and WebP by the engine's process stage
(``mediagen.engine.process.process``, for a :class:`~mediagen.engine.run.Run`: decode once,
focal crop, XMP provenance, placeholders, colours, files in the scratch
folder) and by the loop a person would write with Pillow, with the same
encoder settings. The two alternate image by image, so load on this shared
machine hits both alike. The originals are made first by the generate stage, untimed:
only the process stage is measured, so the chain (``mediagen.engine.orchestrate``) is
not what runs here.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from bench.harness import Row, Workspace, write_spec
from bench.populate import context
from mediagen.engine.context import RunContext
from mediagen.engine.generate import generate
from mediagen.engine.process import process
from mediagen.engine.run import Run
from mediagen.imaging import codec as imaging
from mediagen.plan.jobs import ImageJob
from mediagen.testing import FakeGeminiServer


@dataclass(frozen=True)
class Params:
    images: int
    side: int = 1024
    original: int = 1536
    rounds: int = 2


FULL = Params(images=40, rounds=3)
TINY = Params(images=2, side=128, original=192, rounds=1)


def _bare(original: bytes, side: int, quality: int, out: Path) -> None:
    with Image.open(io.BytesIO(original)) as im:
        rgb = im.convert("RGB")
        small = rgb.resize((side, side), Image.Resampling.LANCZOS)
    png, webp = io.BytesIO(), io.BytesIO()
    small.save(png, "PNG", compress_level=imaging.PNG_COMPRESS_LEVEL)
    small.save(webp, "WEBP", quality=quality, method=imaging.WEBP_METHOD)
    (out / "bare.png").write_bytes(png.getvalue())
    (out / "bare.webp").write_bytes(webp.getvalue())


def _measure(
    root: Path, p: Params, ctx: RunContext, jobs: list[ImageJob], run_: Run
) -> tuple[float, float]:
    """Seconds spent in the process stage and in the bare loop, image by image."""
    generated = [generate(job, ctx, run_) for job in jobs]  # originals: not timed
    bucket = run_.bucket(ctx.bucket)
    quality = next(o.spec.quality for o in jobs[0].outputs if o.format == "webp")
    out = root / "bare"
    out.mkdir(exist_ok=True)
    mediagen_s = bare_s = 0.0
    for _ in range(p.rounds):
        for job, gen in zip(jobs, generated, strict=True):
            started = time.perf_counter()
            files = process(job, gen, ctx, run_)
            mediagen_s += time.perf_counter() - started
            started = time.perf_counter()
            _bare(bucket.get(gen.original_key), p.side, quality, out)
            bare_s += time.perf_counter() - started
            for f in files:
                Path(f.path).unlink()
    return mediagen_s, bare_s


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    with FakeGeminiServer(image_side=p.original, max_side=p.original) as gemini:
        ws = Workspace.make(root, api_url)
        ws.gemini(gemini.base_url)
        spec = write_spec(
            root / "processing.yaml", "processing", p.images, size=f"{p.side}x{p.side}",
            formats=("png", "webp"), quality="fast",
        )  # fmt: skip
        with ws.environ():
            ctx, jobs = context(spec)
            with ctx.new_run() as run_:
                mediagen_s, bare_s = _measure(root, p, ctx, jobs, run_)
    overhead = mediagen_s / bare_s - 1
    n = p.images * p.rounds
    name = f"4 processing ({p.original}px PNG → {p.side}² PNG+WebP)"
    return [
        Row(name, "mediagen process step", f"{1000 * mediagen_s / n:.1f} ms/img"),
        Row(name, "bare Pillow loop", f"{1000 * bare_s / n:.1f} ms/img"),
        Row(name, "overhead", f"{100 * overhead:+.1f} %", "≤ 10 %", overhead <= 0.10),
    ]
