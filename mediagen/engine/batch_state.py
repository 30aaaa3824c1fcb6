"""Batch jobs in the bucket: what was submitted, for which images, and how it ended.

A batch job is paid when it runs, hours after it was submitted, maybe after the
process that submitted it is gone. So its record is written to the bucket
*before* the job is created, and again the moment the job has a name:

    {prefix}/_batches/{spec}/{token}.json      (private; one per job)

``state`` goes ``submitting`` → ``submitted`` (with the job's ``name``) →
``collected`` (its answers are originals in the bucket) or ``failed`` (ended
FAILED / EXPIRED / CANCELLED and handled by the spec's ``on_failure``). The
record maps each line key (the image's ``gen_key``: the content address of what
was asked) to the image ids that wait for it. The first write is a conditional
create, so two runs can never claim one token; a record is only ever read and
rewritten by a run of its own spec (the folder is the spec's), never another
spec's. A run that finds a ``submitting`` record without a name (killed between
the two writes) looks the job up by its display name, ``mediagen-{token}``,
before it submits anything: a job is never created twice.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from mediagen.plan.keys import join, safe_segment
from mediagen.storage.bucket import Bucket

BATCH_DIR = "_batches"
ACTIVE = ("submitting", "submitted")


def batch_folder(prefix: str, spec: str) -> str:
    return join(prefix, f"{BATCH_DIR}/{safe_segment(spec)}/")


@dataclass
class BatchRecord:
    token: str
    spec: str
    backend: str
    model: str
    run_id: str  # the run that submitted it (its answers are paid to this run)
    keys: dict[str, list[str]]  # line key (gen_key) -> image ids
    state: str = "submitting"
    name: str = ""  # the job's name at the backend (batches/…)
    job_state: str = ""  # the last state the backend reported
    attempt: int = 1  # 2, 3… : resubmitted after a failed job (on_failure: retry)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    updated_at: str = ""
    note: str = ""

    @property
    def display_name(self) -> str:
        return f"mediagen-{self.token}"

    @property
    def images(self) -> int:
        return sum(len(ids) for ids in self.keys.values())


def new_token() -> str:
    return uuid.uuid4().hex[:20]


def key_of(prefix: str, record: BatchRecord) -> str:
    return batch_folder(prefix, record.spec) + f"{record.token}.json"


def create(bucket: Bucket, prefix: str, record: BatchRecord) -> None:
    """Write a new record (conditional create: FileExistsError/PreconditionFailed if taken)."""
    record.updated_at = datetime.now(UTC).isoformat()
    bucket.put(key_of(prefix, record), _encode(record), content_type="application/json",
               public=False, if_none_match=True)  # fmt: skip


def save(bucket: Bucket, prefix: str, record: BatchRecord) -> None:
    record.updated_at = datetime.now(UTC).isoformat()
    bucket.put(key_of(prefix, record), _encode(record), content_type="application/json",
               public=False)  # fmt: skip


def load_all(bucket: Bucket, prefix: str, spec: str) -> list[BatchRecord]:
    """Every record of ``spec`` under ``prefix``, oldest first (unreadable ones skipped)."""
    out = []
    for key in bucket.find(batch_folder(prefix, spec)):
        if not key.endswith(".json"):
            continue
        try:
            data = json.loads(bucket.get(key))
            record = BatchRecord(**data)
        except (FileNotFoundError, ValueError, TypeError):
            continue
        if record.spec == spec:
            out.append(record)
    return sorted(out, key=lambda r: r.created_at)


def active(records: list[BatchRecord]) -> list[BatchRecord]:
    return [r for r in records if r.state in ACTIVE]


def _encode(record: BatchRecord) -> bytes:
    return json.dumps(asdict(record), indent=1).encode()


__all__ = ["ACTIVE", "BATCH_DIR", "BatchRecord", "active", "batch_folder", "create",
           "key_of", "load_all", "new_token", "save"]  # fmt: skip
