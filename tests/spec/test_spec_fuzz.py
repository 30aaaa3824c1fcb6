"""Fuzzing the spec loader: the only outcomes are a valid spec or the documented SpecError.

Two sources, bounded so the suite stays fast (about 150 examples each, deadline off,
no example database):

- specs drawn from ``specs/mediagen-spec.schema.json`` by hypothesis-jsonschema (strings
  and lists shortened so each draw stays cheap; objects composed here, since drawing a
  whole ImageSpec through ``from_schema`` re-canonicalises its schema on every draw);
- YAML text mutations of the example specs: control characters, truncation, deep
  nesting, huge ints, YAML tags, escapes, NaN/infinity.

A valid spec must also expand into jobs and keys, serialise to strict JSON (no NaN), and
survive the round trip ``submit`` makes (its JSON content parsed again is the same spec).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from hypothesis_jsonschema._resolve import resolve_all_refs

from mediagen.errors import ConfigurationError, SpecError
from mediagen.plan.jobs import expand_spec, prefix_of
from mediagen.settings import Settings
from mediagen.spec.limits import Limits
from mediagen.spec.loader import BAD_CHARACTERS
from mediagen.spec.models import JobSpec, load_spec_text, parse_spec

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "specs" / "mediagen-spec.schema.json").read_text())
SETTINGS = Settings(backend="offline", _env_file=None)
LIMITS = Limits()
HEX64 = re.compile(r"[0-9a-f]{64}")
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),  # FUZZ_EXAMPLES=5000 for a long hunt
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def check_outcome(make: Any, source: str) -> JobSpec | None:
    """Run ``make``; a SpecError must read well, a spec must work all the way to keys."""
    try:
        spec = make()
    except SpecError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        text = str(exc)
        assert text.startswith(source), text
        assert "Traceback" not in text and "Input should be" not in text, text
        assert not BAD_CHARACTERS.search(text), text  # printed to a terminal: escaped
        return None
    assert isinstance(spec, JobSpec)
    data = spec.model_dump(mode="json")
    json.dumps(data, allow_nan=False)  # strict JSON: what a manifest and Prefect can hold
    sent = spec.model_dump(mode="json", exclude_unset=True)  # what `submit` sends
    assert parse_spec(sent, limits=LIMITS) == spec
    try:
        jobs = expand_spec(spec, SETTINGS)
    except SpecError as exc:  # e.g. a backend that cannot make a size: documented
        assert exc.problems
        return spec
    except ConfigurationError as exc:  # a backend not installed here (plugins): documented
        assert "unknown backend" in str(exc)
        return spec
    prefix = prefix_of(spec)
    for job in jobs:
        assert HEX64.fullmatch(job.gen_key)
        for output in job.outputs:
            assert HEX64.fullmatch(output.out_key)
            assert output.object_key.startswith(f"{prefix}/" if prefix else "")
            assert ".." not in output.object_key.split("/")
    return spec


# --- specs drawn from the JSON Schema --------------------------------------------------


def _small(schema: Any) -> Any:
    """The schema with short strings, lists and maps: same shapes, cheaper draws."""
    if isinstance(schema, list):
        return [_small(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _small(v) for k, v in schema.items() if k not in ("description", "title")}
    if out.get("type") == "string" and "enum" not in out and "pattern" not in out:
        out["maxLength"] = min(out.get("maxLength", 40), 40)
    if out.get("type") == "array":
        out["maxItems"] = min(out.get("maxItems", 3), 3)
    if out.get("type") == "object" and "properties" not in out:
        out["maxProperties"] = min(out.get("maxProperties", 3), 3)
    return out


def _strategy(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if schema.get("type") == "object" and "properties" in schema:
        props = {name: _strategy(sub) for name, sub in schema["properties"].items()}
        required = schema.get("required", [])
        return st.fixed_dictionaries(
            {k: props[k] for k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and "properties" in items:
        return st.lists(
            _strategy(items), min_size=schema.get("minItems", 0), max_size=schema["maxItems"]
        )
    if "anyOf" in schema and any("properties" in branch for branch in schema["anyOf"]):
        return st.one_of([_strategy(branch) for branch in schema["anyOf"]])
    return from_schema(schema)


def _without_controls(value: Any) -> Any:
    if isinstance(value, str):
        return BAD_CHARACTERS.sub("", value)
    if isinstance(value, list):
        return [_without_controls(v) for v in value]
    if isinstance(value, dict):
        return {_without_controls(k): _without_controls(v) for k, v in value.items()}
    return value


_resolved = resolve_all_refs(SCHEMA)
_resolved.pop("$defs", None)
SCHEMA_SPECS = _strategy(_small(_resolved))


@FUZZ
@given(data=SCHEMA_SPECS, clean=st.booleans())
def test_specs_from_the_schema_are_valid_or_a_spec_error(data: dict[str, Any], clean: bool) -> None:
    # Schema strings may hold any character; half the time keep only plain text, so
    # more draws get past the character check into the models and templates.
    data = _without_controls(data) if clean else data
    check_outcome(lambda: parse_spec(data, "<inline spec>", limits=LIMITS), "<inline spec>")


def test_the_schema_draws_reach_valid_specs() -> None:
    """The fuzzer is not only testing the refusals: some draws are valid specs."""
    valid: list[JobSpec] = []

    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(data=SCHEMA_SPECS)
    def draw(data: dict[str, Any]) -> None:
        spec = check_outcome(lambda: parse_spec(_without_controls(data), limits=LIMITS), "<")
        if spec is not None:
            valid.append(spec)

    draw()
    assert valid


# --- mutations of real spec text -------------------------------------------------------

BASES = [p.read_text() for p in sorted((REPO / "specs" / "examples").glob("*.yaml"))]
INSERTS = [
    *"\x00\x01\x08\x0b\x0c\x1b\x7f\x80\x85\x9f\ufeff\ufffe\uffff\ud800\udfff\u2028",
    '"\\0"', '"\\ud800"', '"\\x1b"', ".nan", "-.inf", "!!int abc", "!!float x",
    "!!timestamp x", "!!bool x", "!!binary ", "2024-02-30", "2024-01-01T00:00:00+99:99",
    "1" * 4301, "9" * 400, "&a [*a]", "*nope", "{", "]", ": :", "- ", "? ",
    "!!python/name:os.system",
    "'{x}{x}{x}'", "{{}}", "%TAG ! tag:x,2000:\n---\n",
]  # fmt: skip
MUTATION = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 5000), st.sampled_from(INSERTS)),
    st.tuples(st.just("truncate"), st.integers(0, 5000), st.just("")),
    st.tuples(st.just("nest"), st.integers(0, 5000), st.sampled_from([10, 40, 3000])),
)


def _mutate(text: str, mutation: tuple[str, int, Any]) -> str:
    kind, position, payload = mutation
    position = min(position, len(text))
    if kind == "truncate":
        return text[:position]
    if kind == "nest":
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        return text[:line_end] + " " + "[" * payload + "]" * payload + text[line_end:]
    return text[:position] + payload + text[position:]


@FUZZ
@given(base=st.sampled_from(BASES), mutations=st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_spec_text_is_valid_or_a_located_spec_error(
    base: str, mutations: list[tuple[str, int, Any]]
) -> None:
    text = base
    for mutation in mutations:
        text = _mutate(text, mutation)
    spec = check_outcome(lambda: load_spec_text(text, "fuzz.yaml", LIMITS), "fuzz.yaml")
    if spec is not None:  # nothing that passed holds a control character
        data = spec.model_dump(mode="json")
        assert _without_controls(data) == data
