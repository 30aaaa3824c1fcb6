"""A re-run with nothing to do never starts Prefect: no local API, no database, no call.

Real parts: ``mediagen run`` in a subprocess, the gemini backend through the real
google-genai SDK against the local Gemini server (requests counted there), a local
bucket. The first run reports to the session's Prefect API; the re-run gets a Prefect
home of its own and no ``PREFECT_API_URL``, so anything Prefect it started (the local
API's log, a database) would appear in that home.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mediagen.testing import FakeGeminiServer
from tests.support.cli import mediagen, mediagen_on_server, user_env


def _objects(bucket: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in bucket.rglob("*") if p.is_file()}


@pytest.mark.usefixtures("prefect_server")
def test_a_noop_rerun_starts_no_prefect_api_calls_nothing_and_writes_nothing(
    tmp_path: Path, gemini_server: FakeGeminiServer
) -> None:
    spec = {
        "name": "noop",
        "backend": "gemini",
        "defaults": {"size": "64x64", "formats": ["webp"]},
        "images": [{"id": "img-{n}", "prompt": "a calm lake, {n}", "matrix": {"n": [1, 2, 3]}}],
    }
    (tmp_path / "noop.yaml").write_text(yaml.safe_dump(spec))
    env = user_env(gemini_server) | {"MEDIAGEN_BUCKET_DIR": str(tmp_path / "bucket")}
    first = mediagen_on_server(tmp_path, "run", "noop.yaml", env=env)
    assert first.returncode == 0, first.stderr
    calls = len(gemini_server.requests)
    assert calls == 3
    before = _objects(tmp_path / "bucket")

    fresh_home = tmp_path / "fresh-prefect-home"
    again = mediagen(tmp_path, "run", "noop.yaml", env=env | {"PREFECT_HOME": str(fresh_home)})

    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
    assert len(gemini_server.requests) == calls  # no backend call
    assert _objects(tmp_path / "bucket") == before  # nothing written (the lease comes and goes)
    # Nothing of Prefect's: no local API (its log), no database, not even the home folder.
    assert not fresh_home.exists(), sorted(p.name for p in fresh_home.rglob("*"))
