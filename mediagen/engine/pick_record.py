"""The pick record: an image's scored candidates and the choice, stored beside its original.

``{prefix}/_originals/{gen_key_0}.pick-{h16}.json``, private, where ``h16`` hashes
the candidates' gen_keys and the pick mode (and the score version, for ``auto``:
a new score picks again; a person's choice outlives it). Written when a choice is
made (``auto``) or a decision recorded (``review``); read by every later chain of
the image, so the same candidates give the same choice without scoring again, an
approval is sticky, and once prune removed the losers a re-run needs the chosen
original only. See :mod:`mediagen.engine.candidates`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mediagen.imaging.scoring import SCORE_VERSION
from mediagen.plan import keys
from mediagen.plan.jobs import ImageJob
from mediagen.storage.bucket import Bucket

logger = logging.getLogger("mediagen")

PICK_MARK = ".pick-"  # {original base of candidate 0}.pick-{h16}.json
RECORD_VERSION = 1


def record_key(job: ImageJob, gen_keys: Sequence[str]) -> str:
    """Where the pick record of these candidates is (beside candidate 0's original)."""
    identity: dict[str, Any] = {"candidates": list(gen_keys), "pick": job.pick}
    if job.pick == "auto":
        identity["score"] = SCORE_VERSION  # a person's choice outlives a new score
    base = job.original_key  # candidate 0 is the job itself
    return f"{base}{PICK_MARK}{keys.canonical_hash(identity)[:16]}.json"


def read_record(bucket: Bucket, key: str) -> dict[str, Any] | None:
    """The pick record at ``key``, or ``None`` (absent, or not one of ours)."""
    try:
        record = json.loads(bucket.get(key))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        logger.warning("unreadable pick record %s: choosing again", key)
        return None
    return record if isinstance(record, dict) and record.get("v") == RECORD_VERSION else None


def write_record(
    bucket: Bucket,
    key: str,
    *,
    image_id: str,
    mode: str,
    chosen: int | None,
    decision: str,
    by: str = "",
    at: datetime | None = None,
    note: str = "",
    candidates: list[dict[str, Any]],
) -> dict[str, Any]:
    """Store a pick record (privately: it names unpublished originals); returns it."""
    record = {
        "v": RECORD_VERSION,
        "image_id": image_id,
        "mode": mode,
        "chosen": chosen,
        "decision": decision,
        "by": by or None,
        "at": (at or datetime.now(UTC)).isoformat(),
        "note": note or None,
        "candidates": candidates,
    }
    bucket.put(key, json.dumps(record).encode(), content_type="application/json", public=False)
    return record


__all__ = ["PICK_MARK", "RECORD_VERSION", "read_record", "record_key", "write_record"]
