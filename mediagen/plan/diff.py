"""The plan: which images need work, by diffing the spec's jobs against the manifest.

- ``new``: no entry in the manifest;
- ``changed``: an entry exists but its gen_key or outputs differ;
- ``retry``: the last attempt did not publish it (blocked or failed);
- ``unchanged``: published with the same keys: no task, no call, no upload;
- ``removed``: in the manifest but no longer in the spec.

Each item also carries the image's last brand-fit score when it still applies
(same generation, same ΔE threshold), flagged against the spec's current
``min_score``: ``mediagen plan`` shows off-brand images before anything runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from mediagen.backends import get_backend_class
from mediagen.manifest.model import ImageEntry, Manifest
from mediagen.plan.candidates import as_recorded
from mediagen.plan.jobs import ImageJob
from mediagen.settings import Settings


@dataclass(frozen=True)
class PlanItem:
    job: ImageJob
    action: str  # new | changed | retry | unchanged
    reason: str = ""
    estimated_cost_usd: float = 0.0
    brand_score: float | None = None  # from the last run, when it still applies
    off_brand: bool = False


@dataclass
class Plan:
    items: list[PlanItem]
    removed: list[str] = field(default_factory=list)

    @property
    def todo(self) -> list[ImageJob]:
        return [i.job for i in self.items if i.action != "unchanged"]

    def counts(self) -> dict[str, int]:
        counts = Counter(i.action for i in self.items)
        out = {k: counts.get(k, 0) for k in ("new", "changed", "retry", "unchanged")}
        out["removed"] = len(self.removed)
        return out

    @property
    def off_brand(self) -> list[str]:
        """Ids of images whose last brand-fit score is below the spec's ``min_score``."""
        return [i.job.id for i in self.items if i.off_brand]

    @property
    def estimated_cost_usd(self) -> float:
        return round(sum(i.estimated_cost_usd for i in self.items), 6)


def make_plan(jobs: list[ImageJob], previous: Manifest | None, settings: Settings) -> Plan:
    """Diff ``jobs`` against ``previous``; estimates cost for the images to make."""
    entries = previous.images if previous else {}
    items = []
    for job in jobs:
        entry = entries.get(job.id)
        # With candidates, the entry describes the chosen one (mediagen.plan.candidates).
        recorded, why = as_recorded(job, entry)
        action, reason = _classify(recorded, entry)
        if why and action == "unchanged":
            action, reason = "changed", why
        cost = 0.0
        if action != "unchanged":  # every candidate is a generation
            cost = job.candidates * get_backend_class(job.backend).estimate_cost(
                job.request, settings
            )
        score, off = brand_status(recorded, entry)
        items.append(PlanItem(job, action, reason, cost, score, off))
    ids = {j.id for j in jobs}
    removed = sorted(i for i in entries if i not in ids)
    return Plan(items, removed)


def brand_status(job: ImageJob, entry: ImageEntry | None) -> tuple[float | None, bool]:
    """(last brand-fit score, off brand?) if the entry's score still describes this job."""
    fit = entry.brand_fit if entry is not None else None
    check = job.brand_check
    if fit is None or entry is None or entry.gen_key != job.gen_key:
        return None, False  # not scored yet, or a new generation will be
    if check is not None and check.max_delta_e != fit.max_delta_e:
        return None, False  # scored with another threshold: it will be re-scored
    min_score = check.min_score if check is not None else None
    return fit.score, min_score is not None and fit.score < min_score


def _classify(job: ImageJob, entry: ImageEntry | None) -> tuple[str, str]:
    if entry is None:
        return "new", ""
    if entry.status != "ok":
        return "retry", f"last run: {entry.status}" + (f" ({entry.error})" if entry.error else "")
    if entry.gen_key != job.gen_key:
        return "changed", "prompt or generation parameters changed"
    if entry.out_keys != {o.out_key for o in job.outputs}:
        return "changed", "output formats or processing changed"
    if {o.key for o in entry.outputs} != {o.object_key for o in job.outputs}:
        return "changed", "object keys changed (naming or prefix)"
    if job.facts_key and entry.facts_key != job.facts_key:
        return "changed", "placeholders, colours, brand check or <picture> changed"
    return "unchanged", ""
