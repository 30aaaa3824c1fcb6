"""``mediagen generate``: one image to one file, no spec and no bucket (the Python API's
``generate_to_file``: the CLI sits on the client here, as the layers say)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mediagen.cli.console import console, user_errors
from mediagen.errors import SpecError
from mediagen.spec.vocabulary import Quality, SizePreset, Theme


def generate(
    prompt: Annotated[str, typer.Argument(help="What the image shows.")],
    out: Annotated[Path, typer.Option(help="File to write; its extension sets the format.")],
    size: Annotated[str, typer.Option(help="A preset name or WIDTHxHEIGHT.")] = "standard",
    theme: Annotated[Theme, typer.Option()] = Theme.MODERN,
    quality: Annotated[Quality, typer.Option()] = Quality.STANDARD,
    backend: Annotated[
        str | None, typer.Option(help="offline or an installed backend's name")
    ] = None,
    parents: Annotated[bool, typer.Option(help="Create --out's missing folders.")] = False,
) -> None:
    """Make one image and save it to a file (no spec, no bucket)."""
    from mediagen.client.api import generate_to_file  # the client (and Pillow) only when used

    with user_errors():
        if size not in {s.value for s in SizePreset} and "x" not in size:
            raise SpecError(f"--size {size!r}: use a preset or WIDTHxHEIGHT")
        info = generate_to_file(
            prompt, out, size=size, theme=theme, quality=quality, backend=backend, parents=parents
        )
    console.print(f"wrote {out} ({info.width}x{info.height} {info.format}, {len(info.data)} bytes)")


__all__ = ["generate"]
