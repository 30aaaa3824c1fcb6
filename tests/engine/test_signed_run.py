"""A spec run with a C2PA signer: every published file (each format, each rendition) carries
credentials that verify; a new certificate re-signs from the stored originals with no
backend call; without a signer nothing changes; a signed original becomes the parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediagen import backends
from mediagen.engine.context import RunContext
from mediagen.engine.orchestrate import run_spec
from mediagen.imaging.credentials_read import verify
from mediagen.manifest.model import Manifest
from mediagen.plan.diff import make_plan
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.parse import load_spec
from tests.support.backends import CountingBackend
from tests.support.c2pa_chain import Chain, VendorSigningBackend, make_chain, signer_env
from tests.support.paths import REPO

WEB_READY = REPO / "specs/examples/web-ready.yaml"


def _run(spec_path: Path, previous: Manifest | None = None) -> Manifest:
    settings = get_settings()
    job_spec = load_spec(spec_path)
    ctx = RunContext.for_spec(job_spec, settings, run_id="signed")
    plan = make_plan(expand_spec(job_spec, settings), previous, settings)
    with ctx.new_run(settings) as run:
        return run_spec(plan, ctx, run, previous)


def _sign_with(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in signer_env(chain).items():
        monkeypatch.setenv(name, value)


def _files(manifest: Manifest, bucket: Path) -> dict[str, bytes]:
    return {
        out.key: (bucket / out.key).read_bytes()
        for entry in manifest.images.values()
        for out in entry.outputs
    }


def test_web_ready_publishes_signed_files_and_a_new_certificate_re_signs_for_free(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIAGEN_BACKEND", "counting")
    first_chain = make_chain(workspace / "certs-a", name="mediagen publisher A")
    _sign_with(first_chain, monkeypatch)
    manifest = _run(WEB_READY)
    assert {e.status for e in manifest.images.values()} == {"ok"}
    calls = CountingBackend.total()
    assert calls == 3

    files = _files(manifest, workspace / "bucket")
    formats = {out.format for e in manifest.images.values() for out in e.outputs}
    assert formats == {"jpeg", "avif", "webp"}
    assert len(files) > 9  # main outputs and renditions
    for entry in manifest.images.values():
        for out in entry.outputs:
            assert out.signed and out.signer == first_chain.subject
            verdict = verify(files[out.key])
            assert verdict.state == "valid", (out.key, verdict.failures)
            assert verdict.signer == "mediagen publisher A"
            assert verdict.source_type == "algorithmicMedia"  # the offline renderer: not AI
            assert verdict.actions[0] == "c2pa.created"
            assert "c2pa.transcoded" in verdict.actions
            if out.width < entry.width:  # a rendition was scaled down
                assert "c2pa.resized" in verdict.actions

    # The key is in no published object: not the manifest, not a file's credentials.
    key_lines = first_chain.key.read_text().splitlines()[1:-1]
    for path in (workspace / "bucket").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(line.encode() in data for line in key_lines), path

    # Another certificate: every file is signed again from the stored originals.
    second_chain = make_chain(workspace / "certs-b", name="mediagen publisher B")
    _sign_with(second_chain, monkeypatch)
    again = _run(WEB_READY, previous=manifest)
    assert CountingBackend.total() == calls  # no backend call
    old_keys = {o.out_key for e in manifest.images.values() for o in e.outputs}
    new_keys = {o.out_key for e in again.images.values() for o in e.outputs}
    assert len(new_keys) == len(old_keys) and not new_keys & old_keys
    for key, data in _files(again, workspace / "bucket").items():
        verdict = verify(data)
        assert verdict.valid and verdict.signer == "mediagen publisher B", key


def test_without_a_signer_nothing_is_signed_and_keys_are_as_before(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = get_settings()
    job_spec = load_spec(WEB_READY)
    unsigned = expand_spec(job_spec, settings)
    assert all(job.signing is None for job in unsigned)
    _sign_with(make_chain(tmp_path / "certs"), monkeypatch)
    signed = expand_spec(job_spec, get_settings())
    for a, b in zip(unsigned, signed, strict=True):
        assert a.gen_key == b.gen_key  # signing never asks the backend again
        assert not {o.out_key for o in a.outputs} & {o.out_key for o in b.outputs}

    monkeypatch.delenv("MEDIAGEN_C2PA_CERT")
    monkeypatch.delenv("MEDIAGEN_C2PA_KEY")
    manifest = _run(WEB_READY)
    for entry in manifest.images.values():
        for out in entry.outputs:
            assert not out.signed and out.signer is None
            assert verify((workspace / "bucket" / out.key).read_bytes()).state == "unsigned"


def test_a_signed_original_is_the_parent_of_every_published_file(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        backends.BUILTIN_BACKENDS,
        "vendor-signing",
        "tests.support.c2pa_chain:VendorSigningBackend",
    )
    monkeypatch.setattr(VendorSigningBackend, "chain_folder", workspace / "vendor")
    monkeypatch.setenv("MEDIAGEN_BACKEND", "vendor-signing")
    _sign_with(make_chain(workspace / "certs"), monkeypatch)
    spec = workspace / "one.yaml"
    spec.write_text(
        "name: vendor-signed\nimages:\n  - id: hero\n    prompt: A lighthouse at dawn\n"
        "    size: 640x360\n    formats: [png, webp]\n"
    )
    manifest = _run(spec)
    entry = manifest.images["hero"]
    assert entry.status == "ok", entry.error
    for out in entry.outputs:
        verdict = verify((workspace / "bucket" / out.key).read_bytes())
        assert verdict.valid, verdict.failures
        assert verdict.parent and verdict.actions[0] == "c2pa.opened"
        # The model's own credential, reached through the parent: AI, and which model.
        assert verdict.source_type == "trainedAlgorithmicMedia"
        assert verdict.software_agent == "vendor-image-3"
