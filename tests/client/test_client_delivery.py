"""``MediaClient.generate_image(delivery="flex")``: the Flex tier through the real SDK to the
local Gemini server, billed at half the standard price; the same image is cached either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagen import ClientConfig, MediaClient, StorageConfig
from mediagen.backends.gemini import pricing
from mediagen.testing import FakeGeminiServer


@pytest.fixture
def client(gemini_env: FakeGeminiServer, workspace: Path) -> MediaClient:
    config = ClientConfig(
        storage=StorageConfig(provider="local", bucket=str(workspace / "bucket"), prefix="app")
    )
    with MediaClient(config) as c:
        yield c


def test_a_flex_generation_asks_the_flex_tier_and_costs_half(
    client: MediaClient, gemini_env: FakeGeminiServer
) -> None:
    image = client.generate_image("a jar of coins", size="thumbnail", delivery="flex")
    [request] = gemini_env.requests
    assert request.service_tier == "flex"
    standard = pricing.cost_usd(image.model, image.usage)
    assert standard > 0 and image.cost_usd == pytest.approx(standard / 2)

    again = client.generate_image("a jar of coins", size="thumbnail")  # sync: same gen_key
    assert again.cached and again.gen_key == image.gen_key
    assert len(gemini_env.requests) == 1
