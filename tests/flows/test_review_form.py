"""The typed review form (flows/review.py): what the Prefect UI renders and the server checks.

The schema is what ``pause_flow_run(wait_for_input=...)`` saves for the UI; the
server validates a Resume's ``run_input`` against it with Prefect's own
``schema_tools.validate`` (the same call here), so a candidate number that was
not shown is refused before the run sees it. The paused run itself, on a real
server, is tests/e2e/test_review.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.utilities.schema_tools.validation import validate

from flows.review import answers_from, artifact_key, can_ask, input_form
from mediagen.engine.candidates import Candidate, CandidateSet
from mediagen.engine.context import Generated
from mediagen.engine.review import ReviewItem, Shown
from mediagen.imaging.scoring import Score
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import parse_spec


def items(*ids: str, candidates: int = 3) -> list[ReviewItem]:
    spec = parse_spec({"name": "f", "images": [{"id": i, "prompt": f"p {i}"} for i in ids]})
    made = Generated("k.png", "image/png", "offline", "m", False, {}, 0.0, True, 0.0)
    out = []
    for job in expand_spec(spec, get_settings()):
        scores = [0.2, 0.9, 0.5][:candidates]
        cands = tuple(
            Candidate(n, job, made, Score(total, {"brand": total}))
            for n, total in enumerate(scores)
        )
        shown = [Shown(n, f"https://x/{n}", t, {"brand": t}, None) for n, t in enumerate(scores)]
        out.append(ReviewItem(job, job, CandidateSet(job, cands, "k.pick.json"), shown))
    return out


def test_the_form_has_one_group_per_image_keyed_by_its_id(workspace: Path) -> None:
    shown = items("hero-1", "card")
    schema = input_form(shown).model_json_schema()
    assert set(schema["properties"]) == {"reviewer", "hero-1", "card"}
    group = schema["$defs"][schema["properties"]["card"]["$ref"].split("/")[-1]]
    assert group["properties"]["action"]["enum"] == ["approve", "reject", "skip"]
    assert group["properties"]["action"]["default"] == "skip"  # nothing public by default
    candidate = group["properties"]["candidate"]
    assert (candidate["minimum"], candidate["maximum"], candidate["default"]) == (0, 2, 1)


def test_the_server_refuses_a_candidate_that_was_not_shown(workspace: Path) -> None:
    schema = input_form(items("a")).model_json_schema()
    ok = {"reviewer": "ana", "a": {"action": "approve", "candidate": 2, "note": ""}}
    assert validate(ok, schema, raise_on_error=False) == []
    bad = {"a": {"action": "approve", "candidate": 3, "note": ""}}
    assert validate(bad, schema, raise_on_error=False) != []
    assert validate({"a": {"action": "publish"}}, schema, raise_on_error=False) != []


def test_answers_carry_the_reviewer_and_an_image_may_be_called_reviewer(
    workspace: Path,
) -> None:
    shown = items("reviewer", "b")
    form = input_form(shown)
    assert {"reviewer", "reviewer-name", "b"} == set(form.model_json_schema()["properties"])
    value = form(**{
        "reviewer-name": "  ana ",
        "reviewer": {"action": "approve", "candidate": 0},
        "b": {"action": "reject", "note": " warmer "},
    })  # fmt: skip
    answers = answers_from(value, shown)
    assert (answers["reviewer"].action, answers["reviewer"].candidate) == ("approve", 0)
    assert (answers["b"].action, answers["b"].note, answers["b"].reviewer) == (
        "reject", "warmer", "ana")  # fmt: skip
    unnamed = answers_from(input_form(shown)(), shown)
    assert {a.reviewer for a in unnamed.values()} == {"prefect-ui"}
    assert {a.action for a in unnamed.values()} == {"skip"}


def test_artifact_key_and_who_can_be_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert artifact_key("Q4 Banners_v2") == "review-q4-banners-v2"
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_PROFILES_PATH", "/nonexistent/profiles.toml")
    assert not can_ask()  # a temporary local API: nobody can open it
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert can_ask()
