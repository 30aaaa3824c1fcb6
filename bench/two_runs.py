"""Backend calls per image when two `mediagen run` of one spec start together.

Not part of ``python -m bench`` (it measures cost, not speed): each trial starts two
CLI processes on the same spec at the same moment, against the local Gemini server
(answers delayed 0.5 s, so the runs overlap as real ones do) and one Prefect test
server, and counts the image requests the server received. Before the spec lease
(mediagen/storage/lease.py) this was 1.0-2.0 per image; with it, 1.00.

    python bench/two_runs.py [CODE_ROOT] [TRIALS]

CODE_ROOT (default: this checkout) lets you measure another version of mediagen,
e.g. ``git archive <commit> | tar -x -C /tmp/old`` then ``python bench/two_runs.py /tmp/old``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).parents[1]
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
IMAGES = 8
SPEC = {
    "name": "goals",
    "backend": "gemini",
    "images": [{"id": f"g{i}", "prompt": f"savings goal {i}", "size": "thumbnail"}
               for i in range(IMAGES)],
}  # fmt: skip


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    from mediagen.testing import FakeGeminiServer, Fault

    ratios = []
    with (
        prefect_test_harness(server_startup_timeout=180),
        FakeGeminiServer(api_key="bench-key", image_side=128, max_side=256) as server,
    ):
        for trial in range(TRIALS):
            server.reset()
            server.script(Fault.slow(0.5), times=None)
            cwd = Path(tempfile.mkdtemp(prefix="mediagen-two-runs-"))
            (cwd / "goals.yaml").write_text(yaml.safe_dump(SPEC))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIAGEN", "GEMINI"))}
            env |= {
                "PYTHONPATH": str(ROOT),
                "PREFECT_API_URL": str(PREFECT_API_URL.value()),
                "PREFECT_HOME": str(cwd / ".prefect"),
                "GEMINI_API_KEY": "bench-key",
                "MEDIAGEN_GEMINI_BASE_URL": server.base_url,
            }
            command = [sys.executable, "-m", "mediagen.cli.app", "run", "goals.yaml"]
            runs = [subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL) for _ in range(2)]  # fmt: skip
            codes = [run.wait(600) for run in runs]
            calls = len(server.image_requests)
            ratios.append(calls / IMAGES)
            print(f"trial {trial}: exit codes {codes}, {calls} backend calls for {IMAGES} "
                  f"images = {calls / IMAGES:.2f} per image", flush=True)  # fmt: skip
    print(f"mean: {sum(ratios) / len(ratios):.2f} backend calls per image ({ROOT})")


if __name__ == "__main__":
    main()
