"""Several candidates per image: each paid once, the best published, only it, and prune.

Candidates of known colours come from a backend that paints the colour the test
assigns to each candidate's seed; the published file's pixels say which one won.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mediagen import backends
from mediagen.engine.candidates import Decision, decide, gather
from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import run_spec
from mediagen.manifest.model import Manifest, read_manifest
from mediagen.manifest.prune import prune
from mediagen.plan.candidates import candidate_jobs, candidate_seeds, rekey
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import Bucket
from tests.support.backends import CountingBackend
from tests.support.candidate_backends import SeedPaintBackend

TEAL, RED, BLUE = "#0A7B83", "#D0312D", "#2A52BE"


@pytest.fixture
def seedpaint(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> type[SeedPaintBackend]:
    monkeypatch.setitem(
        backends.BUILTIN_BACKENDS, "seedpaint", "tests.support.candidate_backends:SeedPaintBackend"
    )
    monkeypatch.setattr(SeedPaintBackend, "colours", {})
    return SeedPaintBackend


def spec_of(backend: str = "seedpaint", **image: Any) -> dict[str, Any]:
    options = {"size": "thumbnail", "seed": 7, "candidates": 3, "brand_colors": [TEAL], **image}
    return {"name": "cands", "backend": backend, "images": [{"id": "coin", "prompt": "a coin",
            **options}]}  # fmt: skip


def jobs_of(spec: dict[str, Any]) -> list[ImageJob]:
    return expand_spec(parse_spec(spec), get_settings())


def run(spec: dict[str, Any]) -> tuple[Manifest, dict[str, int]]:
    """One run of ``spec`` against the last manifest; returns it and the plan's counts."""
    settings = get_settings()
    job_spec = parse_spec(spec)
    ctx = RunContext.for_spec(job_spec, settings, run_id="r")
    previous = read_manifest(_bucket(ctx), ctx.prefix)
    plan = make_plan(expand_spec(job_spec, settings), previous, settings)
    with ctx.new_run(settings) as engine_run:
        manifest = run_spec(plan, ctx, engine_run, previous)
    return manifest, plan.counts()


def _bucket(ctx: RunContext) -> Bucket:
    with ctx.new_run(get_settings()) as engine_run:
        return engine_run.bucket(ctx.bucket)


