"""The integration examples in docs/examples, run for real: a Celery task (eager), FastAPI
handlers (TestClient) and a Prefect deployment trigger (against the session's Prefect API)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from docs.examples import celery_tasks, deployment_trigger, fastapi_app
from mediagen.client.api import (
    ClientConfig,
    MediaClient,
    StorageConfig,
    get_client,
    set_default_client,
)
from mediagen.errors import SpecError
from mediagen.testing import FakeGeminiServer, Fault


@pytest.fixture
def client(gemini_env: FakeGeminiServer, workspace: Path) -> Iterator[MediaClient]:
    config = ClientConfig(storage=StorageConfig(bucket=str(workspace / "bucket"), prefix="app"))
    with MediaClient(config) as c:
        previous = set_default_client(c)  # what get_client() hands the examples
        yield c
        set_default_client(previous)


@pytest.fixture
def eager_celery() -> Iterator[None]:
    # Not task_eager_propagates: with it, an eager task's retry raises instead of
    # re-running; without it, apply() re-runs it as a worker would, and .get() raises.
    conf = celery_tasks.app.conf
    conf.update(task_always_eager=True)
    yield
    conf.update(task_always_eager=False)


def test_celery_task_generates_uploads_and_hits_the_cache(
    client: MediaClient, gemini_env: FakeGeminiServer, eager_celery: None, workspace: Path
) -> None:
    result = celery_tasks.generate_goal_image.delay("7", "a new car", size="thumbnail").get()
    assert result["status"] == "ok" and result["key"].startswith("app/goal-7-")
    assert (workspace / "bucket" / result["key"]).stat().st_size == result["size"]
    assert result["metadata"]["goal-id"] == "7"

    again = celery_tasks.generate_goal_image.delay("7", "a new car", size="thumbnail").get()
    assert again["key"] == result["key"] and not again["uploaded"]
    assert len(gemini_env.requests) == 1

    assert celery_tasks.delete_goal_image.delay(result["url"]).get() is True
    assert not (workspace / "bucket" / result["key"]).exists()


def test_celery_task_retries_transient_failures_and_reports_blocks(
    client: MediaClient, gemini_env: FakeGeminiServer, eager_celery: None
) -> None:
    # Four 503s use up the backend's own attempts (MEDIAGEN_GEMINI_MAX_ATTEMPTS=4):
    # the TransientError reaches Celery, whose retry then succeeds.
    gemini_env.script(Fault.server_error(503), times=4)
    result = celery_tasks.generate_goal_image.delay("8", "a wedding", size="thumbnail").get()
    assert result["status"] == "ok" and len(gemini_env.requests) == 5

    gemini_env.script(Fault.prompt_blocked("PROHIBITED_CONTENT"), match="forbidden")
    blocked = celery_tasks.generate_goal_image.delay("9", "forbidden", size="thumbnail").get()
    assert blocked == {"status": "blocked", "goal_id": "9", "reason": "PROHIBITED_CONTENT"}
    assert len(gemini_env.requests_for("forbidden")) == 1  # never retried


def test_fastapi_handlers(client: MediaClient, gemini_env: FakeGeminiServer) -> None:
    fastapi_app.app.dependency_overrides[get_client] = lambda: client
    try:
        with TestClient(fastapi_app.app) as http:
            made = http.post("/images", json={"prompt": "a piggy bank", "size": "thumbnail"})
            assert made.status_code == 201, made.text
            body = made.json()
            assert body["format"] == "webp" and body["width"] == 320 and not body["public"]
            assert client.bucket.exists(body["key"])

            bad = http.post("/images", json={"prompt": "a cat", "size": "enormous"})
            assert bad.status_code == 422 and "size" in bad.json()["detail"]

            gemini_env.script(Fault.prompt_blocked("PROHIBITED_CONTENT"), match="forbidden")
            refused = http.post("/images", json={"prompt": "forbidden", "size": "thumbnail"})
            assert refused.status_code == 422 and "PROHIBITED_CONTENT" in refused.text

            gemini_env.script(Fault.server_error(503), times=None)
            busy = http.post("/images", json={"prompt": "a busy day", "size": "thumbnail"})
            assert busy.status_code == 503 and "Retry-After" in busy.headers
            gemini_env.reset()

            deleted = http.delete("/images", params={"url": body["url"]})
            assert deleted.json() == {"deleted": True}
            assert http.delete("/images", params={"url": body["url"]}).json() == {"deleted": False}
            foreign = http.delete("/images", params={"url": "https://example.com/x.png"})
            assert foreign.status_code == 422

            bad_batch = http.post("/batches", json={"spec": {"name": "x", "images": []}})
            assert bad_batch.status_code == 422
    finally:
        fastapi_app.app.dependency_overrides.clear()


def test_batch_parameters_validate_before_anything_is_sent() -> None:
    with pytest.raises(SpecError, match="promt"):
        deployment_trigger.batch_parameters({"name": "b", "images": [{"id": "a", "promt": "typo"}]})
    params = deployment_trigger.batch_parameters(
        {"name": "b", "images": [{"id": "a", "prompt": "a house"}]}
    )
    assert params["spec"]["name"] == "b" and params["spec"]["images"][0]["prompt"] == "a house"


def test_deployment_trigger_schedules_a_run_on_the_prefect_api(
    prefect_server: None, workspace: Path
) -> None:
    from prefect import get_client as prefect_client

    from flows.generate_media import generate_media

    deployment_id = generate_media.to_deployment(name="adhoc").apply()
    spec = {"name": "long-batch", "images": [{"id": "a", "prompt": "a house"}]}

    run_id = deployment_trigger.trigger_batch(spec, team="growth")

    with prefect_client(sync_client=True) as api:
        run = api.read_flow_run(UUID(run_id))
    assert run.deployment_id == deployment_id
    assert run.parameters == deployment_trigger.batch_parameters(spec)
    assert run.state is not None and run.state.is_scheduled()  # queued for a worker, not run
    assert set(run.tags) >= {"api", "team:growth"}

    # The same through the FastAPI handler.
    with TestClient(fastapi_app.app) as http:
        answer = http.post("/batches", json={"spec": spec})
    assert answer.status_code == 202
    assert UUID(answer.json()["flow_run_id"])
