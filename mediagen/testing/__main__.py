"""``python -m mediagen.testing [--key KEY]``: serve the fake Gemini API."""

from __future__ import annotations

import argparse
import time

from mediagen.testing.gemini_server import FakeGeminiServer


def main() -> None:
    parser = argparse.ArgumentParser(description="Local fake Gemini API (loopback only).")
    parser.add_argument("--key", default=None, help="the only API key accepted (default: any)")
    parser.add_argument("--image-side", type=int, default=1024, help="long side of 1K images")
    args = parser.parse_args()
    server = FakeGeminiServer(api_key=args.key, image_side=args.image_side).start()
    print(f"MEDIAGEN_GEMINI_BASE_URL={server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
