"""``delivery: sync | batch | flex``: read from the spec, checked with file:line:field."""

from __future__ import annotations

import pytest

from mediagen.errors import SpecError
from mediagen.spec.delivery import Delivery, override
from mediagen.spec.models import json_schema, load_spec_text


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "s.yaml")
    return info.value.problems


def test_delivery_is_read_on_defaults_and_per_image() -> None:
    spec = load_spec_text(
        "name: a\ndefaults: {delivery: batch}\n"
        "images:\n  - {id: x, prompt: p}\n  - {id: y, prompt: p, delivery: flex}\n",
        "s.yaml",
    )
    assert spec.defaults.delivery is Delivery.BATCH
    assert [i.delivery for i in spec.images] == [None, Delivery.FLEX]


def test_a_delivery_typo_names_file_line_and_field() -> None:
    [problem] = problems_of("name: a\nimages:\n  - id: x\n    prompt: p\n    delivery: flexx\n")
    assert problem == (
        "s.yaml:5:15: images[0].delivery: 'flexx' is not one of: sync, batch, flex; "
        "did you mean 'flex'?"
    )


def test_a_delivery_typo_on_defaults_names_defaults() -> None:
    [problem] = problems_of(
        "name: a\ndefaults:\n  delivery: async\nimages:\n  - {id: x, prompt: p}\n"
    )
    assert problem.startswith("s.yaml:3:13: defaults.delivery: 'async' is not one of")


def test_the_schema_offers_the_three_deliveries() -> None:
    schema = json_schema()
    assert schema["$defs"]["Delivery"]["enum"] == ["sync", "batch", "flex"]
    field = schema["$defs"]["ImageOptions"]["properties"]["delivery"]
    assert "half price" in field["description"]


def test_override_replaces_the_default_and_every_image_choice() -> None:
    spec = load_spec_text(
        "name: a\ndefaults: {delivery: batch}\n"
        "images:\n  - {id: x, prompt: p}\n  - {id: y, prompt: p, delivery: sync}\n",
        "s.yaml",
    )
    forced = override(spec, "flex")
    assert forced.defaults.delivery is Delivery.FLEX
    assert [i.delivery for i in forced.images] == [None, None]
    assert override(spec, None) is spec
    assert spec.images[1].delivery is Delivery.SYNC  # the original is left alone
