"""The cost ledger: every paid backend answer, recorded in the bucket when it is paid.

Why a ledger: a run can die at any moment (kill -9, a lost machine). Google
bills an answer when it is sent, whether or not the run lives to store the
image or write its manifest. So each backend call is bracketed:

1. before the call, an *in-flight* marker
   ``{prefix}/_costs/{image}/{run}.{token}.{what}.inflight.json``;
2. when the answer is in, one *paid* record per paid answer (the image, a
   blocked answer with usage, an alt-text description) and one *unknown*
   record per request that got no answer (a timeout may have been billed);
   then the marker is deleted.

A marker that outlives its run is an answer cut off in flight: billed or not,
nobody knows. The key of each record carries its cost (in nano-dollars), so
one listing of ``_costs/`` totals a spec without reading a single object;
the object itself holds the model, usage and time, for audits.

:func:`summarize` gives the manifest ``cost_usd`` (what this run paid),
``total_cost_usd`` (what every paid answer for the images it lists cost,
crashed runs included) and ``unknown_cost`` (the answers cut off in flight).
Originals carry their own cost and payer in their sidecar too, so an image
made by a crashed run and reused later still says what it cost and who paid.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mediagen.backends.base import GenerationResult
from mediagen.errors import BlockedError, StorageError
from mediagen.plan import keys
from mediagen.plan.keys import LEDGER_DIR as LEDGER_DIR
from mediagen.plan.keys import ledger_prefix
from mediagen.plan.keys import safe_segment as safe
from mediagen.storage.bucket import Bucket

if TYPE_CHECKING:
    from mediagen.manifest.model import ImageEntry

logger = logging.getLogger("mediagen")

_RECORD = re.compile(
    r"^(?P<run>[A-Za-z0-9_-]+)\.(?P<token>[A-Za-z0-9_-]+)\.(?P<what>[A-Za-z0-9_-]+)"
    r"(?:\.(?P<nano>\d+))?\.(?P<state>paid|unknown|inflight)\.json$"
)


@dataclass(frozen=True)
class Payment:
    """One paid answer: what it was for and what it cost."""

    model: str
    what: str  # image | blocked | failed | alt_text
    cost_usd: float
    usage: dict[str, int] = field(default_factory=dict)
    delivery: str = ""  # how it was served, when not the standard tier: flex (half price)


@dataclass
class Call:
    """One bracketed backend call (see the module docstring)."""

    bucket: Bucket
    prefix: str
    image_id: str
    run_id: str
    what: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    written: int = 0
    opened: bool = False

    @property
    def folder(self) -> str:
        return keys.ledger_folder(self.prefix, self.image_id)

    @property
    def marker(self) -> str:
        return keys.ledger_marker_key(
            self.prefix, self.image_id, self.run_id, self.token, self.what
        )

    def open(self) -> Call:
        self._put(self.marker, {"image_id": self.image_id, "run_id": self.run_id})
        self.opened = True
        return self

    def paid(self, payments: Iterable[Payment]) -> None:
        for payment in payments:
            self._record(payment.what, "paid", payment.cost_usd, asdict_payment(payment))

    def unknown(self, model: str, reason: str) -> None:
        """A request that got no answer: it may or may not have been billed."""
        self._record("timeout", "unknown", None, {"model": model, "reason": reason})

    def close(self) -> None:
        try:
            self.bucket.delete(self.marker)
        except (StorageError, FileNotFoundError, OSError) as exc:
            logger.warning("cost ledger: could not remove %s (%s)", self.marker, exc)

    def _record(self, what: str, state: str, cost: float | None, body: dict[str, Any]) -> None:
        self.written += 1
        key = keys.ledger_record_key(
            self.prefix, self.image_id, self.run_id, self.token, self.written, what, cost, state
        )
        self._put(key, {**body, "image_id": self.image_id, "run_id": self.run_id})

    def _put(self, key: str, body: dict[str, Any]) -> None:
        body = {**body, "at": datetime.now(UTC).isoformat()}
        self.bucket.put(
            key, json.dumps(body).encode(), content_type="application/json", public=False
        )


def asdict_payment(payment: Payment) -> dict[str, Any]:
    record = {
        "model": payment.model,
        "what": payment.what,
        "cost_usd": payment.cost_usd,
        "usage": payment.usage,
    }
    if payment.delivery and payment.delivery != "sync":
        record["delivery"] = payment.delivery  # audits: why it cost half
    return record


@dataclass(frozen=True)
class CostSummary:
    run_usd: float  # paid by this run
    total_usd: float  # every paid answer for the images considered, any run
    unknown: list[dict[str, str]]  # answers cut off in flight (or timed out): cost unknown


def summarize(
    bucket: Bucket, prefix: str, run_id: str, image_ids: Iterable[str] | None = None
) -> CostSummary:
    """Total the ledger with one listing (see the module docstring)."""
    wanted = None if image_ids is None else {safe(i) for i in image_ids}
    root = ledger_prefix(prefix)
    run = safe(run_id)
    run_usd = total_usd = 0.0
    unknown: list[dict[str, str]] = []
    for key in bucket.find(root):
        image, _, name = key[len(root) :].partition("/")
        found = _RECORD.match(name)
        if found is None or (wanted is not None and image not in wanted):
            continue
        if found["state"] == "paid":
            cost = int(found["nano"] or 0) / 1e9
            total_usd += cost
            if found["run"] == run:
                run_usd += cost
        else:
            unknown.append(
                {"image": image, "run_id": found["run"], "what": found["what"], "key": key}
            )
    return CostSummary(round(run_usd, 8), round(total_usd, 8), unknown)


def settle(ledger: Call, outcome: object) -> None:
    """Record what a bracketed call paid and close it; never fails the image.

    ``outcome``: the :class:`GenerationResult`, a :class:`Payment` (alt text), or
    the error raised (paid when it carries ``usage``/``cost_usd``: an answer
    without an image). Requests noted as ``timeout`` in its ``attempts`` are
    recorded as unknown.
    """
    if not ledger.opened:
        return
    try:
        for attempt in getattr(outcome, "attempts", None) or ():
            if attempt.get("outcome") == "timeout":
                ledger.unknown(attempt.get("model", ""), attempt.get("reason", ""))
        if isinstance(outcome, Payment):
            ledger.paid([outcome])
        elif isinstance(outcome, GenerationResult):
            served = outcome.metadata.get("delivery", "")  # e.g. flex: billed at the flex price
            ledger.paid([Payment(outcome.model, "image", outcome.cost_usd, outcome.usage, served)])
        elif getattr(outcome, "usage", None) or getattr(outcome, "cost_usd", 0):
            what = "blocked" if isinstance(outcome, BlockedError) else "failed"
            model = str(getattr(outcome, "model", ""))
            cost = float(getattr(outcome, "cost_usd", 0.0))
            ledger.paid([Payment(model, what, cost, dict(getattr(outcome, "usage", {})))])
        ledger.close()
    except Exception as exc:  # the bucket is down: the sidecar still carries the cost
        logger.warning("cost ledger for %s not written: %s", ledger.image_id, exc)


def manifest_fields(
    bucket: Bucket,
    prefix: str,
    run_id: str,
    results: Mapping[str, ImageEntry],
    images: Mapping[str, ImageEntry],
) -> dict[str, object]:
    """The manifest's ``cost_usd``, ``total_cost_usd`` and ``unknown_cost``."""
    summary = summarize(bucket, prefix, run_id, images)
    if not summary.total_usd and not summary.unknown:  # no paid call recorded (offline)
        paid_now = sum(r.cost_usd for r in results.values() if r.cost_run_id == run_id)
        return {"cost_usd": round(paid_now, 8), "total_cost_usd": round(paid_now, 8)}
    return {
        "cost_usd": summary.run_usd,
        "total_cost_usd": summary.total_usd,
        "unknown_cost": summary.unknown,
    }
