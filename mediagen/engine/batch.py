"""Batch delivery: the planned images with ``delivery: batch`` go to batch jobs.

:func:`deliver` is one round of it, for one run, and can be called again and
again (the next round, the next run, a run on another machine) without ever
submitting a line twice:

1. images whose original is already in the bucket are ``ready`` at once;
2. the spec's job records (:mod:`mediagen.engine.batch_state`) say which lines
   are already in a job: those jobs are polled, never submitted again;
3. the other lines are grouped by backend and model, split by the backend's
   size limits, and each group is recorded *before* it is submitted and again
   with the job's name the moment it has one;
4. a job that SUCCEEDED is collected: each answer is checked and stored as the
   image's original (``_originals/{gen_key}`` + sidecar, as the sync path
   stores it, at the batch price, paid to the run that submitted the job, in
   the cost ledger under a key fixed by job and line, so collecting twice counts
   once); a line's error or block becomes the image's entry exactly as in sync
   mode;
5. a job that ended FAILED / EXPIRED / CANCELLED follows ``on_failure``:
   ``retry`` (its lines in a new job, up to ``max_attempts`` jobs), ``sync``
   (handed back to be made the ordinary way) or ``fail`` (recorded failed).

The caller then runs the ordinary chain (generate → process → upload) for the
``ready`` images: generate finds their originals and makes no call. With
``wait=True`` a round returns as soon as a job has finished (so its images are
published at once), or when nothing is left; with ``wait=False`` after one look.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mediagen.backends import batching
from mediagen.engine import batch_state
from mediagen.engine.batch_state import BatchRecord
from mediagen.engine.context import RunContext
from mediagen.engine.entries import failed_entry
from mediagen.engine.references import with_reference_bytes
from mediagen.engine.run import Run
from mediagen.errors import BadAnswerError, MediagenError
from mediagen.imaging.answer_check import check_answer
from mediagen.manifest import costs
from mediagen.manifest.model import ImageEntry
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob
from mediagen.storage.bucket import Bucket

logger = logging.getLogger("mediagen")

FAILURE_OPTIONS = ("retry", "sync", "fail")
ENDED_BADLY = ("FAILED", "EXPIRED", "CANCELLED")


@dataclass
class BatchRound:
    ready: list[ImageJob] = field(default_factory=list)  # originals stored: run the chain
    sync: list[ImageJob] = field(default_factory=list)  # on_failure=sync: make them as usual
    failed: dict[str, ImageEntry] = field(default_factory=dict)  # recorded as in sync mode
    pending: list[ImageJob] = field(default_factory=list)  # their job has not finished
    submitted: list[str] = field(default_factory=list)  # job names created this round
    jobs: list[BatchRecord] = field(default_factory=list)  # the records still active


def deliver(
    jobs: Iterable[ImageJob],
    ctx: RunContext,
    run: Run,
    *,
    on_failure: str = "retry",
    wait: bool = True,
    poll_s: float = 30.0,
    max_attempts: int = 3,
    max_lines: int | None = None,
) -> BatchRound:
    """One round of batch delivery for ``jobs`` (see the module docstring)."""
    if on_failure not in FAILURE_OPTIONS:
        raise ValueError(f"on_failure must be one of {FAILURE_OPTIONS}, not {on_failure!r}")
    bucket = run.bucket(ctx.bucket)
    out = BatchRound()
    todo: dict[str, list[ImageJob]] = defaultdict(list)  # gen_key -> the images waiting
    for job in jobs:
        todo[job.gen_key].append(job)
    stored = set(bucket.find(keys.originals_folder(ctx.prefix)))  # one listing, not a HEAD each
    for gen_key in list(todo):
        if keys.sidecar_key(todo[gen_key][0].original_key) in stored:
            out.ready += todo.pop(gen_key)
    records = batch_state.load_all(bucket, ctx.prefix, ctx.spec_name)
    clients: dict[str, Any] = {}

    def client(backend: str) -> Any:
        if backend not in clients:
            clients[backend] = batching.batch_client(backend, run.settings)
        return clients[backend]

    try:
        while todo:
            run.check()
            mine = [r for r in batch_state.active(records) if set(r.keys) & set(todo)]
            covered = {k for r in mine for k in r.keys}
            new = _submit(bucket, ctx, client, {k: v for k, v in todo.items() if k not in covered},
                          max_lines)  # fmt: skip
            records += new
            out.submitted += [r.name for r in new]
            finished = False
            for record in mine + new:
                finished |= _poll(bucket, ctx, client(record.backend), record, todo, out,
                                  on_failure, max_attempts, records)  # fmt: skip
            if not todo or not wait or finished:
                break
            run.sleep(poll_s)
    finally:
        for opened in clients.values():
            opened.close()
    out.pending = [job for waiting in todo.values() for job in waiting]
    out.jobs = [r for r in batch_state.active(records) if set(r.keys) & set(todo)]
    return out


def _submit(
    bucket: Bucket, ctx: RunContext, client: Any, todo: dict[str, list[ImageJob]],
    max_lines: int | None, attempt: int = 1,
) -> list[BatchRecord]:  # fmt: skip
    """Record, then submit, one job per group of lines (by backend and model, split)."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for gen_key, waiting in todo.items():
        job = waiting[0]
        groups[(job.backend, job.request.model or "")].append(gen_key)
    made = []
    for (backend, model), gen_keys in sorted(groups.items()):
        batch_client = client(backend)
        model = model or _default_model(backend)
        lines = [  # reference images go inline in the line, as in a sync request
            batch_client.line(k, model, with_reference_bytes(todo[k][0].request, bucket))
            for k in gen_keys
        ]
        limits = {"max_lines": max_lines} if max_lines else {}
        for indexes in batching.split(backend, lines, **limits):
            record = BatchRecord(
                token=batch_state.new_token(), spec=ctx.spec_name, backend=backend,
                model=model, run_id=ctx.run_id, attempt=attempt,
                keys={gen_keys[i]: [j.id for j in todo[gen_keys[i]]] for i in indexes},
            )  # fmt: skip
            batch_state.create(bucket, ctx.prefix, record)  # before the job exists
            record.name = batch_client.submit(model, [lines[i] for i in indexes],
                                              record.display_name)  # fmt: skip
            record.state, record.job_state = "submitted", "PENDING"
            batch_state.save(bucket, ctx.prefix, record)  # at once: a restart polls this job
            logger.info("batch job %s: %d image(s) on %s", record.name, record.images, model)
            made.append(record)
    return made


