"""Failure alerts on a real Prefect server: a failed run makes the server POST to a webhook.

The automation and its block are made by the documented command
(`python -m flows.automations URL`); the webhook is a real HTTP server on
loopback that records what it receives; the failing run is a real deployment
run on the session's worker.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flows.automations import AUTOMATION_NAME, BLOCK_NAME
from mediagen.testing.s3 import S3TestServer
from tests.support.paths import REPO
from tests.support.prefect_server import CLI_TIMEOUT, Server, Worker, s3_spec, tail

ALERT_TIMEOUT = 90  # events → trigger → action → POST, on a loaded machine


class Receiver:
    """A webhook on 127.0.0.1 that keeps every POST it gets."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(
                    {"path": self.path, "body": json.loads(self.rfile.read(length) or b"null")}
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/mediagen-a8f3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.5)
        return list(self.posts)


@pytest.fixture
def webhook() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(timeout=5)


def test_a_failed_run_posts_to_the_alert_webhook(
    prefect_api: Server, worker: Worker, e2e_s3: S3TestServer, webhook: Receiver
) -> None:
    made = prefect_api.run(
        sys.executable, "-m", "flows.automations", webhook.url, cwd=REPO,
        extra={"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert AUTOMATION_NAME in made.stdout
    # Again: the command replaces its own automation rather than adding a second one.
    again = prefect_api.run(
        sys.executable, "-m", "flows.automations", webhook.url, cwd=REPO,
        extra={"PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr

    with prefect_api.client() as client:
        try:
            (automation,) = client.read_automations_by_name(AUTOMATION_NAME)
            assert automation.enabled
            # The URL (and its token) is a secret of the block: what the UI reads hides it.
            block = client.read_block_document_by_name(
                BLOCK_NAME, "custom-webhook", include_secrets=False
            )
            assert block.data["url"] == "{{url}}"
            assert webhook.url not in json.dumps(block.data, default=str)

            # A run that completes sends nothing; one that fails sends one alert.
            good = s3_spec("e2e-alert-ok", e2e_s3.endpoint_url, [{"id": "a", "prompt": "a"}])
            doomed = {**good, "name": "e2e-alert-doomed",
                      "storage": {**good["storage"], "bucket": "no-such-bucket"}}  # fmt: skip
            adhoc = client.read_deployment_by_name("generate-media/adhoc")
            started = {
                spec["name"]: client.create_flow_run_from_deployment(
                    adhoc.id, parameters={"spec": spec}
                ).id
                for spec in (good, doomed)
            }
            runs = {name: prefect_api.wait_for_run(run_id) for name, run_id in started.items()}
            assert runs["e2e-alert-ok"].state.is_completed(), tail(worker.log)
            failed = runs["e2e-alert-doomed"]
            assert failed.state.is_failed(), f"{failed.state!r}" + tail(worker.log)

            posts = webhook.wait_for(1, ALERT_TIMEOUT)
            assert len(posts) == 1, posts
            time.sleep(3)  # an extra alert (the completed run, a duplicate) would come now
            assert len(webhook.posts) == 1, webhook.posts
            body = posts[0]["body"]
            assert posts[0]["path"] == "/hooks/mediagen-a8f3"
            assert body["subject"] == "mediagen: e2e-alert-doomed Failed"
            assert "generate-media/e2e-alert-doomed entered Failed: " in body["text"]
            assert "bucket does not exist" in body["text"]  # the state's message: the reason
            assert f"{prefect_api.ui_url}/runs/flow-run/{failed.id}" in body["text"]
        finally:
            for automation in client.read_automations_by_name(AUTOMATION_NAME):
                client.delete_automation(automation.id)


def test_the_alert_command_needs_a_server(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PREFECT_HOME": str(tmp_path),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "flows.automations", "http://127.0.0.1:9/x"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=CLI_TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "set PREFECT_API_URL" in result.stderr and "Traceback" not in result.stderr
