"""The Gemini catalogue as ``mediagen models`` shows it: status today, prices per image.

Status is judged today (a model past its shutdown date shows as retired),
prices include any ``MEDIAGEN_GEMINI_PRICING`` correction, and the price per
image is the image tokens of each size at the model's image-output price
(prompt and thinking tokens add a little; see ``mediagen plan`` for a spec's
estimate). Batch/Flex prices are the standard ones times the model's factor;
``deliveries`` says which of sync, batch and flex the model takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediagen.backends.base import ModelCatalogue
from mediagen.backends.gemini import catalogue, pricing


def model_catalogue(overrides: Mapping[str, pricing.ModelPrice]) -> ModelCatalogue:
    return ModelCatalogue(
        title=f"Gemini models (facts checked {catalogue.CHECKED})",
        checked=catalogue.CHECKED,
        records=rows(overrides),
    )


def rows(overrides: Mapping[str, pricing.ModelPrice]) -> list[dict[str, Any]]:
    """One JSON-friendly record per catalogued model, with today's status and prices."""
    out = []
    for info in catalogue.MODELS:
        price = pricing.price_for(info.id, overrides) or pricing.catalogue_price(info)
        per_image = {
            size: round(price.image_token_count(size) * price.output_image_per_million / 1e6, 6)
            for size in info.sizes
        }
        out.append(
            {
                "id": info.id,
                "kind": info.kind,
                "status": info.status_on(),
                "released": info.released,
                "shutdown": info.shutdown,
                "replacement": info.replacement,
                "sizes": list(info.sizes),
                "image_size_param": info.image_size_param,
                "aspect_ratios": list(info.aspect_ratios),
                "image_tokens": dict(info.image_tokens),
                "usd_per_million": {
                    "input": price.input_per_million,
                    "text_output": price.output_text_per_million,
                    "image_output": price.output_image_per_million,
                },
                "batch_factor": price.batch_factor,
                "usd_per_image": per_image,
                "batch_usd_per_image": {
                    k: round(v * price.batch_factor, 6) for k, v in per_image.items()
                },
                # How it may be asked (delivery: sync | batch | flex), and the flex price.
                "deliveries": ["sync"] + [d for d in ("batch", "flex") if getattr(info, d)],
                "flex_factor": price.flex_factor,
                "flex_usd_per_image": (
                    {k: round(v * price.flex_factor, 6) for k, v in per_image.items()}
                    if info.flex
                    else {}
                ),
                "source": info.source,
                "checked": info.checked,
                "default": info.id in (catalogue.DEFAULT_IMAGE_MODEL, catalogue.DEFAULT_TEXT_MODEL),
            }
        )
    return out
