"""Reference images for tests: flat-colour PNGs, and a spec file that lists them."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def write_png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, format="PNG")
    return path


def write_spec(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
