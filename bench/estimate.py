"""How close the plan's cost estimate is to what a run pays, on a mixed spec.

``python -m bench.estimate``: a local Gemini server, a spec mixing sizes
(thumbnail → 512, 1K, 2K, 4K), qualities, two models (3.1 Flash Image and
3 Pro Image), an image blocked after it was made (IMAGE_SAFETY, billed by its
usage) and a 429 that is retried (not billed). It prints the plan's estimate,
the manifest's cost and the difference.

The server reports usage the way the catalogue says the models do (image
tokens per size, typical thinking), so this checks the estimate's arithmetic
and its choices (the size each image is billed at, thinking, blocked answers,
retries), not Google's own counts: those are what MEDIAGEN_GEMINI_PRICING is for.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mediagen.testing import FakeGeminiServer, Fault

PRO = "gemini-3-pro-image"

MIXED_SPEC: dict[str, Any] = {
    "name": "estimate",
    "backend": "gemini",
    "images": [
        {"id": "thumb-fast", "prompt": "a jar of coins", "size": "thumbnail", "quality": "fast"},
        {"id": "square-fast", "prompt": "a piggy bank", "size": "standard", "quality": "fast"},
        {"id": "card", "prompt": "a house fund goal", "size": "social_landscape"},
        {"id": "hero-high", "prompt": "a rocket made of coins", "size": "hero", "quality": "high"},
        {"id": "banner", "prompt": "a wide savings banner", "size": "banner"},
        {"id": "story-pro", "prompt": "a travel fund story", "size": "story", "model": PRO},
        {"id": "pro-high", "prompt": "a gold bar on a desk", "quality": "high", "model": PRO},
        {"id": "pro-fast", "prompt": "a wallet [[retry]]", "quality": "fast", "model": PRO},
        {"id": "blocked", "prompt": "a vault [[unsafe]]", "size": "hero"},
    ],
}


@dataclass(frozen=True)
class Measure:
    estimate_usd: float
    actual_usd: float
    images: int

    @property
    def error(self) -> float:
        """(actual - estimate) / actual: positive when the estimate is low."""
        return (self.actual_usd - self.estimate_usd) / self.actual_usd


def script(server: FakeGeminiServer) -> None:
    server.script(Fault.finish("IMAGE_SAFETY", "unsafe"), match="[[unsafe]]")
    server.script(Fault.rate_limited(retry_delay=0.05), match="[[retry]]")


def measure(spec: dict[str, Any] | None = None) -> Measure:
    """Plan then run ``spec`` (MIXED_SPEC) with the current settings; compare the costs."""
    from flows.run import run_flow
    from mediagen.plan.diff import make_plan
    from mediagen.plan.jobs import expand_spec
    from mediagen.settings import Settings
    from mediagen.spec.models import parse_spec

    spec = spec or MIXED_SPEC
    settings = Settings()
    plan = make_plan(expand_spec(parse_spec(spec), settings), None, settings)
    manifest = run_flow(spec)
    return Measure(plan.estimated_cost_usd, manifest.cost_usd, len(manifest.images))


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mediagen-estimate-"))
    with FakeGeminiServer(api_key="bench-key", image_side=128, max_side=256) as server:
        os.environ |= {
            "GEMINI_API_KEY": "bench-key",
            "MEDIAGEN_BACKEND": "gemini",
            "MEDIAGEN_GEMINI_BASE_URL": server.base_url,
            "MEDIAGEN_BUCKET_DIR": str(root / "bucket"),
            "MEDIAGEN_WORK_DIR": str(root / "work"),
            "MEDIAGEN_GEMINI_RETRY_BASE_DELAY": "0.02",
        }
        script(server)
        result = measure()
    print(
        f"{result.images} images: estimate ${result.estimate_usd:.4f}, "
        f"actual ${result.actual_usd:.4f}, difference {result.error:+.2%}"
    )


if __name__ == "__main__":
    main()
