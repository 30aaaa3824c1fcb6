"""Batch delivery in the engine (mediagen/engine/batch.py), against the local Batch API server.

Asserted through what lasts: the job records and originals in the bucket, the
server's counters (jobs created, lines received per key), the cost ledger, and
the entries of lines that made no image compared with a sync run of the same
answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mediagen.backends.gemini import pricing
from mediagen.engine import batch, batch_state
from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import make_image
from mediagen.manifest import costs
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob, expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import JobSpec, parse_spec
from mediagen.storage.bucket import Bucket
from mediagen.testing import Fault
from mediagen.testing.batch_server import FakeBatchServer

MODEL = "gemini-3.1-flash-image"


def _spec(n: int, name: str = "batchy", **extra: Any) -> JobSpec:
    images = [{"id": f"img{i}", "prompt": f"picture {i} of a coin jar", "size": "thumbnail"}
              for i in range(n)]  # fmt: skip
    return parse_spec({"name": name, "backend": "gemini", "images": images, **extra})


def _setup(spec: JobSpec, run_id: str) -> tuple[RunContext, list[ImageJob]]:
    settings = get_settings()
    return RunContext.for_spec(spec, settings, run_id=run_id), expand_spec(spec, settings)


def _deliver(ctx: RunContext, jobs: list[ImageJob], **options: Any) -> batch.BatchRound:
    options.setdefault("poll_s", 0.05)
    with ctx.new_run(get_settings()) as run:
        return batch.deliver(jobs, ctx, run, **options)


def _sidecar(bucket: Bucket, job: ImageJob) -> dict[str, Any]:
    return json.loads(bucket.get(keys.sidecar_key(job.original_key)))


def test_answers_become_originals_at_the_batch_price(batch_env: FakeBatchServer) -> None:
    ctx, jobs = _setup(_spec(6), "run-1")
    out = _deliver(ctx, jobs, max_lines=4)
    ready = list(out.ready)
    for _ in range(20):  # a round ends when one job ends: the other may still be running
        if not out.pending:
            break
        out = _deliver(ctx, out.pending, max_lines=4)  # resumes that job: submits nothing
        ready += out.ready

    assert sorted(j.id for j in ready) == sorted(j.id for j in jobs)
    assert not out.failed and not out.pending and not out.sync
    assert batch_env.jobs_created == 2  # split: 4 + 2 lines
    assert batch_env.keys_received == {j.gen_key: 1 for j in jobs}
    assert batch_env.gemini.requests == []  # no sync call
    bucket = Bucket(ctx.bucket)
    total = 0.0
    for job in jobs:
        info = _sidecar(bucket, job)
        full = pricing.cost_usd(MODEL, info["usage"])
        assert info["usage"]["image_tokens"] > 0
        assert info["cost_usd"] == pytest.approx(full * 0.5, rel=1e-6)
        assert info["cost_run_id"] == "run-1"
        assert bucket.get(info["original_key"])[:4] == b"\x89PNG"
        total += info["cost_usd"]
    assert costs.summarize(bucket, ctx.prefix, "run-1").run_usd == pytest.approx(total, rel=1e-6)
    records = batch_state.load_all(bucket, ctx.prefix, "batchy")
    assert [r.state for r in records] == ["collected", "collected"]
    assert sorted(i for r in records for ids in r.keys.values() for i in ids) == sorted(
        j.id for j in jobs
    )
    again = _deliver(ctx, jobs)  # originals stored: ready at once, no job, no line
    assert len(again.ready) == 6 and again.submitted == [] and batch_env.jobs_created == 2


def test_a_second_round_resumes_the_same_job(batch_env: FakeBatchServer) -> None:
    batch_env.pending_s = 120
    ctx, jobs = _setup(_spec(3), "run-1")
    first = _deliver(ctx, jobs, wait=False)
    assert len(first.submitted) == 1 and len(first.pending) == 3
    (record,) = batch_state.load_all(Bucket(ctx.bucket), ctx.prefix, "batchy")
    assert record.state == "submitted" and record.name == first.submitted[0]

    ctx2, jobs2 = _setup(_spec(3), "run-2")  # another run (process, machine) of the spec
    again = _deliver(ctx2, jobs2, wait=False)
    assert again.submitted == [] and len(again.pending) == 3
    batch_env.finish_now()
    done = _deliver(ctx2, jobs2, wait=False)

    assert done.submitted == [] and len(done.ready) == 3
    assert batch_env.jobs_created == 1
    assert batch_env.keys_received == {j.gen_key: 1 for j in jobs}
    # Paid to the run that submitted the job.
    assert {_sidecar(Bucket(ctx.bucket), j)["cost_run_id"] for j in jobs} == {"run-1"}


def test_a_job_created_before_its_record_was_updated_is_found(batch_env: FakeBatchServer) -> None:
    """Killed between the job's creation and the record's second write: found by name."""
    from mediagen.backends.gemini.batch import GeminiBatchClient

    batch_env.pending_s = 120
    ctx, jobs = _setup(_spec(2), "run-1")
    bucket = Bucket(ctx.bucket)
    record = batch_state.BatchRecord(
        token=batch_state.new_token(), spec="batchy", backend="gemini", model=MODEL,
        run_id="run-1", keys={j.gen_key: [j.id] for j in jobs},
    )  # fmt: skip
    batch_state.create(bucket, ctx.prefix, record)
    client = GeminiBatchClient(get_settings())
    lines = [client.line(j.gen_key, MODEL, j.request) for j in jobs]
    name = client.submit(MODEL, lines, record.display_name)
    client.close()

    out = _deliver(ctx, jobs, wait=False)
    assert out.submitted == [] and len(out.pending) == 2
    (saved,) = batch_state.load_all(bucket, ctx.prefix, "batchy")
    assert saved.name == name and saved.state == "submitted"
    assert batch_env.jobs_created == 1


def test_two_specs_never_share_records(batch_env: FakeBatchServer) -> None:
    batch_env.pending_s = 120
    storage = {"storage": {"prefix": "shared", "shared_prefix": True}}
    ctx_a, jobs_a = _setup(_spec(2, "spec-a", **storage), "run-a")
    ctx_b, jobs_b = _setup(_spec(2, "spec-b", **storage), "run-b")
    _deliver(ctx_a, jobs_a, wait=False)
    _deliver(ctx_b, jobs_b, wait=False)
    bucket = Bucket(ctx_a.bucket)
    assert [r.spec for r in batch_state.load_all(bucket, "shared", "spec-a")] == ["spec-a"]
    assert [r.spec for r in batch_state.load_all(bucket, "shared", "spec-b")] == ["spec-b"]
    assert batch_env.jobs_created == 2


COMPARED = ("status", "blocked_reason", "blocked_message", "error", "model", "attempts")


def _entry_fields(entry: Any) -> dict[str, Any]:
    return {k: getattr(entry, k) for k in COMPARED}


FAULTS = [
    Fault.finish("IMAGE_SAFETY", "an unsafe picture"),
    Fault.prompt_blocked(),
    Fault.text_only(),
    Fault.error(400, "Request contains an invalid argument."),
]


def test_lines_without_an_image_are_recorded_as_sync_records_them(
    batch_env: FakeBatchServer,
) -> None:
    spec = _spec(len(FAULTS) + 1)
    ctx, jobs = _setup(spec, "run-batch")
    for i, fault in enumerate(FAULTS):
        batch_env.gemini.script(fault, match=f"picture {i} ", times=None)
    out = _deliver(ctx, jobs)

    assert [j.id for j in out.ready] == [f"img{len(FAULTS)}"]
    sync_ctx = RunContext.for_spec(_spec(len(FAULTS) + 1, "sync-twin"), get_settings(),
                                   run_id="run-sync")  # fmt: skip
    with sync_ctx.new_run(get_settings()) as run:
        for i in range(len(FAULTS)):
            job = expand_spec(_spec(len(FAULTS) + 1, "sync-twin"), get_settings())[i]
            synced = make_image(job, sync_ctx, run)
            assert _entry_fields(out.failed[f"img{i}"]) == _entry_fields(synced), FAULTS[i].kind
    blocked = out.failed["img0"]
    assert blocked.status == "blocked" and blocked.blocked_reason == "IMAGE_SAFETY"
    assert blocked.cost_usd > 0 and blocked.cost_run_id == "run-batch"
    assert out.failed["img3"].status == "failed" and "400" in (out.failed["img3"].error or "")


def _failing(batch_env: FakeBatchServer, state: str, times: int = 1) -> None:
    batch_env.script_outcome(state, times=times)


@pytest.mark.parametrize("state", ["FAILED", "EXPIRED"])
def test_on_failure_retry_makes_a_new_job(batch_env: FakeBatchServer, state: str) -> None:
    _failing(batch_env, state)
    ctx, jobs = _setup(_spec(3), "run-1")
    out = _deliver(ctx, jobs, on_failure="retry")
    assert len(out.ready) == 3 and not out.failed
    assert batch_env.jobs_created == 2
    assert batch_env.keys_received == {j.gen_key: 2 for j in jobs}
    states = [r.state for r in batch_state.load_all(Bucket(ctx.bucket), ctx.prefix, "batchy")]
    assert states == ["failed", "collected"]


def test_on_failure_retry_gives_up_after_max_attempts(batch_env: FakeBatchServer) -> None:
    _failing(batch_env, "EXPIRED", times=2)
    ctx, jobs = _setup(_spec(2), "run-1")
    out = _deliver(ctx, jobs, on_failure="retry", max_attempts=2)
    assert not out.ready and batch_env.jobs_created == 2
    assert {e.status for e in out.failed.values()} == {"failed"}
    assert all("ended EXPIRED (2 job(s) tried)" in (e.error or "") for e in out.failed.values())


def test_on_failure_sync_hands_the_images_back(batch_env: FakeBatchServer) -> None:
    _failing(batch_env, "FAILED")
    ctx, jobs = _setup(_spec(2), "run-1")
    out = _deliver(ctx, jobs, on_failure="sync")
    assert sorted(j.id for j in out.sync) == ["img0", "img1"]
    assert not out.ready and not out.failed and batch_env.jobs_created == 1
    with ctx.new_run(get_settings()) as run:  # the ordinary way: full price, sync calls
        entries = [make_image(job, ctx, run) for job in out.sync]
    assert [e.status for e in entries] == ["ok", "ok"]
    assert len(batch_env.gemini.image_requests) == 2


def test_on_failure_fail_records_them(batch_env: FakeBatchServer) -> None:
    _failing(batch_env, "FAILED")
    ctx, jobs = _setup(_spec(2), "run-1")
    out = _deliver(ctx, jobs, on_failure="fail")
    assert {e.status for e in out.failed.values()} == {"failed"}
    assert all("ended FAILED" in (e.error or "") for e in out.failed.values())
    assert batch_env.jobs_created == 1 and batch_env.gemini.requests == []


def test_a_cancelled_job_follows_on_failure(batch_env: FakeBatchServer, tmp_path: Path) -> None:
    from mediagen.engine import batch_admin

    batch_env.pending_s = 120
    spec = _spec(2)
    ctx, jobs = _setup(spec, "run-1")
    first = _deliver(ctx, jobs, wait=False)
    assert batch_admin.cancel_jobs(spec, get_settings()) == first.submitted
    out = _deliver(ctx, jobs, on_failure="fail", wait=False)
    assert all("ended CANCELLED" in (e.error or "") for e in out.failed.values())
    rows = batch_admin.list_jobs(spec, get_settings())
    assert [(r.state, r.job_state, r.images) for r in rows] == [("failed", "CANCELLED", 2)]


def test_reference_images_go_inline_in_the_batch_lines(
    batch_env: FakeBatchServer, workspace: Path
) -> None:
    import base64

    from mediagen.spec.models import load_spec
    from tests.support.references import write_png, write_spec

    red = write_png(workspace / "spec" / "brand" / "red.png", (220, 30, 30))
    path = write_spec(
        workspace / "spec" / "refs.yaml",
        "name: refbatch\nbackend: gemini\ndefaults:\n  size: thumbnail\n  delivery: batch\n"
        "  references: [{file: brand/red.png, role: style}]\n"
        "images:\n  - id: jar\n    prompt: a coin jar\n",
    )
    spec = load_spec(path)
    ctx, jobs = _setup(spec, "run-refs")
    out = _deliver(ctx, jobs)

    assert [j.id for j in out.ready] == ["jar"] and batch_env.jobs_created == 1
    (record,) = batch_state.load_all(Bucket(ctx.bucket), ctx.prefix, "refbatch")
    (line,) = batch_env.job(record.name).lines
    parts = line["request"]["contents"][0]["parts"]
    inline = [p["inlineData"] for p in parts if "inlineData" in p]
    # The SDK's own encoding of bytes (as on a sync call): URL-safe base64.
    decoded = [base64.urlsafe_b64decode(i["data"] + "=" * (-len(i["data"]) % 4)) for i in inline]
    assert decoded == [red.read_bytes()]
    assert any("Reference 1 (style)" in p.get("text", "") for p in parts)
