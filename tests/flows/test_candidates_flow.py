"""Candidates through the generate-media flow on the real Prefect engine: the chosen
candidate's original travels between task runs, and only it is published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.run import run_flow
from tests.support.candidates import SeedPaintBackend, colour_of, jobs_of, paint

pytestmark = pytest.mark.usefixtures("prefect_server")

TEAL, RED, BLUE = "#0A7B83", "#D0312D", "#2A52BE"


def spec_of(backend: str) -> dict[str, Any]:
    # Different seeds: candidate 0 of each image has its own (the backend paints by seed).
    images = [{"id": i, "prompt": f"a {i}", "size": "thumbnail", "seed": seed, "candidates": 3,
               "brand_colors": [TEAL]} for i, seed in (("coin", 3), ("jar", 4))]  # fmt: skip
    return {"name": "flowcands", "backend": backend, "images": images}


def test_the_flow_publishes_the_best_candidate_and_pays_each_once(
    workspace: Path, seedpaint: type[SeedPaintBackend]
) -> None:
    spec = spec_of("seedpaint")
    coin, jar = jobs_of(spec)
    paint(coin, RED, BLUE, TEAL)
    paint(jar, TEAL, RED, BLUE)
    manifest = run_flow(spec)
    assert SeedPaintBackend.total() == 6
    coin_entry, jar_entry = manifest.images["coin"], manifest.images["jar"]
    assert coin_entry.status == jar_entry.status == "ok"
    assert coin_entry.pick and jar_entry.pick
    assert (coin_entry.pick.chosen, jar_entry.pick.chosen) == (2, 0)
    for entry in (coin_entry, jar_entry):
        assert colour_of(workspace / "bucket" / entry.outputs[0].key) == (0x0A, 0x7B, 0x83)
    published = {
        str(p.relative_to(workspace / "bucket"))
        for p in (workspace / "bucket" / "flowcands").glob("*.*")
    }
    assert published == {o.key for e in (coin_entry, jar_entry) for o in e.outputs} | {
        "flowcands/manifest.json", "flowcands/index.html"}  # fmt: skip
    again = run_flow(spec)
    assert SeedPaintBackend.total() == 6 and again.counts["plan_unchanged"] == 2
