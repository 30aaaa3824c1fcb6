"""Several candidates per image: each paid once, the best published, only it, and prune.

Candidates of known colours come from a backend that paints the colour the test
assigns to each candidate's seed; the published file's pixels say which one won.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mediagen.engine.candidates import gather
from mediagen.engine.context import RunContext
from mediagen.engine.decisions import Decision, apply_decisions, decide
from mediagen.engine.orchestrate import make_image
from mediagen.manifest.prefix_owner import Claim
from mediagen.manifest.prune import prune
from mediagen.plan.candidates import candidate_jobs, candidate_seeds, rekey
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec
from mediagen.storage.bucket import Bucket
from tests.support.backends import CountingBackend
from tests.support.candidates import SeedPaintBackend, colour_of, jobs_of, paint, run
from tests.support.candidates import files as bucket_files

TEAL, RED, BLUE = "#0A7B83", "#D0312D", "#2A52BE"


def spec_of(backend: str = "seedpaint", **image: Any) -> dict[str, Any]:
    options = {"size": "thumbnail", "seed": 7, "candidates": 3, "brand_colors": [TEAL], **image}
    return {"name": "cands", "backend": backend, "images": [{"id": "coin", "prompt": "a coin",
            **options}]}  # fmt: skip


def _bucket(ctx: RunContext) -> Bucket:
    with ctx.new_run(get_settings()) as engine_run:
        return engine_run.bucket(ctx.bucket)


def files(workspace: Path) -> set[str]:
    return bucket_files(workspace / "bucket")


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
    for entry in manifest.images.values():  # each paid answer counted once, with its image
        paid = [c.cost_usd for c in entry.candidates]
        assert len(paid) == 3 and all(p > 0 for p in paid)
        assert entry.cost_usd == pytest.approx(sum(paid))
    assert manifest.cost_usd == pytest.approx(sum(e.cost_usd for e in manifest.images.values()))
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
    # Re-made for a new format from the recorded choice: the kept ones stay kept.
    manifest, counts = run(spec_of(keep_candidates=True, formats=["webp"]))
    assert counts["changed"] == 1 and SeedPaintBackend.total() == 3
    assert {c.original_key for c in manifest.images["coin"].candidates} == originals
    assert not originals & set(manifest.orphaned_keys)
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
    # What a reviewer sees in the manifest (and the gallery): every candidate, scored.
    assert [c.score is not None for c in entry.candidates] == [True] * 3
    assert entry.pick and (entry.pick.mode, entry.pick.chosen) == ("review", None)
    assert not set(manifest.orphaned_keys) & {c.original_key for c in entry.candidates}
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


def test_a_review_pass_approves_rejects_with_a_note_and_skips(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of(pick="review")
    spec["images"] += [
        {**spec["images"][0], "id": "jar", "prompt": "a jar"},
        {**spec["images"][0], "id": "box", "prompt": "a box"},
    ]
    coin, jar, box = jobs_of(spec)
    paint(coin, RED, BLUE, TEAL)
    settings = get_settings()
    ctx = RunContext.for_spec(parse_spec(spec), settings, run_id="review")
    with ctx.new_run(settings) as engine_run:
        decisions = {
            "coin": Decision("approve", 2, by="ana"),
            "jar": Decision("reject", note="no lid", by="ana"),
            "box": Decision("skip", by="ana"),
        }
        reviewed = apply_decisions([coin, jar, box], ctx, engine_run, decisions)
    entries = reviewed.entries
    assert entries["coin"].status == "ok" and entries["coin"].pick is not None
    assert (entries["coin"].pick.chosen, entries["coin"].pick.by) == (2, "ana")
    assert colour_of(workspace / "bucket" / entries["coin"].outputs[0].key) == (0x0A, 0x7B, 0x83)
    # rejected: made again with the note, its 3 new candidates wait for a decision
    assert entries["jar"].status == "pending" and not entries["jar"].outputs
    noted = reviewed.regenerate["jar"]
    assert noted.prompt.endswith("Reviewer note: no lid")
    assert SeedPaintBackend.calls[noted.prompt] == 3
    assert entries["box"].status == "pending"  # skipped: asked again next time
    assert SeedPaintBackend.calls[coin.prompt] == 3 and SeedPaintBackend.calls[box.prompt] == 3


def test_a_candidate_the_backend_refuses_is_left_out_of_the_pick(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of()
    [job] = jobs_of(spec)
    paint(job, TEAL, "blocked", RED)
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    assert entry.status == "ok" and entry.pick is not None and entry.pick.chosen == 0
    assert entry.candidates[1].score is None and entry.candidates[1].original_key is None


def test_progress_hears_one_image_not_each_candidate(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of()
    [job] = jobs_of(spec)
    paint(job, TEAL, "blocked", RED)
    heard: list[tuple[str, str]] = []
    settings = get_settings()
    ctx = RunContext.for_spec(parse_spec(spec), settings, run_id="events")
    with ctx.new_run(settings) as engine_run:
        engine_run.subscribe(lambda image, event: heard.append((image, event)))
        entry = make_image(job, ctx, engine_run)
    assert entry.status == "ok"
    assert heard == [("coin", "generated"), ("coin", "published")]


def test_an_image_none_of_whose_candidates_can_be_made_fails_once(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of(candidates=2)
    [job] = jobs_of(spec)
    paint(job, "blocked", "blocked")
    manifest, _ = run(spec)
    entry = manifest.images["coin"]
    assert entry.status == "failed" and not entry.outputs
    assert "no candidate could be made" in (entry.error or "")
    assert SeedPaintBackend.total() == 2


def test_pruning_a_loser_never_deletes_another_specs_image(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    storage = {"prefix": "shared", "shared_prefix": True}
    mine = {**spec_of(), "name": "mine", "storage": storage}
    [job] = jobs_of(mine)
    paint(job, RED, BLUE, TEAL)  # candidate 2 wins; 0 and 1 are released
    # Another spec on the prefix asks exactly candidate 1's request: one shared original.
    theirs = {**spec_of(candidates=1, seed=candidate_seeds(job)[1]), "name": "theirs",
              "storage": storage}  # fmt: skip
    [their_job] = jobs_of(theirs)
    assert their_job.gen_key == candidate_jobs(job)[1].gen_key
    their_manifest, _ = run(theirs)
    shared_original = their_manifest.images["coin"].original_key
    manifest, _ = run(mine)
    entry = manifest.images["coin"]
    assert entry.pick and entry.pick.chosen == 2
    assert shared_original in {c.original_key for c in entry.candidates if not c.chosen}
    assert shared_original in manifest.orphaned_keys  # released by mine, used by theirs
    bucket = _bucket(RunContext.for_spec(parse_spec(mine), get_settings(), run_id="p"))
    deletion = prune(bucket, "shared", dry_run=False, claim=Claim("shared", "mine", True))
    assert shared_original not in deletion.keys and shared_original in files(workspace)
    loser = entry.candidates[0].original_key
    assert loser in deletion.keys and loser not in files(workspace)
    assert all(o.key in files(workspace) for o in their_manifest.images["coin"].outputs)


def test_changing_pick_asks_again_and_keep_candidates_follows_without_a_call(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    run(spec_of(keep_candidates=True))
    manifest, counts = run(spec_of(keep_candidates=False))
    assert counts["changed"] == 1 and SeedPaintBackend.total() == 3
    entry = manifest.images["coin"]
    losers = {c.original_key for c in entry.candidates if not c.chosen}
    assert len(losers) == 2 and losers <= set(manifest.orphaned_keys)
    manifest, counts = run(spec_of(pick="review"))
    assert counts["changed"] == 1 and manifest.images["coin"].status == "pending"