def _poll(
    bucket: Bucket, ctx: RunContext, client: Any, record: BatchRecord,
    todo: dict[str, list[ImageJob]], out: BatchRound, on_failure: str, max_attempts: int,
    records: list[BatchRecord],
) -> bool:  # fmt: skip
    """Look at one job; collect or handle it when it has ended. True when it ended."""
    if not record.name:  # killed between the record and the job: find it by its name
        found = [j for j in client.list(1000) if j.display_name == record.display_name]
        if not found:
            record.state, record.note = "failed", "never submitted (the run stopped first)"
            batch_state.save(bucket, ctx.prefix, record)
            return False  # its lines are not covered any more: the next pass submits them
        record.name, record.state = found[0].name, "submitted"
    info = client.get(record.name)
    if info.state != record.job_state:
        record.job_state = info.state
        batch_state.save(bucket, ctx.prefix, record)
    if info.state == "SUCCEEDED":
        _collect(bucket, ctx, client, record, info, todo, out)
        record.state = "collected"
        batch_state.save(bucket, ctx.prefix, record)
        return True
    if info.state not in ENDED_BADLY:
        return False
    waiting = {k: todo.pop(k) for k in record.keys if k in todo}
    record.state, record.note = "failed", f"job {info.state}; on_failure: {on_failure}"
    batch_state.save(bucket, ctx.prefix, record)
    logger.warning("batch job %s ended %s: %d image(s), %s", record.name, info.state,
                   record.images, on_failure)  # fmt: skip
    if on_failure == "retry" and record.attempt < max_attempts:
        made = _submit(bucket, ctx, lambda _: client, waiting, None, record.attempt + 1)
        records += made
        out.submitted += [r.name for r in made]
        todo.update(waiting)
        return False
    if on_failure == "sync":
        out.sync += [job for jobs in waiting.values() for job in jobs]
        return True
    why = f"batch job {record.name} ended {info.state}"
    if on_failure == "retry":
        why += f" ({record.attempt} job(s) tried)"
    for jobs in waiting.values():
        for job in jobs:
            out.failed[job.id] = failed_entry(job, ctx, why)
    return True


