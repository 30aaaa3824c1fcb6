"""The peer: what a user would write instead of mediagen, for the side-by-side benchmark.

The google-genai SDK in a ``ThreadPoolExecutor`` (same concurrency as the mediagen
run), each answer decoded with Pillow, ``ImageOps.fit`` to 320×320, and saved as a
JPEG in a local folder. No plan, no cache, no retries, no manifest, no UI: the
floor of what the job costs on this machine, against the same local Gemini server.

Run alone: ``python -m bench.peer --base-url URL --out DIR N CONCURRENCY`` (the
benchmark, ``bench/versus_peer.py``, runs it as a subprocess, like a user would).
"""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SIDE = 320
MODEL = "gemini-3.1-flash-image"  # mediagen's default (catalogue.DEFAULT_IMAGE_MODEL)


def prompts(count: int) -> list[str]:
    """The prompts of ``bench.harness.write_spec``'s spec (same text the user wrote)."""
    return [f"A calm picture of savings, number {n}" for n in range(count)]


def run(
    base_url: str, api_key: str, out: Path, count: int, concurrency: int, model: str = MODEL
) -> float:
    """Make ``count`` thumbnails; returns the seconds from the first import to the last file."""
    started = time.monotonic()
    from google import genai
    from google.genai import types
    from PIL import Image, ImageOps

    client = genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=base_url))
    config = types.GenerateContentConfig(
        response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1")
    )
    out.mkdir(parents=True, exist_ok=True)

    def one(item: tuple[int, str]) -> None:
        n, prompt = item
        response = client.models.generate_content(model=model, contents=prompt, config=config)
        parts = response.candidates[0].content.parts  # type: ignore[index, union-attr]
        data = next(p.inline_data.data for p in parts if p.inline_data)  # type: ignore[union-attr]
        with Image.open(io.BytesIO(data)) as image:  # type: ignore[arg-type]
            thumb = ImageOps.fit(image.convert("RGB"), (SIDE, SIDE))
        thumb.save(out / f"img-{n}.jpg", "JPEG", quality=85)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, enumerate(prompts(count))))
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", default="AIzaBENCH-not-a-real-key")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("concurrency", type=int)
    args = parser.parse_args()
    seconds = run(args.base_url, args.api_key, args.out, args.count, args.concurrency, args.model)
    print(f"{args.count} images in {seconds:.2f} s")


if __name__ == "__main__":
    main()
