"""``JobSpec.content_hash``: what makes ``mediagen run`` say "up to date" without a plan."""

from __future__ import annotations

from mediagen.spec.models import parse_spec

BASE = {"name": "hashy", "images": [{"id": "a", "prompt": "a coin jar"}]}


def test_an_unset_option_does_not_change_the_hash() -> None:
    # What a release that adds an option looks like to an old spec: the option is None.
    plain = parse_spec(BASE)
    spelled_out = parse_spec(
        {**BASE, "defaults": {"candidates": None, "delivery": None, "references": None}}
    )
    assert spelled_out.content_hash() == plain.content_hash()


def test_a_set_option_changes_the_hash() -> None:
    plain = parse_spec(BASE)
    assert parse_spec({**BASE, "defaults": {"candidates": 2}}).content_hash() != (
        plain.content_hash()
    )
    assert (
        parse_spec(
            {**BASE, "images": [{"id": "a", "prompt": "a coin jar", "delivery": "flex"}]}
        ).content_hash()
        != plain.content_hash()
    )