def _collect(
    bucket: Bucket, ctx: RunContext, client: Any, record: BatchRecord, info: Any,
    todo: dict[str, list[ImageJob]], out: BatchRound,
) -> None:  # fmt: skip
    """Store each answer as its image's original; record each line's error as sync does."""
    answered = {line.key: line for line in client.results(info)}
    for gen_key in record.keys:
        waiting = todo.pop(gen_key, None)
        if not waiting:
            continue  # made meanwhile (another job, the sync path)
        line = answered.get(gen_key)
        if line is None:
            for job in waiting:
                out.failed[job.id] = failed_entry(job, ctx, f"batch {record.name}: no answer")
            continue
        ledger = costs.Call(bucket, ctx.prefix, waiting[0].id, record.run_id, "image",
                            token=f"b{record.token[:10]}{gen_key[:10]}")  # fmt: skip
        error: MediagenError | None = line.error
        if line.result is not None:
            try:
                _store(bucket, ctx, waiting[0], line.result, record)
            except BadAnswerError as exc:
                exc.cost_usd, exc.usage = line.result.cost_usd, line.result.usage  # type: ignore[attr-defined]
                exc.model = line.result.model  # type: ignore[attr-defined]
                error = exc
            else:
                ledger.paid([costs.Payment(line.result.model, "image", line.result.cost_usd,
                                           line.result.usage)])  # fmt: skip
                out.ready += waiting
                continue
        assert error is not None
        cost = float(getattr(error, "cost_usd", 0.0) or 0.0)
        if cost or getattr(error, "usage", None):
            what = "blocked" if error.__class__.__name__ == "BlockedError" else "failed"
            ledger.paid([costs.Payment(record.model, what, cost,
                                       dict(getattr(error, "usage", {})))])  # fmt: skip
        for job in waiting:
            entry = failed_entry(job, ctx, error)
            # As the sync path records it (orchestrate/outcomes: the stage, then the reason);
            # paid by the run that submitted the job, like its images.
            update: dict[str, object] = {"error": f"generate: {entry.error}"}
            if cost:
                update["cost_run_id"] = record.run_id
            out.failed[job.id] = entry.model_copy(update=update)


def _store(
    bucket: Bucket, ctx: RunContext, job: ImageJob, result: Any, record: BatchRecord
) -> None:
    """The original and its sidecar, exactly as the sync generate stage writes them."""
    checked = check_answer(result.data)  # before it is stored: BadAnswerError
    info = {
        "original_key": keys.original_key(job.original_key, checked.extension),
        "mime_type": checked.mime_type,
        "backend": result.backend,
        "model": result.model,
        "ai_generated": result.ai_generated,
        "usage": result.usage,
        "cost_usd": result.cost_usd,
        "cost_run_id": record.run_id,
        "attempts": list(result.attempts),
    }
    bucket.put(info["original_key"], result.data, content_type=info["mime_type"], public=False)
    bucket.put(keys.sidecar_key(job.original_key), json.dumps(info).encode(),
               content_type="application/json", public=False)  # fmt: skip


def _default_model(backend: str) -> str:
    from mediagen.backends import get_backend_class

    return str(get_backend_class(backend).default_model or "")


__all__ = ["ENDED_BADLY", "FAILURE_OPTIONS", "BatchRound", "deliver"]
