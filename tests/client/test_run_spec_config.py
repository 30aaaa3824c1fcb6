"""``MediaClient.run_spec`` runs as the client is configured, not as the process is.

The process's environment points elsewhere (another bucket, another key); the
client's own configuration must decide where a spec's objects land and which key
the backend sends. Storage is read back from the S3 server, the key from the
requests the local Gemini server received.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from mediagen.client.api import ClientConfig, GeminiConfig, MediaClient, StorageConfig
from mediagen.testing import FakeGeminiServer
from mediagen.testing.s3 import S3TestServer
from tests.support.s3 import S3_BUCKET, list_keys

pytestmark = pytest.mark.usefixtures("prefect_server")

CLIENT_KEY = "AIzaCLIENT-own-key-0b9e61"
SPEC = {  # names no storage: it publishes where its runner says
    "name": "client-config",
    "defaults": {"size": "thumbnail"},
    "images": [
        {"id": "goal-car", "prompt": "saving for a car"},
        {"id": "goal-home", "prompt": "saving for a home"},
    ],
}


def test_a_spec_run_publishes_to_the_clients_storage(s3: S3TestServer, workspace: Path) -> None:
    # The process would publish to a local folder (MEDIAGEN_BUCKET_DIR, the workspace's).
    storage = StorageConfig(
        provider="s3",
        bucket=S3_BUCKET,
        region="us-east-1",
        endpoint_url=s3.endpoint_url,
        prefix="app",
    )
    with MediaClient(ClientConfig(storage=storage)) as client:
        manifest = client.run_spec(SPEC)

    assert manifest.counts["ok"] == 2
    keys = list_keys(s3.client())
    assert "client-config/manifest.json" in keys
    for entry in manifest.images.values():
        assert {out.key for out in entry.outputs} <= set(keys)
    assert not (workspace / "bucket" / "client-config").exists()  # nothing in the process's


def test_a_spec_run_sends_the_clients_key(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeGeminiServer(api_key=CLIENT_KEY, image_side=128, max_side=256) as server:
        # The process has another key, which the server would refuse.
        monkeypatch.setenv("GEMINI_API_KEY", "AIzaPROCESS-key-not-the-clients")
        monkeypatch.setenv("MEDIAGEN_GEMINI_RETRY_BASE_DELAY", "0.02")
        monkeypatch.setenv("MEDIAGEN_GEMINI_TIMEOUT", "5")
        gemini = GeminiConfig(api_key=SecretStr(CLIENT_KEY), base_url=server.base_url)
        storage = StorageConfig(provider="local", bucket=str(workspace / "client-bucket"))
        config = ClientConfig(backend="gemini", gemini=gemini, storage=storage)
        with MediaClient(config) as client:
            manifest = client.run_spec(SPEC)

        assert manifest.counts["ok"] == 2, manifest.failed()
        assert len(server.requests) == 2
        assert {request.api_key for request in server.requests} == {CLIENT_KEY}
    assert (workspace / "client-bucket" / "client-config" / "manifest.json").is_file()
