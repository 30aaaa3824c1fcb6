"""Flow runs and clients in one process, each with its own Run (issue 14).

A spec run with a refused key aborts, and a client with a good key in the same
process is not stopped by it (the reproduced bug); ``MediaClient.run_spec`` runs
with the client's own key, backend and storage, not the environment's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.run import run_flow
from mediagen.client.config import ClientConfig, GeminiConfig, StorageConfig
from mediagen.client.media_client import MediaClient
from mediagen.testing import FakeGeminiServer
from tests.support.gemini import TEST_KEY


def test_an_aborted_flow_run_does_not_stop_a_later_client(
    gemini_env: FakeGeminiServer, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-wrong-key-0000")
    spec = {
        "name": "refused",
        "backend": "gemini",
        "images": [{"id": f"i{n}", "prompt": f"a jar of coins {n}", "size": "thumbnail"}
                   for n in range(4)],
    }  # fmt: skip
    manifest = run_flow(spec, concurrency=2)
    assert manifest.run_aborted and "API_KEY_INVALID" in manifest.run_aborted
    assert all(e.aborted for e in manifest.images.values())
    refused = len(gemini_env.requests)

    config = ClientConfig(
        backend="gemini",
        gemini=GeminiConfig(api_key=TEST_KEY, base_url=gemini_env.base_url),
        storage=StorageConfig(provider="local", bucket=str(workspace / "bucket")),
    )
    with MediaClient(config) as client:
        image = client.generate_image("a piggy bank on a desk", size="thumbnail")
    assert image.backend == "gemini" and image.data and not image.cached
    assert [(r.status, r.api_key) for r in gemini_env.requests[refused:]] == [(200, TEST_KEY)]


def test_run_spec_uses_the_clients_own_configuration(
    gemini_server: FakeGeminiServer, workspace: Path
) -> None:
    # The environment has no key and says offline (the workspace fixture); the client
    # names Gemini, its key and its own bucket: the spec run must use those.
    config = ClientConfig(
        backend="gemini",
        gemini=GeminiConfig(api_key=TEST_KEY, base_url=gemini_server.base_url),
        storage=StorageConfig(provider="local", bucket=str(workspace / "client-bucket")),
    )
    spec = {"name": "client-spec", "images": [{"id": "a", "prompt": "a jar", "size": "thumbnail"}]}
    with MediaClient(config) as client:
        manifest = client.run_spec(spec)
    entry = manifest.images["a"]
    assert entry.status == "ok" and entry.backend == "gemini"
    assert [(r.status, r.api_key) for r in gemini_server.image_requests] == [(200, TEST_KEY)]
    assert (workspace / "client-bucket" / "client-spec" / "manifest.json").is_file()
    assert not (workspace / "bucket" / "client-spec").exists()  # not the environment's
