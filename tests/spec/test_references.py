"""The ``references`` option: its forms, and bad entries named by file:line:field."""

from __future__ import annotations

import pytest

from mediagen.errors import SpecError
from mediagen.spec.models import load_spec_text
from mediagen.spec.references import MAX_REFERENCES


def spec_text(references: str, defaults: str = "") -> str:
    return (
        "name: refs\n"
        + (f"defaults:\n  references: {defaults}\n" if defaults else "")
        + "images:\n  - id: a\n    prompt: a jar\n"
        + f"    references: {references}\n"
    )


def test_a_string_is_a_file_and_a_mapping_names_file_or_key_and_role() -> None:
    spec = load_spec_text(
        spec_text("[logo.png, {key: brand/mascot.png, role: subject}]", defaults="[style.jpg]"),
        "refs.yaml",
    )
    first, second = spec.images[0].references or []
    assert (first.file, first.key, first.role) == ("logo.png", None, None)
    assert (second.file, second.key, second.role) == (None, "brand/mascot.png", "subject")
    assert [r.file for r in spec.defaults.references or []] == ["style.jpg"]
    # Where each was written, for the errors found when the files are read.
    assert spec.origin.lines["images[0].references[1]"] == "refs.yaml:7:28"
    assert spec.origin.lines["defaults.references[0]"] == "refs.yaml:3:16"


@pytest.mark.parametrize(
    ("references", "expected"),
    [
        ("[{file: a.png, key: b.png}]", "refs.yaml:5:18: images[0].references[0]: "),
        ("[{role: logo}]", "exactly one of 'file'"),
        ("[{file: a.png, role: mascot}]", "references[0].role"),
        ("[42]", "expected a file name or {file|key, role}"),
        ("[{file: ''}]", "references[0].file"),
    ],
)
def test_bad_entries_are_spec_errors_with_their_line(references: str, expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_text(spec_text(references), "refs.yaml")
    assert expected in "\n".join(caught.value.problems)


def test_a_list_longer_than_any_model_takes_is_refused_while_parsing() -> None:
    many = "[" + ", ".join(f"r{i}.png" for i in range(MAX_REFERENCES + 1)) + "]"
    with pytest.raises(SpecError) as caught:
        load_spec_text(spec_text(many), "refs.yaml")
    assert "refs.yaml:5:17: images[0].references" in "\n".join(caught.value.problems)


def test_where_a_spec_was_read_is_not_part_of_it() -> None:
    text = spec_text("[logo.png]")
    here, there = load_spec_text(text, "a.yaml"), load_spec_text(text, "b/c.yaml")
    assert here == there and here.content_hash() == there.content_hash()
    assert here.origin.source == "a.yaml" and there.origin.source == "b/c.yaml"
