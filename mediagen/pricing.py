"""What Gemini image models cost: a price table, estimates, and cost from usage.

Google bills image models per token: input tokens (the prompt), output image
tokens (a fixed count per image for a model and image size) and output text
tokens (text parts and "thinking"). The estimate of an image is its prompt
(~4 characters a token) plus the image tokens of its size; the real cost is
computed from the ``usageMetadata`` of the answer.

Text models (the one that writes alt text) are priced the same way: input
tokens (the prompt and the image shown to it) and output text tokens,
thinking included; they have no image tokens.

Prices change: the table says when it was checked, and the
``MEDIAGEN_GEMINI_PRICING`` setting (JSON, model → fields below) overrides or
extends it without a release.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger("mediagen")

PRICES_CHECKED = "2026-11"
"""When the built-in prices were last compared with Google's published price list."""


class ModelPrice(BaseModel):
    """USD prices of one model (per million tokens) and its image token counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million: float = Field(ge=0, description="USD per 1M input (prompt) tokens.")
    output_image_per_million: float = Field(
        0.0, ge=0, description="USD per 1M output image tokens (0 for text models)."
    )
    output_text_per_million: float = Field(
        0.0, ge=0, description="USD per 1M output text and thinking tokens."
    )
    image_tokens: dict[str, int] = Field(
        default_factory=dict,
        description="Output tokens of one image by image size (1K, 2K, 4K); none for text models.",
    )

    def image_token_count(self, image_size: str) -> int:
        if image_size in self.image_tokens:
            return self.image_tokens[image_size]
        return max(self.image_tokens.values(), default=0)  # unknown size: assume the dearest


_FLASH_IMAGE = ModelPrice(
    input_per_million=0.30,
    output_image_per_million=30.0,  # 1290 tokens → $0.039 an image
    output_text_per_million=2.50,
    image_tokens={"1K": 1290, "2K": 1290, "4K": 1290},  # one fixed ~1024 px size
)
_PRO_IMAGE = ModelPrice(
    input_per_million=2.00,
    output_image_per_million=120.0,  # 1120 tokens → $0.134 (1K/2K); 2000 → $0.24 (4K)
    output_text_per_million=12.0,
    image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
)

# Text models that may write alt text (input covers text and images alike).
_FLASH_TEXT = ModelPrice(input_per_million=0.30, output_text_per_million=2.50)
_FLASH_LITE_TEXT = ModelPrice(input_per_million=0.10, output_text_per_million=0.40)

PRICES: dict[str, ModelPrice] = {
    "gemini-2.5-flash-image": _FLASH_IMAGE,
    "gemini-2.5-flash-image-preview": _FLASH_IMAGE,
    "gemini-3-pro-image-preview": _PRO_IMAGE,
    "gemini-3-pro-image": _PRO_IMAGE,
    "gemini-2.5-flash": _FLASH_TEXT,
    "gemini-2.5-flash-lite": _FLASH_LITE_TEXT,
}
"""Standard (not batch) prices, as published when :data:`PRICES_CHECKED`."""

_warned: set[str] = set()


def price_for(model: str, overrides: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price of ``model`` (settings first), or None when unknown."""
    if overrides and model in overrides:
        return overrides[model]
    return PRICES.get(model)


def estimate_usd(
    model: str,
    image_size: str,
    prompt: str,
    overrides: Mapping[str, ModelPrice] | None = None,
) -> float:
    """Expected price of one image; 0 (with one warning) for a model without a price."""
    price = price_for(model, overrides)
    if price is None:
        _warn_unknown(model)
        return 0.0
    prompt_tokens = max(1, len(prompt) // 4)
    return round(
        prompt_tokens * price.input_per_million / 1e6
        + price.image_token_count(image_size) * price.output_image_per_million / 1e6,
        8,
    )


def estimate_text_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    overrides: Mapping[str, ModelPrice] | None = None,
) -> float:
    """Expected price of one text answer; 0 (with one warning) for a model without a price."""
    price = price_for(model, overrides)
    if price is None:
        _warn_unknown(model)
        return 0.0
    return round(
        input_tokens * price.input_per_million / 1e6
        + output_tokens * price.output_text_per_million / 1e6,
        8,
    )


def cost_usd(
    model: str, usage: Mapping[str, int], overrides: Mapping[str, ModelPrice] | None = None
) -> float:
    """What one answer cost, from its token usage (see ``usage_from_metadata``)."""
    price = price_for(model, overrides)
    if price is None:
        _warn_unknown(model)
        return 0.0
    image = usage.get("image_tokens", 0)
    text = max(0, usage.get("candidates_tokens", 0) - image) + usage.get("thoughts_tokens", 0)
    return round(
        usage.get("prompt_tokens", 0) * price.input_per_million / 1e6
        + image * price.output_image_per_million / 1e6
        + text * price.output_text_per_million / 1e6,
        8,
    )


def _warn_unknown(model: str) -> None:
    if model not in _warned:
        _warned.add(model)
        logger.warning(
            "No price known for model %r: its cost is counted as $0. "
            "Add it with MEDIAGEN_GEMINI_PRICING.",
            model,
        )
