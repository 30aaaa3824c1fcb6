"""``python -m bench.scoring``: what ``pick: auto`` costs per candidate, against a decode.

Scores synthetic originals of the sizes and formats Gemini answers in (PNG 1K/2K,
JPEG 2K/4K) and times a full decode of the same bytes beside it: scoring should
cost about one decode (less for JPEG, decoded at a reduced scale), which is
noise next to the seconds a generation takes. Not part of the suite (no run, no
bucket): a quick check after changing :mod:`mediagen.imaging.scoring`.
"""

from __future__ import annotations

import io
import time

import numpy as np
from PIL import Image

from mediagen.imaging.scoring import score_image

CASES = ((1024, "PNG"), (2048, "PNG"), (2048, "JPEG"), (4096, "JPEG"))
REPEAT = 5
BRAND = ("#0A7B83", "#F4B400")


def encoded(side: int, fmt: str) -> bytes:
    """A detailed picture (upscaled noise: every signal has work to do), encoded."""
    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    small.resize((side, side), Image.Resampling.BICUBIC).save(buffer, fmt, quality=90)
    return buffer.getvalue()


def seconds(call: object, repeat: int = REPEAT) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        call()  # type: ignore[operator]
    return (time.perf_counter() - started) / repeat


def main() -> None:
    print("original          bytes     score   full decode")
    for side, fmt in CASES:
        data = encoded(side, fmt)
        score_image(data, 1200, 630, BRAND)  # warm up
        scored = seconds(lambda data=data: score_image(data, 1200, 630, BRAND))
        decoded = seconds(lambda data=data: Image.open(io.BytesIO(data)).load())
        print(f"{side}x{side} {fmt:<5} {len(data) / 1e6:6.1f} MB {scored * 1e3:6.0f} ms "
              f"{decoded * 1e3:8.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
