"""What Gemini models cost: prices from the catalogue, user corrections, estimates and costs.

Google bills per token: input tokens (the prompt, and any image shown to the
model), output image tokens (a fixed count per image for a model and image
size) and output text tokens (text parts *and* thinking). The prices and the
image token counts come from :mod:`mediagen.backends.gemini.catalogue`; the
real cost of an answer is computed from its ``usageMetadata``
(:func:`cost_usd`), the estimate of a request from the catalogue
(:func:`estimate_usd`: prompt ≈ 4 characters a token, the image tokens of
its size, the model's typical thinking).

Batch and Flex (``delivery: batch | flex``) bill every token class at the model's
``batch_factor`` / ``flex_factor`` of the standard price: 0.5 on the Gemini API
(source and date: :mod:`mediagen.backends.gemini.catalogue`, [flex] and [pricing]).

Prices change: ``MEDIAGEN_GEMINI_PRICING`` (JSON, model → the fields of
:class:`ModelPrice`) corrects or adds a price without a release. Fields left
out keep the catalogue's value, so ``{"gemini-3-pro-image":
{"output_image_per_million": 100}}`` changes that one price only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from mediagen.backends.gemini import catalogue

logger = logging.getLogger("mediagen")

PRICES_CHECKED = catalogue.CHECKED
"""When the built-in prices were last compared with Google's published price list."""


class ModelPrice(BaseModel):
    """USD prices of one model (per million tokens) and its image token counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million: float = Field(0.0, ge=0, description="USD per 1M input (prompt) tokens.")
    output_image_per_million: float = Field(
        0.0, ge=0, description="USD per 1M output image tokens (0 for text models)."
    )
    output_text_per_million: float = Field(
        0.0, ge=0, description="USD per 1M output text and thinking tokens."
    )
    image_tokens: dict[str, int] = Field(
        default_factory=dict,
        description="Output tokens of one image by image size (512, 1K, 2K, 4K).",
    )
    batch_factor: float = Field(
        0.5, ge=0, le=1, description="Batch API price as a share of the standard price."
    )
    flex_factor: float = Field(
        0.5, ge=0, le=1, description="Flex tier price as a share of the standard price."
    )
    thinking_tokens: int = Field(
        0, ge=0, description="Typical thinking tokens of one answer (estimates only)."
    )

    def image_token_count(self, image_size: str) -> int:
        if image_size in self.image_tokens:
            return self.image_tokens[image_size]
        return max(self.image_tokens.values(), default=0)  # unknown size: assume the dearest


def catalogue_price(info: catalogue.ModelInfo) -> ModelPrice:
    return ModelPrice(
        input_per_million=info.prices.input,
        output_image_per_million=info.prices.image_output,
        output_text_per_million=info.prices.text_output,
        image_tokens=dict(info.image_tokens),
        batch_factor=info.prices.batch_factor,
        flex_factor=info.prices.flex_factor,
        thinking_tokens=info.thinking_tokens,
    )


_warned: set[str] = set()


def price_for(model: str, overrides: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price of ``model``: the catalogue's, corrected by the settings; None when unknown."""
    info = catalogue.lookup(model)
    base = catalogue_price(info) if info is not None else None
    override = (overrides or {}).get(model)
    if override is None:
        return base
    if base is None:
        return override
    return base.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})


def factor(price: ModelPrice, delivery: str) -> float:
    """The share of the standard price paid for ``delivery`` (sync: all of it)."""
    if delivery == "flex":
        return price.flex_factor
    if delivery == "batch":
        return price.batch_factor
    return 1.0


def estimate_usd(
    model: str,
    image_size: str,
    prompt: str,
    overrides: Mapping[str, ModelPrice] | None = None,
    delivery: str = "sync",
    *,
    input_images: int = 0,
    extra_characters: int = 0,
) -> float:
    """Expected price of one image; 0 (with one warning) for a model without a price.

    ``input_images``: reference images sent with the prompt, each billed as the
    catalogue's input tokens of one image; ``extra_characters``: their label text."""
    price = price_for(model, overrides)
    if price is None:
        _warn_unknown(model)
        return 0.0
    prompt_tokens = max(1, (len(prompt) + extra_characters) // 4)
    prompt_tokens += input_images * catalogue.input_image_tokens(model)
    return round(
        (
            prompt_tokens * price.input_per_million / 1e6
            + price.image_token_count(image_size) * price.output_image_per_million / 1e6
            + price.thinking_tokens * price.output_text_per_million / 1e6
        )
        * factor(price, delivery),
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
        + (output_tokens + price.thinking_tokens) * price.output_text_per_million / 1e6,
        8,
    )


def cost_usd(
    model: str,
    usage: Mapping[str, int],
    overrides: Mapping[str, ModelPrice] | None = None,
    delivery: str = "sync",
) -> float:
    """What one answer cost, from its token usage (see ``gemini_response.usage_of``).

    Thinking tokens (``thoughts_tokens``) are billed as text output; they are not
    part of ``candidates_tokens``. ``delivery``: how it was served (``flex``,
    ``batch``: the model's factor of the standard price).
    """
    price = price_for(model, overrides)
    if price is None:
        _warn_unknown(model)
        return 0.0
    image = usage.get("image_tokens", 0)
    text = max(0, usage.get("candidates_tokens", 0) - image) + usage.get("thoughts_tokens", 0)
    return round(
        (
            usage.get("prompt_tokens", 0) * price.input_per_million / 1e6
            + image * price.output_image_per_million / 1e6
            + text * price.output_text_per_million / 1e6
        )
        * factor(price, delivery),
        8,
    )


def image_price_usd(
    model: str,
    image_size: str,
    *,
    batch: bool = False,
    overrides: Mapping[str, ModelPrice] | None = None,
) -> float | None:
    """The image-token price of one image (no prompt, no thinking); None when unpriced."""
    price = price_for(model, overrides)
    if price is None or not price.image_tokens:
        return None
    factor = price.batch_factor if batch else 1.0
    return price.image_token_count(image_size) * price.output_image_per_million * factor / 1e6


def _warn_unknown(model: str) -> None:
    if model not in _warned:
        _warned.add(model)
        logger.warning(
            "No price known for model %r: its cost is counted as $0. "
            "Add it with MEDIAGEN_GEMINI_PRICING.",
            model,
        )
