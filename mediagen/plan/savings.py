"""What a delivery saves: each image's estimate at the standard price and at its own.

``delivery: batch`` and ``delivery: flex`` ask the same image for less (on the
Gemini API, half: see the backend's catalogue). ``mediagen plan`` shows, per image
to make, how it is delivered and what that saves against ``sync``, and the total.
The estimate a plan already carries (:attr:`PlanItem.estimated_cost_usd`) is the
price at the image's own delivery; the standard one is asked of the backend
with the same request delivered ``sync``. A backend without cheaper tiers (the
offline renderer) saves nothing. Pure arithmetic: no backend call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mediagen.backends import get_backend_class
from mediagen.plan.diff import Plan, PlanItem
from mediagen.settings import Settings
from mediagen.spec.delivery import DEFAULT_DELIVERY


@dataclass(frozen=True)
class Saving:
    """One image's delivery and its estimate at the standard price and at its own."""

    image_id: str
    delivery: str
    standard_usd: float
    estimated_usd: float

    @property
    def saving_usd(self) -> float:
        return round(max(0.0, self.standard_usd - self.estimated_usd), 8)


@dataclass(frozen=True)
class Savings:
    """Per image to make (unchanged images cost and save nothing) and in total."""

    items: dict[str, Saving]

    @property
    def total_usd(self) -> float:
        return round(sum(s.saving_usd for s in self.items.values()), 6)

    @property
    def standard_usd(self) -> float:
        return round(sum(s.standard_usd for s in self.items.values()), 6)

    def by_delivery(self) -> dict[str, int]:
        """How many images to make go each way, e.g. ``{"flex": 3, "sync": 1}``."""
        counts: dict[str, int] = {}
        for saving in self.items.values():
            counts[saving.delivery] = counts.get(saving.delivery, 0) + 1
        return dict(sorted(counts.items()))


def saving_of(item: PlanItem, settings: Settings) -> Saving:
    job = item.job
    if item.action == "unchanged":
        return Saving(job.id, job.delivery, 0.0, 0.0)
    standard = item.estimated_cost_usd
    if job.delivery != DEFAULT_DELIVERY:
        sync = replace(job.request, delivery=str(DEFAULT_DELIVERY))
        standard = get_backend_class(job.backend).estimate_cost(sync, settings)
    return Saving(job.id, job.delivery, standard, item.estimated_cost_usd)


def savings(plan: Plan, settings: Settings) -> Savings:
    return Savings(
        {i.job.id: saving_of(i, settings) for i in plan.items if i.action != "unchanged"}
    )


__all__ = ["Saving", "Savings", "saving_of", "savings"]
