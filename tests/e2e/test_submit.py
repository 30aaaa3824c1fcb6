"""`mediagen submit` without a server: what it sends, and how it refuses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flows.submit import deployment_name
from mediagen.spec.models import load_spec, parse_spec
from tests.support.cli import mediagen
from tests.support.paths import REPO

EXAMPLES = sorted((REPO / "specs" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_sent_content_is_the_same_spec(path: Path) -> None:
    spec = load_spec(path)
    sent = spec.model_dump(mode="json", exclude_unset=True)  # what submit_spec sends
    assert parse_spec(sent) == spec
    assert parse_spec(sent).content_hash() == spec.content_hash()


def test_deployment_names() -> None:
    assert deployment_name("adhoc") == "generate-media/adhoc"
    assert deployment_name("other-flow/x") == "other-flow/x"


def test_submit_without_a_server_says_how_to_set_one(tmp_path: Path) -> None:
    spec = REPO / "specs" / "examples" / "goal-image.yaml"
    result = mediagen(tmp_path, "submit", str(spec), env={"PREFECT_API_URL": ""})
    assert result.returncode == 2, result.stderr
    assert "needs a Prefect server: set PREFECT_API_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_sent_content_passes_the_deployments_parameter_schema(path: Path) -> None:
    # The server validates parameters against this schema (enforce_parameter_schema).
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.schema_tools.validation import validate

    from flows.generate_media import generate_media

    schema = parameter_schema(generate_media.fn).model_dump_for_openapi()
    sent = load_spec(path).model_dump(mode="json", exclude_unset=True)
    assert validate({"spec": sent}, schema, raise_on_error=False) == []
    path_form = {"spec": f"specs/examples/{path.name}"}
    assert validate(path_form, schema, raise_on_error=False) == []


def test_the_submitter_says_nothing_about_backends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.submit import jobs_to_submit
    from mediagen import backends

    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "MEDIAGEN_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(backends, "_notice_given", [])  # as in a fresh process
    spec = parse_spec({"name": "auto", "images": [{"id": "a", "prompt": "p"}]})
    with caplog.at_level(logging.DEBUG):
        jobs = jobs_to_submit(spec)
    assert [job.id for job in jobs] == ["a"]
    assert "offline" not in caplog.text and "GEMINI" not in caplog.text
