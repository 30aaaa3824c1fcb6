"""`mediagen submit` without a server: what it sends, and how it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.submit import deployment_name
from mediagen.spec import load_spec, parse_spec
from tests.conftest import REPO
from tests.test_cli import mediagen

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
