"""Presigned URLs signed with temporary credentials die with the session: the manifest
and the CLI say so, and ``urls_expire_at`` is never later than the session's end."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mediagen.testing.s3 import S3TestServer
from tests.storage_state.conftest import Cli
from tests.storage_state.runner import run_spec
from tests.support.s3 import body, s3_storage

TOKEN = "FwoGZXIvYXdzEMediagenTestSessionToken0001"


def spec(s3: S3TestServer) -> dict[str, Any]:
    return {
        "name": "signed",
        "backend": "offline",
        "storage": s3_storage(s3.endpoint_url, presign_expiry=7 * 24 * 3600),
        "images": [{"id": "coin", "prompt": "a coin", "size": "thumbnail"}],
    }


def test_long_term_keys_expire_with_the_signature(s3: S3TestServer) -> None:
    manifest = run_spec(spec(s3))
    assert not manifest.urls_expire_with_session and manifest.session_expires_at is None
    assert manifest.urls_expire_at is not None
    left = manifest.urls_expire_at - datetime.now(UTC)
    assert timedelta(days=6) < left <= timedelta(days=7)


def test_a_session_token_caps_the_expiry_at_the_sessions_end(
    s3: S3TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ends = (datetime.now(UTC) + timedelta(minutes=45)).replace(microsecond=0)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", ends.isoformat().replace("+00:00", "Z"))
    manifest = run_spec(spec(s3))
    assert manifest.urls_expire_with_session
    assert manifest.session_expires_at == ends and manifest.urls_expire_at == ends
    url = manifest.images["coin"].url
    assert url is not None and "X-Amz-Security-Token" in url  # signed with the session
    with urllib.request.urlopen(url, timeout=10) as answer:  # and it works while it lasts
        assert answer.status == 200
    # a session whose end nobody states: still flagged, the signature's expiry stands
    monkeypatch.delenv("AWS_CREDENTIAL_EXPIRATION")
    unknown = run_spec(spec(s3) | {"description": "again"})
    assert unknown.urls_expire_with_session and unknown.session_expires_at is None
    assert unknown.urls_expire_at is not None and unknown.urls_expire_at > ends


def test_the_cli_says_the_urls_end_with_the_session(
    s3: S3TestServer, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    path = tmp_path / "signed.yaml"
    path.write_text(yaml.safe_dump(spec(s3)))
    out = cli("run", str(path)).stdout
    notes = [line for line in out.splitlines() if "temporary credentials" in line]
    assert len(notes) == 1 and "when that session ends" in notes[0]
    manifest = json.loads(body(s3.client(), "signed/manifest.json"))
    assert manifest["urls_expire_with_session"] is True