def files(workspace: Path) -> set[str]:
    root = workspace / "bucket"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def colour_of(path: Path) -> tuple[int, ...]:
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((image.width // 2, image.height // 2))  # type: ignore[return-value]


def paint(job: ImageJob, *colours: str) -> None:
    SeedPaintBackend.colours.update(dict(zip(candidate_seeds(job), colours, strict=True)))


# -- keys -------------------------------------------------------------------------------


def test_candidate_0_is_the_image_and_the_others_have_distinct_stable_seeds(
    workspace: Path,
) -> None:
    [job] = jobs_of(spec_of("offline", candidates=8))
    seeds = candidate_seeds(job)
    assert seeds[0] == 7 and len(set(seeds)) == 8
    assert candidate_seeds(jobs_of(spec_of("offline", candidates=8))[0]) == seeds  # stable
    cands = candidate_jobs(job)
    assert cands[0].gen_key == job.gen_key
    assert len({c.gen_key for c in cands}) == 8
    assert len({c.original_key for c in cands}) == 8
    assert all(c.candidates == 1 for c in cands)  # each a plain one-image job
    # one candidate: the same keys as before candidates existed
    [single] = jobs_of(spec_of("offline", candidates=1))
    [unset] = jobs_of({**spec_of("offline"), "images": [{"id": "coin", "prompt": "a coin",
                      "size": "thumbnail", "seed": 7, "brand_colors": [TEAL]}]})  # fmt: skip
    assert single.gen_key == unset.gen_key == job.gen_key


def test_rekey_with_the_same_request_gives_the_same_job(workspace: Path) -> None:
    for extra in ({}, {"formats": ["png", "webp"], "variants": {"widths": [160]}},
                  {"focal_point": "top", "alt_text": "A coin"}):  # fmt: skip
        for naming in ("hashed", "stable"):
            spec = {**spec_of("offline", **extra), "storage": {"naming": naming}}
            [job] = jobs_of(spec)
            assert rekey(job, job.request) == job


# -- calls: N the first time, 0 after ---------------------------------------------------


def test_three_candidates_make_three_calls_then_none(workspace: Path) -> None:
    spec = spec_of("counting")
    manifest, counts = run(spec)
    entry = manifest.images["coin"]
    assert entry.status == "ok", entry.error
    assert CountingBackend.total() == 3
    assert len(entry.candidates) == 3 and entry.pick is not None
    manifest, counts = run(spec)
    assert CountingBackend.total() == 3  # no call on a re-run
    assert counts["unchanged"] == 1


def test_gemini_three_candidates_are_three_requests_then_none(gemini_env: Any) -> None:
    spec = spec_of("gemini")
    spec["images"].append({**spec["images"][0], "id": "jar", "prompt": "a jar"})
    manifest, _ = run(spec)
    assert [e.status for e in manifest.images.values()] == ["ok", "ok"]
    assert len(gemini_env.image_requests) == 6  # 3 per image, through the real SDK
    manifest, counts = run(spec)
    assert len(gemini_env.image_requests) == 6 and counts["unchanged"] == 2


# -- pick: auto ---------------------------------------------------------------------------


def test_auto_publishes_the_candidate_nearest_the_brand_and_only_it(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of()
    [job] = jobs_of(spec)
    paint(job, RED, TEAL, BLUE)  # candidate 1 is the brand's teal
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    assert entry.status == "ok", entry.error
    assert entry.pick is not None and entry.pick.chosen == 1 and entry.pick.decision == "auto"
    scores = [c.score for c in entry.candidates]
    assert scores[1] == max(scores) and scores[1] > scores[0] and scores[1] > scores[2]
    assert [c.signals["brand"] for c in entry.candidates] == [0.0, 1.0, 0.0]
    assert [c.chosen for c in entry.candidates] == [False, True, False]
    assert entry.gen_key == candidate_jobs(job)[1].gen_key and entry.seed == candidate_seeds(job)[1]
    # The published file is teal; nothing else is published (originals stay private).
    published = {f for f in files(workspace) if f.startswith("cands/") and "/_" not in f}
    outputs = {o.key for o in entry.outputs}
    assert outputs <= published
    assert published - outputs <= {"cands/manifest.json", "cands/index.html"}
    assert colour_of(workspace / "bucket" / entry.outputs[0].key) == (0x0A, 0x7B, 0x83)
    assert entry.cost_usd == pytest.approx(0.03)  # every candidate was paid for this image


def test_more_candidates_reuse_the_made_ones(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:

    run(spec_of(candidates=1))
    assert SeedPaintBackend.total() == 1
    _, counts = run(spec_of(candidates=3))
    assert counts["changed"] == 1 and SeedPaintBackend.total() == 3  # candidate 0 was there


# -- prune --------------------------------------------------------------------------------


def test_prune_removes_the_unchosen_originals_and_a_rerun_needs_none(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of()
    [job] = jobs_of(spec)
    paint(job, RED, BLUE, TEAL)
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    losers = {c.original_key for c in entry.candidates if not c.chosen}
    assert len(losers) == 2 and losers <= set(manifest.orphaned_keys)
    bucket = _bucket(RunContext.for_spec(parse_spec(spec), get_settings(), run_id="p"))
    deletion = prune(bucket, "cands", dry_run=False)
    left = files(workspace)
    assert not {k for k in losers if k in left}
    assert {f"{k.rsplit('.', 1)[0]}.json" for k in losers}.isdisjoint(left)  # their sidecars
    assert entry.original_key in left and entry.pick and entry.pick.record_key in left
    assert set(deletion.keys) >= losers
    # A new output format re-publishes from the chosen original: no call, same choice.
    manifest, counts = run(spec_of(formats=["png", "webp"]))
    assert counts["changed"] == 1 and SeedPaintBackend.total() == 3
    again = manifest.images["coin"]
    assert again.pick and again.pick.chosen == 2 and len(again.outputs) == 2
    assert colour_of(workspace / "bucket" / again.outputs[0].key) == (0x0A, 0x7B, 0x83)


def test_keep_candidates_keeps_them_from_prune(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    manifest, _ = run(spec_of(keep_candidates=True))
    entry = manifest.images["coin"]
    originals = {c.original_key for c in entry.candidates}
    assert not originals & set(manifest.orphaned_keys)
    bucket = _bucket(RunContext.for_spec(parse_spec(spec_of()), get_settings(), run_id="p"))
    prune(bucket, "cands", dry_run=False)
    assert originals <= files(workspace)


# -- pick: review: the seam ---------------------------------------------------------------


def test_review_waits_then_publishes_the_approved_candidate(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of(pick="review")
    [job] = jobs_of(spec)
    paint(job, TEAL, RED, BLUE)
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    assert entry.status == "pending" and "review" in (entry.error or "") and not entry.outputs
    assert SeedPaintBackend.total() == 3
    settings = get_settings()
    ctx = RunContext.for_spec(parse_spec(spec), settings, run_id="review")
    with ctx.new_run(settings) as engine_run:
        cset = gather(job, ctx, engine_run)  # what a reviewer is shown: no new call
        assert [c.score is not None for c in cset.candidates] == [True] * 3
        assert cset.best() == 0 and cset.chosen is None
        # the person picks the red one, against the score
        assert decide(job, ctx, engine_run, Decision("approve", 1, by="ana")) is job
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    assert entry.status == "ok" and SeedPaintBackend.total() == 3
    assert entry.pick and (entry.pick.chosen, entry.pick.decision, entry.pick.by) == (
        1, "approve", "ana")  # fmt: skip
    assert colour_of(workspace / "bucket" / entry.outputs[0].key) == (0xD0, 0x31, 0x2D)
    _, counts = run(spec)
    assert counts["unchanged"] == 1  # the approval is sticky


def test_reject_returns_the_image_with_the_note_and_skip_records_nothing(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of(pick="review")
    [job] = jobs_of(spec)
    settings = get_settings()
    ctx = RunContext.for_spec(parse_spec(spec), settings, run_id="review")
    with ctx.new_run(settings) as engine_run:
        assert decide(job, ctx, engine_run, Decision("skip")) is None
        assert SeedPaintBackend.total() == 0
        again = decide(job, ctx, engine_run, Decision("reject", note="less  red", by="ana"))
        cset = gather(job, ctx, engine_run)
    assert again is not None and again.prompt.endswith("Reviewer note: less red")
    assert again.gen_key != job.gen_key and again.id == job.id
    assert cset.record and cset.record["decision"] == "reject" and cset.chosen is None
    bucket_record = json.loads((workspace / "bucket" / cset.record_key).read_bytes())
    assert bucket_record["note"] == "less  red" and bucket_record["by"] == "ana"
