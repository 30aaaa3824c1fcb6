"""`mediagen verify` and the signer settings as a user meets them: web-ready.yaml published with
a test chain, every file verified (from disk and over HTTP), a tampered file refused,
`validate` saying whether signing is on, and a bad key setting: exit 2, no key in sight.

The spec is published by the engine in this process (the flow's stages, without Prefect:
``mediagen run`` adds only the flow around them, and its local Prefect API does not start
within its timeout on a machine at load 20+); everything after is the real command."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import run_spec
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.parse import load_spec
from tests.support.c2pa_chain import make_chain, signer_env
from tests.support.cli import mediagen

SPEC = "specs/examples/web-ready.yaml"


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A loopback HTTP server on a free port, serving a folder."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _publish(project: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``mediagen run SPEC`` in ``project`` with ``env``, minus the Prefect flow around it."""
    monkeypatch.chdir(project)
    monkeypatch.delenv("MEDIAGEN_BACKEND", raising=False)
    monkeypatch.setenv("MEDIAGEN_BUCKET_DIR", str(project / "media-bucket"))
    monkeypatch.setenv("MEDIAGEN_WORK_DIR", str(project / "work"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    job_spec = load_spec(project / SPEC)
    ctx = RunContext.for_spec(job_spec, settings, run_id="cli-verify")
    with ctx.new_run(settings) as run:
        manifest = run_spec(make_plan(expand_spec(job_spec, settings), None, settings), ctx, run)
    assert {e.status for e in manifest.images.values()} == {"ok"}


def test_signed_run_then_verify(
    project: Path, http_folder: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_chain(project / "certs", name="mediagen publisher")
    env = signer_env(chain)

    checked = mediagen(project, "validate", SPEC)
    assert checked.returncode == 0, checked.stderr
    assert "C2PA signing: off" in checked.stdout
    checked = mediagen(project, "validate", SPEC, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "C2PA signing: on, ES256 by O=mediagen tests,CN=mediagen publisher" in checked.stdout
    assert "valid but untrusted" in checked.stdout

    _publish(project, env, monkeypatch)
    manifest = json.loads((project / "media-bucket/web-ready/manifest.json").read_text())
    files = [
        project / "media-bucket" / out["key"]
        for entry in manifest["images"].values()
        for out in entry["outputs"]
    ]
    assert files and all(
        out["signed"] for entry in manifest["images"].values() for out in entry["outputs"]
    )

    verified = mediagen(project, "verify", *map(str, files))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count("valid ") == len(files)
    assert "signer: mediagen publisher" in verified.stdout
    assert "source: algorithmicMedia by offline" in verified.stdout
    assert "c2pa.created" in verified.stdout and "c2pa.transcoded" in verified.stdout
    # Every file the manifest lists, read from the spec's bucket by key.
    by_spec = mediagen(project, "verify", "--spec", SPEC)
    assert by_spec.returncode == 0, by_spec.stdout + by_spec.stderr
    assert by_spec.stdout.count("valid web-ready/") == len(files)
    trusted = mediagen(project, "verify", "--trust", str(chain.ca), str(files[0]))
    assert trusted.returncode == 0 and trusted.stdout.startswith("trusted "), trusted.stdout

    # Over HTTP, as a page's visitor gets it; then one byte of its picture changed.
    served = http_folder[0] / files[0].name
    served.write_bytes(files[0].read_bytes())
    url = f"{http_folder[1]}/{files[0].name}"
    over_http = mediagen(project, "verify", "--json", url)
    assert over_http.returncode == 0, over_http.stdout + over_http.stderr
    report = json.loads(over_http.stdout)
    assert report["valid"] and report["signer"] == "mediagen publisher"
    data = bytearray(files[0].read_bytes())
    data[data.rindex(b"\xff\xda") + 80] ^= 0x10  # the JPEG's coded picture
    tampered = project / "tampered.jpg"
    tampered.write_bytes(bytes(data))
    refused = mediagen(project, "verify", str(files[1]), str(tampered))
    assert refused.returncode == 1, refused.stdout
    assert "invalid " in refused.stdout and "mismatch" in refused.stdout
    assert "Traceback" not in refused.stderr

    missing = mediagen(project, "verify", str(project / "nope.png"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    nothing = mediagen(project, "verify")
    assert nothing.returncode == 2 and "nothing to verify" in nothing.stderr


def test_a_key_that_is_not_the_certificates_exits_2_without_the_key(project: Path) -> None:
    chain = make_chain(project / "certs")
    other = make_chain(project / "other", name="someone else")
    env = {**signer_env(chain), "MEDIAGEN_C2PA_KEY": str(other.key)}
    result = mediagen(project, "validate", SPEC, env=env)
    assert result.returncode == 2
    assert "MEDIAGEN_C2PA_KEY" in result.stderr and "Traceback" not in result.stderr
    key_lines = other.key.read_text().splitlines()[1:-1]
    assert not any(line in result.stderr + result.stdout for line in key_lines)
