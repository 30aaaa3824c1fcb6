"""Endpoints that echo secrets in their error answers: the secret is printed, stored and
recorded nowhere, through the real Prefect engine (and the CLI, with and without -v).

The Gemini key comes back in a retried 503 (the SDK error the backend translates);
S3 keys come back in a 503 SlowDown body (the botocore error storage translates).
Both used to reach Prefect's logs and database as the chained original exception.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.run import run_flow
from mediagen.testing import FakeGeminiServer, Fault
from mediagen.testing.s3 import FaultSchedule, s3_error
from tests.support.cli import mediagen_on_server as mediagen
from tests.support.cli import user_env
from tests.support.gemini import TEST_KEY
from tests.support.prefect_records import flow_run_texts as _server_records
from tests.support.prefect_records import server_side
from tests.support.s3 import AWS_KEY, AWS_SECRET, s3_storage

pytestmark = pytest.mark.usefixtures("prefect_server")

ECHO = f"The model is overloaded. Request was: POST ...?key={TEST_KEY} (x-goog-api-key: {TEST_KEY})"


def test_a_503_echoing_the_key_reaches_no_output_manifest_or_prefect_db(
    tmp_path: Path, gemini_server: FakeGeminiServer
) -> None:
    gemini_server.script(Fault.error(503, ECHO), times=None)
    spec = {"name": "echo", "backend": "gemini",
            "images": [{"id": "one", "prompt": "a coin", "size": "thumbnail"}]}  # fmt: skip
    (tmp_path / "echo.yaml").write_text(yaml.safe_dump(spec))
    env = user_env(gemini_server) | {
        "MEDIAGEN_TASK_RETRIES": "1",
        "MEDIAGEN_RETRY_BASE_DELAY": "0.01",
        "MEDIAGEN_GEMINI_MAX_ATTEMPTS": "2",
    }
    for verbose in ((), ("-v",)):
        result = mediagen(tmp_path, *verbose, "run", "echo.yaml", env=env)
        assert result.returncode == 1, result.stderr[-2000:]
        manifest = json.loads((tmp_path / "media-bucket/echo/manifest.json").read_text())
        entry = manifest["images"]["one"]
        assert entry["status"] == "failed" and "503" in entry["error"]
        texts = [result.stdout, result.stderr, json.dumps(manifest)]
        texts += _server_records(manifest["run_id"])  # logs, task states, artifacts
        assert all(TEST_KEY not in text for text in texts), verbose
        assert "***" in "\n".join(texts)  # the echo arrived, and was redacted
    assert len(gemini_server.image_requests) == 2 * 2 * 2  # attempts x task tries x runs


def test_an_s3_503_echoing_the_keys_reaches_no_output_manifest_or_prefect_db(
    s3: Any, workspace: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    echo = f"Slow down. Signed by {AWS_KEY} with secret {AWS_SECRET}"
    s3.faults = FaultSchedule(
        rate=1.0, kinds=[s3_error(503, "SlowDown", echo)], methods=["PUT"],
        path_contains="_originals", max_in_a_row=None,
    )  # fmt: skip
    spec = {"name": "s3echo", "storage": s3_storage(s3.endpoint_url),
            "images": [{"id": "one", "prompt": "a coin", "size": "thumbnail"}]}  # fmt: skip
    monkeypatch.setenv("MEDIAGEN_TASK_RETRIES", "1")
    monkeypatch.setenv("MEDIAGEN_STORAGE_RETRIES", "2")
    manifest = run_flow(spec)
    assert s3.faults.injected["SlowDown"] >= 4  # the echo was sent, again and again
    entry = manifest.images["one"]
    assert entry.status == "failed" and "SlowDown" in (entry.error or "")
    out, err = capfd.readouterr()
    seen = server_side(manifest)
    texts = [out, err, manifest.model_dump_json(), *seen["logs"], *seen["tasks"]]
    for secret in (AWS_KEY, AWS_SECRET):
        assert all(secret not in text for text in texts)
