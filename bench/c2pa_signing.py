"""Benchmark c2pa: what C2PA signing adds to the process stage (target ≤ 15 %).

The same originals (1536 px PNG, as a Gemini model returns them) become a 1024²
PNG + WebP + AVIF output set through the engine's process stage
(``mediagen.engine.process.process``: decode, focal crop, XMP, placeholders,
colours, three encodes), unsigned. Each of those files is then signed with the
ES256 signer the settings would make (a throwaway chain from
``mediagen.testing.c2pa_chain``), and that signing is timed alone: the overhead is
signing time over processing time, per image, which is what a signed run adds to
each image's process stage. The named file is not ``bench/c2pa.py``: a module
named like the ``c2pa`` package would hide it from anything run with ``bench/`` on
``sys.path``. A second figure runs the whole process stage signed and unsigned,
alternating image by image (noisier on a shared machine; reported, no target).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row, Workspace, write_spec
from bench.populate import context
from mediagen.engine.generate import generate
from mediagen.engine.process import process
from mediagen.imaging import c2pa_signer, credentials
from mediagen.imaging.codec import CONTENT_TYPES, ProcessedImage
from mediagen.settings import Settings
from mediagen.testing import FakeGeminiServer
from mediagen.testing.c2pa_chain import make_chain, signer_env

FORMATS = ("png", "webp", "avif")


@dataclass(frozen=True)
class Params:
    images: int
    side: int = 1024
    original: int = 1536
    rounds: int = 1


FULL = Params(images=8, rounds=2)
TINY = Params(images=2, side=128, original=192)


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    chain = make_chain(root / "certs", "ES256", name="mediagen bench signer")
    with FakeGeminiServer(image_side=p.original, max_side=p.original) as gemini:
        ws = Workspace.make(root, api_url)
        ws.gemini(gemini.base_url)
        spec = write_spec(
            root / "c2pa.yaml", "c2pa", p.images, size=f"{p.side}x{p.side}",
            formats=FORMATS, quality="standard",
        )  # fmt: skip
        with ws.environ():
            ctx, plain_jobs = context(spec)
            with ctx.new_run() as run_:
                generated = [generate(job, ctx, run_) for job in plain_jobs]  # not timed
                signer = c2pa_signer.signer_from_settings(
                    Settings(_env_file=None, c2pa_cert=chain.cert, c2pa_key=chain.key)
                )
                assert signer is not None
                process_s, sign_s, outputs = _sign_alone(
                    plain_jobs, generated, ctx, run_, p, signer
                )
        ws.env |= signer_env(chain)
        with ws.environ():
            ctx, signed_jobs = context(spec)
            with ctx.new_run() as run_:
                plain_s, signed_s = _alternate(plain_jobs, signed_jobs, generated, ctx, run_, p)
    n = p.images * p.rounds
    overhead = sign_s / process_s
    name = f"c2pa signing ({p.original}px PNG → {p.side}² PNG+WebP+AVIF, ES256)"
    return [
        Row(name, "process stage, unsigned", f"{1000 * process_s / n:.1f} ms/img"),
        Row(name, "signing, per output", f"{1000 * sign_s / outputs:.1f} ms"),
        Row(name, "signing / processing", f"{100 * overhead:.1f} %", "≤ 15 %", overhead <= 0.15),
        Row(
            name,
            "whole stage signed vs unsigned (alternating)",
            f"{1000 * signed_s / n:.1f} vs {1000 * plain_s / n:.1f} ms/img "
            f"({100 * (signed_s / plain_s - 1):+.1f} %)",
        ),
    ]


def _sign_alone(  # type: ignore[no-untyped-def]
    jobs, generated, ctx, run_, p: Params, signer: c2pa_signer.SignerConfig
) -> tuple[float, float, int]:
    """Process unsigned (timed), then sign each output file (timed apart)."""
    process_s = sign_s = 0.0
    outputs = 0
    for _ in range(p.rounds):
        for job, gen in zip(jobs, generated, strict=True):
            started = time.perf_counter()
            files = process(job, gen, ctx, run_)
            process_s += time.perf_counter() - started
            creds = credentials.Credentials("trainedAlgorithmicMedia", gen.model, "x", job.id)
            for f in files:
                path = Path(f.path)
                data = path.read_bytes()
                image = ProcessedImage(
                    data, f.width, f.height, f.format, CONTENT_TYPES[f.format], ""
                )
                started = time.perf_counter()
                credentials.sign(image, creds, credentials.Processing(True, True), signer)
                sign_s += time.perf_counter() - started
                outputs += 1
                path.unlink()
    return process_s, sign_s, outputs


def _alternate(plain_jobs, signed_jobs, generated, ctx, run_, p: Params) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    plain_s = signed_s = 0.0
    for _ in range(p.rounds):
        for plain, signed, gen in zip(plain_jobs, signed_jobs, generated, strict=True):
            for job, is_signed in ((plain, False), (signed, True)):
                started = time.perf_counter()
                files = process(job, gen, ctx, run_)
                took = time.perf_counter() - started
                if is_signed:
                    assert all(f.signer for f in files)
                    signed_s += took
                else:
                    plain_s += took
                for f in files:
                    Path(f.path).unlink()
    return plain_s, signed_s
