"""What batch and flex save in a plan: per image against its sync estimate, and in total."""

from __future__ import annotations

import pytest

from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.plan.savings import savings
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec

SETTINGS = Settings(_env_file=None)


def plan_of(backend: str, **defaults: object):
    spec = parse_spec(
        {
            "name": "saving",
            "backend": backend,
            "defaults": {"size": "hero", "quality": "standard", **defaults},
            "images": [
                {"id": "flexed", "prompt": "a coin", "delivery": "flex"},
                {"id": "batched", "prompt": "a coin", "delivery": "batch"},
                {"id": "plain", "prompt": "a coin"},
            ],
        }
    )
    return make_plan(expand_spec(spec, SETTINGS), None, SETTINGS)


def test_batch_and_flex_save_half_of_the_sync_estimate() -> None:
    plan = plan_of("gemini")
    saved = savings(plan, SETTINGS)
    flexed, batched, plain = (saved.items[i] for i in ("flexed", "batched", "plain"))
    # The same prompt and size: one sync price, of which flex and batch pay half.
    assert flexed.standard_usd == batched.standard_usd == plain.standard_usd > 0.1
    assert flexed.estimated_usd == pytest.approx(plain.standard_usd / 2)
    assert flexed.saving_usd == pytest.approx(plain.standard_usd / 2)
    assert batched.saving_usd == pytest.approx(flexed.saving_usd)
    assert plain.saving_usd == 0 and plain.estimated_usd == plain.standard_usd
    assert saved.total_usd == pytest.approx(plain.standard_usd, abs=1e-6)  # 6 places
    assert saved.standard_usd == pytest.approx(3 * plain.standard_usd, abs=1e-6)
    assert plan.estimated_cost_usd == pytest.approx(2 * plain.standard_usd, abs=1e-6)  # budget
    assert saved.by_delivery() == {"batch": 1, "flex": 1, "sync": 1}


def test_the_offline_renderer_costs_and_saves_nothing_whatever_the_delivery() -> None:
    saved = savings(plan_of("offline"), SETTINGS)
    assert saved.total_usd == 0 and saved.standard_usd == 0
    assert saved.by_delivery() == {"batch": 1, "flex": 1, "sync": 1}
