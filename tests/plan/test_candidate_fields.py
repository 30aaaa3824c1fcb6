"""The spec fields of issue 17's candidates: candidates, pick, keep_candidates."""

from __future__ import annotations

import pytest

from mediagen.errors import SpecError
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec.models import load_spec_text

SETTINGS = Settings(backend="offline", _env_file=None)

SPEC = """\
name: picks
defaults:
  candidates: 3
  keep_candidates: true
images:
  - id: one
    prompt: A gold coin
  - id: two
    prompt: A silver coin
    candidates: 1
    pick: review
    keep_candidates: false
"""


def test_defaults_and_overrides_resolve_onto_the_job() -> None:
    one, two = expand_spec(load_spec_text(SPEC, "picks.yaml"), SETTINGS)
    assert (one.candidates, one.pick, one.keep_candidates) == (3, "auto", True)
    assert (two.candidates, two.pick, two.keep_candidates) == (1, "review", False)


def test_unset_fields_keep_one_candidate_and_auto() -> None:
    [job] = expand_spec(
        load_spec_text("name: x\nimages:\n  - id: a\n    prompt: p\n", "x.yaml"), SETTINGS
    )
    assert (job.candidates, job.pick, job.keep_candidates) == (1, "auto", False)


@pytest.mark.parametrize(
    ("line", "words"),
    [("candidates: 9", "too large (maximum 8)"), ("candidates: 0", "too small (minimum 1)"),
     ("pick: best", "not one of: auto, review")],
)  # fmt: skip
def test_bad_values_name_the_file_line_and_field(line: str, words: str) -> None:
    text = f"name: x\nimages:\n  - id: a\n    prompt: p\n    {line}\n"
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "x.yaml")
    field = line.split(":")[0]
    assert "x.yaml:5:" in str(info.value), str(info.value)
    assert f"images[0].{field}: " in str(info.value) and words in str(info.value)
