"""Sync against batch delivery on the local servers: wall time, jobs, requests and cost.

``python -m bench.batch_turnaround [IMAGES] [PENDING_S]`` (default 40 images, jobs
pending 5 s then running 2 s): the same spec run twice through the flow in this
process (a temporary local Prefect API), once ``delivery: sync`` against the local
Gemini server and once ``delivery: batch`` against the local Batch API server,
each into a fresh local bucket. It prints each run's wall time, the backend
requests / batch jobs / lines, and the manifest's cost.

The local server's turnaround is what you configure (``pending_s``, ``running_s``):
this measures mediagen's own overhead around it (upload, polling every
``batch.poll_seconds``, collecting, publishing), not Google's queue. Google
documents a 24-hour target turnaround, "in most cases much quicker"
(ai.google.dev/gemini-api/docs/batch-api, read 2026-11-29).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any

from mediagen.testing.batch_server import FakeBatchServer

KEY = "bench-key"


def spec(n: int, delivery: str) -> dict[str, Any]:
    images = [{"id": f"goal-{i:03d}", "prompt": f"goal picture {i}: a jar of coins",
               "size": "thumbnail", "formats": ["webp"]} for i in range(n)]  # fmt: skip
    return {"name": f"turnaround-{delivery}", "backend": "gemini", "images": images,
            "defaults": {"delivery": delivery}, "batch": {"poll_seconds": 0.5}}  # fmt: skip


def main(n: int = 40, pending_s: float = 5.0, running_s: float = 2.0) -> None:
    from flows.local_api import local_api
    from flows.run import run_flow

    root = tempfile.mkdtemp(prefix="mediagen-batch-bench-")
    with FakeBatchServer(api_key=KEY, pending_s=pending_s, running_s=running_s,
                         image_side=128, max_side=256) as server:  # fmt: skip
        os.environ.update({
            "GEMINI_API_KEY": KEY, "MEDIAGEN_GEMINI_BASE_URL": server.base_url,
            "MEDIAGEN_BACKEND": "gemini", "MEDIAGEN_WORK_DIR": f"{root}/work",
        })  # fmt: skip
        with local_api():
            seen = (0, 0, 0)  # the counters before each run: print what each run added
            for delivery in ("sync", "batch"):
                os.environ["MEDIAGEN_BUCKET_DIR"] = f"{root}/{delivery}"
                started = time.perf_counter()
                manifest = run_flow(spec(n, delivery))
                seconds = time.perf_counter() - started
                now = (len(server.gemini.image_requests), server.jobs_created,
                       server.lines_received)  # fmt: skip
                requests, jobs, lines = (a - b for a, b in zip(now, seen, strict=True))
                seen = now
                print(
                    f"{delivery:5}: {manifest.counts['ok']}/{n} published in {seconds:6.1f} s; "
                    f"sync requests {requests}, batch jobs {jobs}, lines {lines}; "
                    f"cost ${manifest.cost_usd:.4f}"
                )


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 40, float(args[1]) if len(args) > 1 else 5.0)
