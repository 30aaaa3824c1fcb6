"""Prompt composition: what the backend is asked, deterministically."""

from __future__ import annotations

import subprocess
import sys

from mediagen.plan.jobs import expand_spec
from mediagen.plan.prompt import BASE_CONSTRAINTS, FINANCE_CONTEXT, PromptParts, compose_prompt
from mediagen.settings import Settings
from mediagen.spec.models import parse_spec
from mediagen.spec.vocabulary import THEMES, Theme

SETTINGS = Settings(backend="offline", _env_file=None)


def prompt_of(**kwargs) -> str:
    kwargs.setdefault("subject", "A piggy bank on a desk")
    kwargs.setdefault("theme", Theme.MODERN)
    return compose_prompt(PromptParts(**kwargs))


def test_subject_comes_first_as_one_sentence() -> None:
    text = prompt_of(subject="  A piggy bank\n  on a   desk.  ")
    assert text.startswith("A piggy bank on a desk. Style: ")
    assert prompt_of(subject="Goal reached!").startswith("Goal reached! Style: ")
    assert prompt_of(subject="Saving up...").startswith("Saving up. Style: ")


def test_every_theme_description_is_used() -> None:
    for theme, style in THEMES.items():
        assert f"Style: {style.description}." in prompt_of(theme=theme)


def test_brand_colours_with_names_and_upper_case_hex() -> None:
    text = prompt_of(brand_colors=[("#0a7b83", "teal"), ("#F2A541", None)])
    assert "Use the brand colour palette: teal (#0A7B83), #F2A541." in text
    assert "brand colour" not in prompt_of()


def test_finance_context_is_a_switch() -> None:
    assert FINANCE_CONTEXT in prompt_of()  # on by default
    assert FINANCE_CONTEXT not in prompt_of(finance_context=False)


def test_constraints_are_appended_after_the_base_ones_deduplicated() -> None:
    text = prompt_of(constraints=["No text.", "no   text", "NO WATERMARKS", "  ", "use icons"])
    assert text.endswith("Constraints: No text; NO WATERMARKS; use icons; no logos of real brands.")
    for base in BASE_CONSTRAINTS:
        assert base.lower() in prompt_of().lower()


def test_sentence_order() -> None:
    text = prompt_of(brand_colors=[("#000000", "ink")], constraints=["no text"])
    order = [
        text.index("A piggy bank"),
        text.index("Style:"),
        text.index("brand colour palette"),
        text.index(FINANCE_CONTEXT),
        text.index("Constraints:"),
    ]
    assert order == sorted(order)


def test_composition_is_deterministic_across_processes() -> None:
    parts = dict(brand_colors=[("#0A7B83", "teal")], constraints=["b", "a", "B"])
    here = prompt_of(**parts)
    assert here == prompt_of(**parts)
    code = (
        "from mediagen.plan.prompt import PromptParts, compose_prompt\n"
        "from mediagen.spec.vocabulary import Theme\n"
        "print(compose_prompt(PromptParts('A piggy bank on a desk', Theme.MODERN,"
        " [('#0A7B83', 'teal')], True, ['b', 'a', 'B'])), end='')"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert other.stdout == here


# --- through a spec: domain defaults and per-image switches -------------------


def prompts(domain: str, **image_options) -> dict[str, str]:
    spec = parse_spec(
        {
            "name": "p",
            "domain": domain,
            "images": [
                {"id": "default", "prompt": "A coin"},
                {"id": "on", "prompt": "A coin", "finance_context": True},
                {"id": "off", "prompt": "A coin", "finance_context": False},
            ],
            **image_options,
        }
    )
    return {job.id: job.prompt for job in expand_spec(spec, SETTINGS)}


def test_finance_context_on_by_default_for_finance_specs() -> None:
    got = prompts("finance")
    assert FINANCE_CONTEXT in got["default"]
    assert FINANCE_CONTEXT in got["on"]
    assert FINANCE_CONTEXT not in got["off"]


def test_finance_context_off_by_default_for_general_specs() -> None:
    got = prompts("general")
    assert FINANCE_CONTEXT not in got["default"]
    assert FINANCE_CONTEXT in got["on"]
    assert FINANCE_CONTEXT not in got["off"]


def test_defaults_can_switch_finance_context_for_every_image() -> None:
    got = prompts("finance", defaults={"finance_context": False})
    assert FINANCE_CONTEXT not in got["default"]
    assert FINANCE_CONTEXT in got["on"]  # the image still wins


def test_spec_prompt_carries_subject_theme_brand_and_constraints() -> None:
    spec = parse_spec(
        {
            "name": "p",
            "defaults": {"brand_colors": ["#0a7b83 teal"], "constraints": ["no text"]},
            "images": [{"id": "a", "prompt": "A coin", "theme": "vintage"}],
        }
    )
    [job] = expand_spec(spec, SETTINGS)
    assert job.prompt == compose_prompt(
        PromptParts("A coin", Theme.VINTAGE, [("#0A7B83", "teal")], True, ["no text"])
    )
    assert job.subject == "A coin"
    assert job.request.brand_colors == ("#0A7B83",)
