"""``mediagen models``: the model catalogues of the installed backends, as tables or JSON.

Each backend that keeps a catalogue (``Backend.catalogue``) gives its models
with today's status and prices (including any price correction its settings
hold); this command only lays them out. ``--json`` prints
``{"checked": ..., "models": [...]}``: every record carries its ``backend``,
and ``checked`` is the oldest date the facts were compared with a provider's
pages.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mediagen.backends import catalogues
from mediagen.settings import get_settings

console = Console()

_STATUS_STYLE = {"ga": "green", "preview": "yellow", "deprecated": "yellow", "retired": "red"}


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalogue as JSON.")] = False,
    all_models: Annotated[
        bool, typer.Option("--all", help="Include models that were shut down.")
    ] = False,
) -> None:
    """List the models the backends know: status, sizes, price per image, batch price."""
    found = catalogues(get_settings())
    if as_json:
        records = [{**r, "backend": name} for name, c in found for r in c.records]
        checked = min((c.checked for _, c in found), default=None)
        typer.echo(json.dumps({"checked": checked, "models": records}, indent=2))
        return
    for _, listing in found:
        records = [r for r in listing.records if all_models or r.get("status") != "retired"]
        console.print(_table(listing.title, records))
    if not found:
        console.print("No installed backend keeps a model catalogue.")
    elif not all_models:
        console.print("Models that were shut down are hidden: --all shows them.")


def _table(title: str, records: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    table.add_column("model", no_wrap=True)
    for column in ("kind", "status", "shutdown", "sizes", "$/image", "batch $/image", "delivery"):
        table.add_column(column)
    table.add_column("$/1M in · text · image")
    for r in records:
        style = _STATUS_STYLE.get(r["status"], "")
        per = r.get("usd_per_image", {})
        prices = r.get("usd_per_million", {})
        table.add_row(
            r["id"] + (" (default)" if r.get("default") else ""),
            r.get("kind", ""),
            f"[{style}]{r['status']}[/]" if style else r["status"],
            r.get("shutdown") or "",
            ",".join(r.get("sizes", [])) + ("" if r.get("image_size_param", True) else " (fixed)"),
            " ".join(f"{k} {v:.3f}" for k, v in per.items()),
            " ".join(f"{k} {v:.3f}" for k, v in r.get("batch_usd_per_image", {}).items()),
            ", ".join(r.get("deliveries", [])),  # flex: the batch price, synchronously
            "{input:g} · {text_output:g} · {image_output:g}".format(**prices) if prices else "",
        )
    return table
