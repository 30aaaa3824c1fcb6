"""What `mediagen run` prints when things go wrong: one line per failed image, one
message for a run that fails as a whole, no traceback and no Prefect log records
without -v; everything with -v. Real processes, the real SDK against the local
Gemini server, moto's S3 server for storage faults.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from mediagen.testing import FakeGeminiServer
from mediagen.testing.gemini_server import Fault
from mediagen.testing.s3 import INTERNAL_ERROR, FaultSchedule, S3TestServer
from tests.support.gemini import TEST_KEY
from tests.support.paths import REPO
from tests.support.s3 import S3_BUCKET

TIMEOUT = 300


def mediagen(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    ours = ("GEMINI", "GOOGLE", "MEDIAGEN", "PREFECT_")
    full = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    full |= {
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(cwd / ".prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "200",
        "MEDIAGEN_BUCKET_DIR": str(cwd / "bucket"),
        "MEDIAGEN_WORK_DIR": str(cwd / "work"),
        "MEDIAGEN_RETRY_BASE_DELAY": "0.01",
        "MEDIAGEN_TASK_RETRIES": "0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "mediagen.cli.app", *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip


def test_failed_images_get_one_line_each_and_verbose_shows_everything(
    tmp_path: Path, gemini_server: FakeGeminiServer
) -> None:
    gemini_server.script(Fault.server_error(503), times=None, match="broken")
    spec = {
        "name": "mixed",
        "backend": "gemini",
        "images": [
            {"id": "good", "prompt": "a whole coin", "size": "thumbnail"},
            {"id": "bad1", "prompt": "a broken coin", "size": "thumbnail"},
            {"id": "bad2", "prompt": "another broken coin", "size": "thumbnail"},
        ],
    }
    (tmp_path / "mixed.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    env = {
        "GEMINI_API_KEY": TEST_KEY,
        "MEDIAGEN_GEMINI_BASE_URL": gemini_server.base_url,
        "MEDIAGEN_GEMINI_RETRY_BASE_DELAY": "0.02",
        "MEDIAGEN_GEMINI_MAX_ATTEMPTS": "2",
    }
    quiet = mediagen(tmp_path, "run", "mixed.yaml", env=env)
    assert quiet.returncode == 1, quiet.stderr
    assert len(gemini_server.requests_for("broken")) == 4  # 2 images x 2 attempts
    lines = quiet.stderr.splitlines()
    assert len(lines) == 2, quiet.stderr
    for line, image in zip(sorted(lines), ("bad1", "bad2"), strict=True):
        assert re.fullmatch(rf"failed: {image} \(generate\): .*503 UNAVAILABLE.*", line), line
    assert "1 published" in quiet.stdout and "Traceback" not in quiet.stdout + quiet.stderr

    verbose = mediagen(tmp_path, "-v", "run", "mixed.yaml", env=env)  # retries the two
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "Finished in state" in verbose.stderr
    assert "failed: bad1 (generate)" in verbose.stderr
    assert TEST_KEY not in verbose.stdout + verbose.stderr


def test_a_storage_failure_inside_the_flow_is_one_message(tmp_path: Path, s3: S3TestServer) -> None:
    (tmp_path / "one.yaml").write_text(
        yaml.safe_dump({"name": "one", "images": [{"id": "a", "prompt": "a coin"}]})
    )
    # Images publish; the manifest's write fails every time (HTTP 500).
    s3.faults = FaultSchedule(
        rate=1.0, kinds=(INTERNAL_ERROR,), path_contains="manifest.json", max_in_a_row=None
    )
    env = {
        "MEDIAGEN_BACKEND": "offline",
        "MEDIAGEN_STORAGE_PROVIDER": "s3",
        "MEDIAGEN_STORAGE_BUCKET": S3_BUCKET,
        "MEDIAGEN_STORAGE_ENDPOINT_URL": s3.endpoint_url,
        "MEDIAGEN_STORAGE_RETRIES": "2",
        "MEDIAGEN_STORAGE_RETRY_BASE_DELAY": "0.01",
        **{k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")},
    }
    result = mediagen(tmp_path, "run", "one.yaml", env=env)
    assert result.returncode == 1, result.stderr
    assert s3.faults is not None and s3.faults.faulted >= 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: "), result.stderr
    assert "Prefect could not run the flow" not in result.stderr
    assert "Traceback" not in result.stderr
