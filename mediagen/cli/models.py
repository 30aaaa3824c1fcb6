"""``mediagen models``: the Gemini model catalogue, as a table or as JSON.

Status is judged today (a model past its shutdown date shows as retired),
prices include any ``MEDIAGEN_GEMINI_PRICING`` correction, and the price per
image is the image tokens of each size at the model's image-output price
(prompt and thinking tokens add a little; see ``mediagen plan`` for a spec's
estimate). Batch/Flex prices are the standard ones times the model's factor.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mediagen.backends.gemini import catalogue, pricing
from mediagen.settings import get_settings

console = Console()

_STATUS_STYLE = {"ga": "green", "preview": "yellow", "deprecated": "yellow", "retired": "red"}


def rows(include_retired: bool = True) -> list[dict[str, Any]]:
    """One JSON-friendly record per catalogued model, with today's status and prices."""
    overrides = get_settings().gemini_pricing
    out = []
    for info in catalogue.MODELS:
        status = info.status_on()
        if status == "retired" and not include_retired:
            continue
        price = pricing.price_for(info.id, overrides) or pricing.catalogue_price(info)
        per_image = {
            size: round(price.image_token_count(size) * price.output_image_per_million / 1e6, 6)
            for size in info.sizes
        }
        out.append(
            {
                "id": info.id,
                "kind": info.kind,
                "status": status,
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
                "source": info.source,
                "checked": info.checked,
                "default": info.id in (catalogue.DEFAULT_IMAGE_MODEL, catalogue.DEFAULT_TEXT_MODEL),
            }
        )
    return out


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
    all_models: Annotated[
        bool, typer.Option("--all", help="Include models that were shut down.")
    ] = False,
) -> None:
    """List the Gemini models mediagen knows: status, sizes, price per image, batch price."""
    records = rows(include_retired=all_models or as_json)
    if as_json:
        typer.echo(json.dumps({"checked": catalogue.CHECKED, "models": records}, indent=2))
        return
    table = Table(title=f"Gemini models (facts checked {catalogue.CHECKED})")
    table.add_column("model", no_wrap=True)
    for column in ("kind", "status", "shutdown", "sizes", "$/image", "batch $/image"):
        table.add_column(column)
    table.add_column("$/1M in · text · image")
    for r in records:
        style = _STATUS_STYLE.get(r["status"], "")
        name = r["id"] + (" (default)" if r["default"] else "")
        per = r["usd_per_image"]
        table.add_row(
            name,
            r["kind"],
            f"[{style}]{r['status']}[/]" if style else r["status"],
            r["shutdown"] or "",
            ",".join(r["sizes"]) + ("" if r["image_size_param"] else " (fixed)"),
            " ".join(f"{k} {v:.3f}" for k, v in per.items()),
            " ".join(f"{k} {v:.3f}" for k, v in r["batch_usd_per_image"].items()),
            "{input:g} · {text_output:g} · {image_output:g}".format(**r["usd_per_million"]),
        )
    console.print(table)
    if not all_models:
        console.print("Models that were shut down are hidden: --all shows them.")
