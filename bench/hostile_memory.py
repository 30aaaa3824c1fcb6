"""Peak memory of hostile and heavy answers, measured with ``/usr/bin/time -v`` (issue 12).

::

    python -m bench.hostile_memory                # this checkout
    python -m bench.hostile_memory --code /tmp/old  # another checkout (e.g. ``git archive``)

Each case runs the real CLI (``mediagen run spec.yaml --concurrency 4``, an
ephemeral Prefect API, a local bucket) under ``/usr/bin/time -v`` and reports
its "Maximum resident set size", the exit code and the images' outcomes:

- ``huge``: four images whose Gemini answers (from the local Gemini server, in
  this process) are 13000x13000 PNGs: 169 Mpx each, 20 KB compressed, just
  under Pillow's bomb limit;
- ``large``: four 8192x8192 PNG outputs from the offline renderer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mediagen.testing import FakeGeminiServer, Fault
from tests.support.hostile_images import png

KEY = "AIza-bench-hostile-memory-0000"
CASES = ("huge", "large")


def spec_for(case: str) -> dict[str, Any]:
    if case == "huge":
        image = {"size": "thumbnail"}
        return {"name": "huge", "backend": "gemini", "images": _four(image)}
    return {"name": "large", "backend": "offline", "images": _four({"size": "8192x8192"})}


def _four(options: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": f"i{n}", "prompt": f"picture number {n}", **options} for n in range(4)]


def measure(case: str, code: Path, root: Path, server: FakeGeminiServer) -> dict[str, Any]:
    folder = root / case
    folder.mkdir(parents=True)
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec_for(case)))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GEMINI", "GOOGLE", "MEDIAGEN_", "PREFECT_"))}  # fmt: skip
    env |= {
        "PYTHONPATH": str(code),
        "PREFECT_HOME": str(folder / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "MEDIAGEN_BUCKET_DIR": str(folder / "bucket"),
        "MEDIAGEN_WORK_DIR": str(folder / "work"),
        "MEDIAGEN_TASK_RETRIES": "0",
        "GEMINI_API_KEY": KEY,
        "MEDIAGEN_GEMINI_BASE_URL": server.base_url,
    }
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "mediagen.cli.app",
               "run", "spec.yaml", "--concurrency", "4"]  # fmt: skip
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                            timeout=1800)  # fmt: skip
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr)
    manifest = folder / "bucket" / case / "manifest.json"
    outcomes: dict[str, str] = {}
    if manifest.exists():
        images = json.loads(manifest.read_text())["images"]
        outcomes = {k: f"{v['status']}: {(v.get('error') or '')[:90]}" for k, v in images.items()}
    return {
        "case": case,
        "peak_mb": round(int(peak.group(1)) / 1024) if peak else None,
        "wall": wall.group(1) if wall else "?",
        "exit": result.returncode,
        "outcomes": outcomes,
        "tail": "" if peak else result.stderr[-2000:],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--only", choices=CASES, action="append")
    args = parser.parse_args()
    with FakeGeminiServer(api_key=KEY) as server, tempfile.TemporaryDirectory() as tmp:
        server.script(Fault.image_bytes(png(13000, 13000)), times=None)
        for case in args.only or CASES:
            print(json.dumps(measure(case, args.code.resolve(), Path(tmp), server), indent=1))
        print(json.dumps({"gemini_requests": len(server.image_requests)}))


if __name__ == "__main__":
    main()
