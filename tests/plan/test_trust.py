"""Specs from other people (deployments, `submit`, the API batch handler) may not choose where
the worker writes or where it sends its credentials; specs on your own machine may."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from docs.examples import deployment_trigger, fastapi_app
from mediagen.errors import SpecError
from mediagen.plan import trust
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec
from tests.support.cli import mediagen

IMAGES = [{"id": "a", "prompt": "a house", "size": "thumbnail"}]


def spec_with(storage: dict[str, Any] | None = None) -> Any:
    data: dict[str, Any] = {"name": "t", "images": IMAGES}
    if storage is not None:
        data["storage"] = storage
    return parse_spec(data)


def settings(root: Path, **values: Any) -> Settings:
    return Settings(backend="offline", bucket_dir=root, _env_file=None, **values)


def refused(spec: Any, worker: Settings) -> str:
    with pytest.raises(SpecError) as info:
        trust.check_untrusted_spec(spec, worker)
    return str(info.value)


# --- the rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "why"),
    [("/srv/other", "an absolute path"), ("../escape", "'..'"), ("~/media", "'~'"),
     ("elsewhere", "a folder outside it")],
)  # fmt: skip
def test_an_untrusted_local_bucket_stays_inside_the_root(
    bucket: str, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    message = refused(spec_with({"bucket": bucket}), settings(tmp_path / "root"))
    assert "storage.bucket:" in message and why in message
    assert "MEDIAGEN_BUCKET_DIR" in message


def test_a_link_out_of_the_root_is_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert "outside" in refused(spec_with({"bucket": "root/link"}), settings(tmp_path / "root"))


def test_the_root_and_folders_inside_it_are_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    worker = settings(Path("root"))
    for storage in (None, {"prefix": "team-a", "public": True}, {"bucket": "root/team-a"}):
        trust.check_untrusted_spec(spec_with(storage), worker)


def test_an_untrusted_s3_spec_may_only_use_allowed_buckets_and_endpoints(tmp_path: Path) -> None:
    s3 = {"provider": "s3", "bucket": "theirs", "endpoint_url": "http://evil.example:9000"}
    worker = settings(tmp_path, storage_provider="s3", storage_bucket="ours")
    message = refused(spec_with(s3), worker)
    assert "bucket 'theirs'" in message and "MEDIAGEN_ALLOWED_BUCKETS" in message
    assert "'http://evil.example:9000'" in message and "MEDIAGEN_ALLOWED_ENDPOINTS" in message

    trust.check_untrusted_spec(spec_with({"provider": "s3", "bucket": "ours"}), worker)
    listed = settings(
        tmp_path, allowed_buckets="theirs,more", allowed_endpoints="HTTP://evil.example:9000/"
    )
    trust.check_untrusted_spec(spec_with(s3), listed)
    anything = settings(tmp_path, allowed_buckets='["*"]', allowed_endpoints="*")
    trust.check_untrusted_spec(spec_with({**s3, "bucket": "x"}), anything)


def test_the_workers_own_endpoint_is_allowed(tmp_path: Path) -> None:
    worker = settings(
        tmp_path, storage_provider="s3", storage_bucket="ours",
        storage_endpoint_url="https://minio.internal:9000",
    )  # fmt: skip
    own = {"provider": "s3", "bucket": "ours", "endpoint_url": "https://minio.internal:9000/"}
    trust.check_untrusted_spec(spec_with(own), worker)


def test_trusted_specs_choose_freely(tmp_path: Path) -> None:
    trust.check_spec(spec_with({"bucket": "/anywhere"}), settings(tmp_path), trusted=True)
    with pytest.raises(SpecError):
        trust.check_spec(spec_with({"bucket": "/anywhere"}), settings(tmp_path), trusted=False)


# --- the entry points ------------------------------------------------------------------

OUTSIDE = {"name": "t", "storage": {"bucket": "/tmp/mediagen-not-here"}, "images": IMAGES}


def test_submit_refuses_before_sending(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(OUTSIDE))
    result = mediagen(
        tmp_path, "submit", "s.yaml", env={"PREFECT_API_URL": "http://127.0.0.1:9/api"}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "storage.bucket:" in result.stderr and "Traceback" not in result.stderr
    assert "cannot reach" not in result.stderr  # refused before any request


def test_the_api_batch_handler_refuses_with_422(workspace: Path) -> None:
    with pytest.raises(SpecError, match="storage not allowed"):
        deployment_trigger.batch_parameters(OUTSIDE)
    with TestClient(fastapi_app.app) as http:
        answer = http.post("/batches", json={"spec": OUTSIDE})
    assert answer.status_code == 422 and "MEDIAGEN_BUCKET_DIR" in answer.json()["detail"]


def test_a_deployment_run_may_not_write_outside_the_root(
    prefect_server: None, workspace: Path, tmp_path: Path
) -> None:
    """A real deployment's flow run, executed by Prefect's engine in this process."""
    from prefect import get_client
    from prefect.flow_engine import run_flow

    from flows.generate_media import generate_media

    outside = tmp_path / "outside"
    spec = {**OUTSIDE, "storage": {"bucket": str(outside)}}
    deployment_id = generate_media.to_deployment(name="trust-test").apply()
    with get_client(sync_client=True) as api:
        flow_run = api.create_flow_run_from_deployment(deployment_id, parameters={"spec": spec})
    state = run_flow(generate_media, flow_run=flow_run, parameters={"spec": spec},
                     return_type="state")  # fmt: skip
    assert state.is_failed()
    assert "storage not allowed" in str(state.result(raise_on_failure=False))
    assert not outside.exists()

    # The same spec run here, not through a deployment, is trusted and publishes there.
    state = generate_media(spec=spec, return_state=True)
    assert state.is_completed(), state.message
    assert (outside / "t" / "manifest.json").is_file()


@pytest.mark.parametrize(
    "source", ["/etc/hostname", "../outside.yaml", "~/spec.yaml", "specs/../../x.yaml", "README"]
)
def test_an_untrusted_run_may_name_only_project_spec_files(source: str) -> None:
    with pytest.raises(SpecError, match=r"relative \.yaml path inside the project folder"):
        trust.check_spec_source(source, trusted=False)
    trust.check_spec_source(source, trusted=True)


def test_inline_specs_and_project_files_are_fine_untrusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for spec in ("specs/goals.yaml", "{name: a, images: [{id: x, prompt: p}]}", {"name": "a"}):
        trust.check_spec_source(spec, trusted=False)


def test_a_deployment_run_cannot_read_worker_files(
    prefect_server: None, workspace: Path, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.flow_engine import run_flow

    from flows.generate_media import generate_media

    # A .yaml name gets past the typed parameter (flows/parameters.py refuses other paths
    # server-side); the trust rule still refuses a file outside the project folder.
    secret = tmp_path / "secret.yaml"
    secret.write_text("TOP-SECRET-LINE\n")
    deployment_id = generate_media.to_deployment(name="trust-files").apply()
    with get_client(sync_client=True) as api:
        flow_run = api.create_flow_run_from_deployment(
            deployment_id, parameters={"spec": str(secret)}
        )
    state = run_flow(generate_media, flow_run=flow_run, parameters={"spec": str(secret)},
                     return_type="state")  # fmt: skip
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "project folder" in message and "TOP-SECRET" not in message
