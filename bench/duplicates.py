"""Benchmark 5: never pay twice, through upload faults and a ``kill -9``.

A spec publishes to S3 (moto on loopback) whose PUTs fail 30 % of the time
(503 SlowDown, 500, connection resets; seeded). The run is killed with
SIGKILL once half the images have reached the backend, then run again to the
end. The fake Gemini server, which lives in this process, counts every
request per image. Requests the kill cut off (in flight at that moment: their
answer never reached mediagen) are reported on their own line.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row, Workspace, fmt_s, run_cli, write_spec
from mediagen.testing import FakeGeminiServer, Fault

BUCKET = "bench-media"
_NUMBER = re.compile(r"number (\d+)")


def _image(prompt: str) -> str:
    """The image a request was for: the spec's prompts are numbered."""
    match = _NUMBER.search(prompt)
    return f"img-{match[1]}" if match else prompt


@dataclass(frozen=True)
class Params:
    images: int
    latency: float
    concurrency: int
    fault_rate: float = 0.3


FULL = Params(images=300, latency=0.2, concurrency=16)
TINY = Params(images=8, latency=0.3, concurrency=2)


def run(root: Path, p: Params, api_url: str | None = None) -> list[Row]:
    from mediagen.testing.s3 import FaultSchedule, S3TestServer

    with FakeGeminiServer(image_side=64, max_side=64) as gemini, S3TestServer() as s3:
        gemini.script(Fault.slow(p.latency), times=None)
        s3.create_bucket(BUCKET)
        s3.faults = FaultSchedule(rate=p.fault_rate, methods=("PUT",), seed=6)
        ws = Workspace.make(
            root, api_url,
            AWS_ACCESS_KEY_ID="AKIABENCH0000000000", AWS_SECRET_ACCESS_KEY="bench-secret",
            MEDIAGEN_STORAGE_RETRY_BASE_DELAY="0.05",
        )  # fmt: skip
        ws.gemini(gemini.base_url)
        storage = {
            "provider": "s3", "bucket": BUCKET, "region": "us-east-1",
            "endpoint_url": s3.endpoint_url,
        }  # fmt: skip
        spec = write_spec(
            root / "dupes.yaml", "dupes", p.images, concurrency=p.concurrency, storage=storage
        )
        half = p.images // 2
        first = run_cli(ws, "run", str(spec), kill_when=lambda: len(gemini.requests) >= half)
        killed_at = first.killed_at or time.monotonic()
        client = s3.client()
        # Answers the kill destroyed: still in flight when it struck (the server finishes
        # an answer a moment before the client has it, hence the slack).
        cut = {
            _image(r.prompt) for r in gemini.requests
            if r.started < killed_at and (not r.finished or r.finished >= killed_at - 0.1)
        }  # fmt: skip
        second = run_cli(ws, "run", str(spec))
        # A request the kill cut while it was being sent reaches the server unreadable (it
        # answers 400, bills nothing): not a call, and not an image either.
        requests = [r for r in gemini.requests if not r.outcome.startswith("bad request")]
        faults = s3.faults.faulted if s3.faults else 0
        puts = s3.requests["PUT"]
        manifest = json.loads(
            client.get_object(Bucket=BUCKET, Key="dupes/manifest.json")["Body"].read()
        )
        published = 0
        for entry in manifest["images"].values():
            keys = [o["key"] for o in entry.get("outputs", [])]
            if entry["status"] == "ok" and keys:
                client.head_object(Bucket=BUCKET, Key=keys[0])  # raises if missing
                published += 1
    calls = Counter(_image(r.prompt) for r in requests)
    # Asking again for an answer the kill destroyed is the only way to get it.
    lost = sum(1 for image in cut if calls[image] > 1)
    avoidable = sum(calls.values()) - len(calls) - lost
    unique = len(calls)
    name = f"5 no duplicate calls ({p.images} img, {p.fault_rate:.0%} PUT faults, kill -9)"
    return [
        Row(name, "killed run", f"killed: {'yes' if first.killed_at else 'NO'} after "
            f"{fmt_s(first.wall)}, {half}+ requests"),
        Row(name, "re-run", f"exit {second.returncode}, {fmt_s(second.wall)}", "exit 0",
            second.returncode == 0),
        Row(name, "injected upload faults", f"{faults} of {puts} PUTs"),
        Row(name, "images published (checked in S3)", f"{published} of {p.images}",
            f"= {p.images}", published == p.images),
        Row(name, "backend calls per unique image, answers lost to the kill aside",
            f"{(len(requests) - lost) / max(unique, 1):.2f} ({len(requests) - lost} / {unique})",
            "= 1.00", len(requests) - lost == unique == p.images),
        Row(name, "avoidable duplicate calls", str(avoidable), "= 0", avoidable == 0),
        Row(name, "answers the kill cut off in flight (asked again)", str(lost)),
        Row(name, "all calls per unique image", f"{len(requests) / max(unique, 1):.2f}"),
    ]  # fmt: skip
