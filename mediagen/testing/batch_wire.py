"""What the local Batch API server keeps: files and jobs, in the API's own words.

The resources as the Gemini Developer API shows them (``files/…``,
``batches/…``), and the state a job is in at a given time (see
:mod:`mediagen.testing.batch_server`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})
BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch"


def now_iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex[:16]  # lowercase letters and digits: what the SDK's name parsing takes


@dataclass
class StoredFile:
    name: str  # files/{id}
    display_name: str
    mime_type: str
    data: bytes
    created: float
    source: str  # UPLOADED | GENERATED

    def resource(self, base_url: str) -> dict[str, Any]:
        out = {
            "name": self.name,
            "displayName": self.display_name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": now_iso(self.created),
            "updateTime": now_iso(self.created),
            "state": "ACTIVE",
            "source": self.source,
            "uri": f"{base_url}/v1beta/{self.name}",
        }
        if self.source == "GENERATED":
            out["downloadUri"] = f"{base_url}/v1beta/{self.name}:download?alt=media"
        return out


@dataclass
class BatchJob:
    name: str  # batches/{id}
    model: str
    display_name: str
    input_file: str
    lines: list[dict[str, Any]]
    api_key: str | None
    created: float
    pending_s: float
    running_s: float
    outcome: str  # the terminal state it reaches on its own
    cancelled_at: float | None = None
    output_file: str | None = None
    ended: float | None = None

    def state(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "CANCELLED"
        if now < self.created + self.pending_s:
            return "PENDING"
        if now < self.created + self.pending_s + self.running_s:
            return "RUNNING"
        return self.outcome


__all__ = ["BATCH_TYPE", "TERMINAL", "BatchJob", "StoredFile", "new_id", "now_iso"]
