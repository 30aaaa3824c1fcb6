"""Spec loading and validation: good specs expand, broken specs say what, where and why.

Broken specs live in ``tests/data/bad_specs/``; each starts with comment lines

    # expect: <fragment of the message>
    # expect-line: <line of the offending node>          (optional)
    # expect-path: <field path, e.g. images[1].quality>  (optional)
    # expect-problems: <how many problems>               (optional, default 1)

and is checked twice: through ``load_spec`` and through the real CLI in a
subprocess (exit code 2, the message on stderr, no traceback).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

from mediagen.errors import SpecError
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec.models import (
    CustomSize,
    JobSpec,
    json_schema,
    load_spec,
    load_spec_text,
    parse_spec,
    spec_from_any,
)
from mediagen.spec.vocabulary import Quality, SizePreset, Theme

REPO = Path(__file__).resolve().parents[2]
BAD_SPECS = REPO / "tests" / "data" / "bad_specs"
EXAMPLES = REPO / "specs" / "examples"
SCHEMA_FILE = REPO / "specs" / "mediagen-spec.schema.json"
SETTINGS = Settings(backend="offline", _env_file=None)

BAD_FILES = sorted(BAD_SPECS.glob("*.yaml"))
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@dataclass(frozen=True)
class Expectation:
    fragment: str
    line: int | None
    path: str | None
    problems: int


def expectation(path: Path) -> Expectation:
    headers: dict[str, str] = {}
    for raw in path.read_bytes().splitlines():
        match = re.match(rb"#\s*(expect(?:-[a-z]+)?):\s?(.*)$", raw)
        if not match:
            break
        headers[match.group(1).decode()] = match.group(2).decode().rstrip()
    assert "expect" in headers, f"{path.name} must start with '# expect: <fragment>'"
    line = headers.get("expect-line")
    return Expectation(
        fragment=headers["expect"],
        line=int(line) if line else None,
        path=headers.get("expect-path"),
        problems=int(headers.get("expect-problems", "1")),
    )


def matches(problem: str, source: str, expect: Expectation) -> bool:
    """One problem line names the file and line, the field path, and the fragment."""
    where = f"{source}:{expect.line}:" if expect.line else f"{source}:"
    if not problem.startswith(where):
        return False
    if expect.path is not None and not re.match(
        rf"{re.escape(where)}\d+: {re.escape(expect.path)}: ", problem
    ):
        return False
    return expect.fragment in problem


# --- the corpus of broken specs ------------------------------------------------


def test_the_corpus_covers_the_required_cases() -> None:
    names = {p.stem for p in BAD_FILES}
    required = {
        "yaml-syntax-error",
        "unknown-top-level-key",
        "unknown-image-key",
        "bad-quality",
        "bad-theme",
        "bad-size-preset",
        "size-too-small",
        "size-too-large",
        "size-custom-without-pixels",
        "bad-hex-colour",
        "duplicate-ids",
        "id-with-slash",
        "id-with-dotdot",
        "id-uppercase",
        "empty-images",
        "missing-prompt",
        "bad-format",
        "prefix-dotdot",
        "s3-without-bucket",
        "template-undefined-variable",
        "template-exceeds-max-images",
        "template-invalid-id",
        "not-a-mapping",
        "max-images-above-cap",
    }
    assert required <= names, sorted(required - names)
    for path in BAD_FILES:
        expectation(path)  # every file declares what it expects


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_load_spec_names_file_line_path_and_problem(path: Path) -> None:
    expect = expectation(path)
    source = str(path)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    problems = info.value.problems
    assert len(problems) == expect.problems, "\n".join(problems)
    assert any(matches(p, source, expect) for p in problems), (
        f"expected {source}:{expect.line}: {expect.path}: ...{expect.fragment}... in:\n"
        + "\n".join(problems)
    )
    text = str(info.value)
    assert expect.fragment in text
    assert "Input should be" not in text  # Pydantic's raw wording is always rewritten
    assert "Value error" not in text


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI", "GOOGLE"))}
    env |= {
        "MEDIAGEN_BACKEND": "offline",
        "PYTHONPATH": str(REPO),
        "PREFECT_HOME": str(cwd / ".prefect"),
        "COLUMNS": "1000",  # rich wraps at the terminal width; keep each problem on one line
    }
    return subprocess.run(
        [sys.executable, "-c", "from mediagen.cli.app import app; app()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cli_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[Path, subprocess.CompletedProcess[str]]:
    """``mediagen validate`` on every broken spec, run in parallel (one process each)."""
    cwd = tmp_path_factory.mktemp("cli")
    workers = os.cpu_count() or 2
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda p: _cli(["validate", str(p)], cwd), BAD_FILES)
        return dict(zip(BAD_FILES, results, strict=True))


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_cli_validate_reports_the_problem_and_exits_2(
    path: Path, cli_results: dict[Path, subprocess.CompletedProcess[str]]
) -> None:
    expect = expectation(path)
    result = cli_results[path]
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == ""
    lines = [" ".join(line.split()) for line in result.stderr.splitlines()]
    problems = [re.sub(r"^(error: |- )", "", line) for line in lines]
    assert any(matches(p, str(path), expect) for p in problems), result.stderr


# --- messages read well --------------------------------------------------------


def problems_of(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "s.yaml")
    return info.value.problems


def test_a_union_field_gives_one_line_not_one_per_branch() -> None:
    problems = problems_of("name: a\nimages:\n  - id: x\n    prompt: p\n    size: ultra\n")
    assert problems == [
        "s.yaml:5:11: images[0].size: 'ultra' is not a size preset (thumbnail, standard, "
        "social_square, social_landscape, story, banner, hero), WIDTHxHEIGHT or {width, height}"
    ]


def test_size_typo_suggests_the_preset() -> None:
    [problem] = problems_of("name: a\nimages:\n  - id: x\n    prompt: p\n    size: thumbnial\n")
    assert problem.endswith("did you mean 'thumbnail'?")


def test_enum_errors_list_the_allowed_values() -> None:
    [problem] = problems_of("name: a\ndefaults: {theme: 3}\nimages:\n  - {id: x, prompt: p}\n")
    assert problem == (
        "s.yaml:2:19: defaults.theme: the number 3 is not one of: "
        + ", ".join(t.value for t in Theme)
    )


def test_a_typo_of_a_required_field_is_one_problem_not_two() -> None:
    # 'imges' explains why 'images' is missing: one line, with the suggestion.
    assert problems_of("name: a\nimges:\n  - {id: x, prompt: p}\n") == [
        "s.yaml:2:1: imges: unknown field 'imges'; did you mean 'images'?"
    ]


def test_every_problem_is_reported_with_its_own_line() -> None:
    text = (
        "name: many\n"  # 1
        "images:\n"  # 2
        "  - id: a\n"  # 3
        "    prompt: p\n"  # 4
        "    quality: ultra\n"  # 5
        "  - id: B\n"  # 6
        "    prompt: p\n"  # 7
        "    formats: gif\n"  # 8
    )
    problems = problems_of(text)
    assert [p.split(": ")[0:2] for p in problems] == [
        ["s.yaml:5:14", "images[0].quality"],
        ["s.yaml:6:9", "images[1].id"],
        ["s.yaml:8:14", "images[1].formats[0]"],
    ]


def test_head_message_counts_problems() -> None:
    with pytest.raises(SpecError) as info:
        load_spec_text("name: a\nimages:\n  - {id: x, prompt: p, quality: no}\n", "s.yaml")
    assert info.value.args[0] == "s.yaml: invalid spec (1 problem)"
    assert str(info.value).startswith("s.yaml: invalid spec (1 problem)\n  - s.yaml:3:")


def test_inline_mapping_errors_name_the_source_without_lines() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec({"name": "a", "images": [{"id": "x", "prompt": "p", "theme": "nope"}]})
    assert info.value.problems == [
        "<inline spec>: images[0].theme: 'nope' is not one of: " + ", ".join(t.value for t in Theme)
    ]


def test_a_matrix_variable_named_like_a_branch_tag_keeps_its_path() -> None:
    # 'str' is also a name Pydantic uses for union branches: a real key must stay in the path.
    text = "name: a\nimages:\n  - id: 'x-{str}'\n    prompt: p\n    matrix:\n      str: [{}]\n"
    [problem] = problems_of(text)
    assert problem.startswith("s.yaml:6:13: images[0].matrix.str[0]: matrix values must be text")


def test_missing_file_is_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        load_spec(REPO / "specs" / "no-such-spec.yaml")


# --- templates ---------------------------------------------------------------


def expand(data: dict) -> list:
    return expand_spec(parse_spec(data), SETTINGS)


def test_template_variables_named_size_and_quality_set_those_options() -> None:
    jobs = expand(
        {
            "name": "t",
            "images": [
                {
                    "id": "card-{size}-{quality}",
                    "prompt": "A card",
                    "matrix": {"size": ["thumbnail", "800x600"], "quality": ["fast", "high"]},
                }
            ],
        }
    )
    got = {(j.id, j.request.width, j.request.height, j.request.quality) for j in jobs}
    assert got == {
        ("card-thumbnail-fast", 320, 320, "fast"),
        ("card-thumbnail-high", 320, 320, "high"),
        ("card-800x600-fast", 800, 600, "fast"),
        ("card-800x600-high", 800, 600, "high"),
    }


def test_templates_fill_values_only_and_keep_escaped_braces() -> None:
    [job] = expand(
        {
            "name": "t",
            "images": [
                {"id": "n-{n}", "prompt": "Shape {{n}} number {n}", "matrix": {"n": [7]}},
            ],
        }
    )
    assert (job.id, job.subject) == ("n-7", "Shape {n} number 7")
    # No attribute access or format specs, unlike str.format.
    with pytest.raises(SpecError, match=r"undefined variable\(s\) 'n.__class__'"):
        parse_spec(
            {
                "name": "t",
                "images": [{"id": "n-{n}", "prompt": "{n.__class__}", "matrix": {"n": [1]}}],
            }
        )


def test_a_huge_matrix_is_refused_without_expanding_it() -> None:
    values = [f"v{i}" for i in range(100)]
    matrix = {name: values for name in ("a", "b", "c", "d")}  # 10^8 combinations
    with pytest.raises(SpecError, match="expands to 100000000 images, more than max_images=1000"):
        parse_spec(
            {"name": "t", "images": [{"id": "{a}-{b}-{c}-{d}", "prompt": "p", "matrix": matrix}]}
        )


def test_expand_spec_checks_specs_that_skipped_parse_spec() -> None:
    # JobSpec.model_validate checks fields only; expand_spec still refuses bad templates.
    spec = JobSpec.model_validate(
        {
            "name": "t",
            "images": [{"id": "g-{goal}", "prompt": "p", "matrix": {"theme": ["modern"]}}],
        }
    )
    with pytest.raises(SpecError) as info:
        expand_spec(spec, SETTINGS)
    assert info.value.problems == [
        "images[0].id: template 'g-{goal}' uses undefined variable(s) 'goal'; "
        "the matrix defines: theme"
    ]


def test_duplicates_between_a_template_and_a_plain_image() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(
            {
                "name": "t",
                "images": [
                    {"id": "goal-car", "prompt": "p"},
                    {"id": "goal-{g}", "prompt": "p", "matrix": {"g": ["house", "car"]}},
                ],
            }
        )
    assert info.value.problems == [
        "<inline spec>: images[1].id: duplicate id 'goal-car', first used by images[0]"
    ]


# --- good specs --------------------------------------------------------------

EXPECTED_COUNTS = {
    "batch-goals": 8,
    "brand-colors": 2,
    "custom-size": 1,
    "educational-illustration": 1,
    "goal-image": 1,
    "infographic": 1,
    "marketing-banner": 1,
    "portfolio-snapshot": 1,
    "save-locally": 1,
    "thumbnail": 2,
    "vintage": 1,
    "web-ready": 3,
}


def test_every_example_is_counted() -> None:
    assert {p.stem for p in EXAMPLE_FILES} == set(EXPECTED_COUNTS)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_validate_and_expand(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem
    jobs = expand_spec(spec, SETTINGS)
    assert len(jobs) == EXPECTED_COUNTS[path.stem]
    assert len({j.id for j in jobs}) == len(jobs)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_round_trip_through_json(path: Path) -> None:
    # run_flow hands the flow spec.model_dump(mode="json"): it must parse back identically.
    spec = load_spec(path)
    again = parse_spec(json.loads(json.dumps(spec.model_dump(mode="json"))))
    assert again == spec
    assert again.content_hash() == spec.content_hash()


def test_batch_goals_expands_the_matrix_and_sets_the_theme() -> None:
    jobs = expand_spec(load_spec(EXAMPLES / "batch-goals.yaml"), SETTINGS)
    assert [(j.id, j.request.theme) for j in jobs] == [
        (f"goal-{goal}-{theme}", theme)
        for goal in ("house", "car", "wedding", "education")
        for theme in ("modern", "playful")
    ]
    assert all(j.subject == f"A hopeful picture of saving for {j.id.split('-')[1]}" for j in jobs)
    assert all(j.tags == ("goal",) and [o.format for o in j.outputs] == ["webp"] for j in jobs)
    assert all((j.request.width, j.request.height) == (1024, 1024) for j in jobs)


def test_shorthands_are_accepted() -> None:
    spec = load_spec_text(
        "name: 2024\n"
        "version: 2\n"
        "defaults:\n"
        "  brand_colors: ['#0a7b83 deep teal', '#F2A541']\n"
        "  formats: JPG\n"
        "images:\n"
        "  - id: a\n"
        "    prompt: p\n"
        "    size: 800x600\n"
        "    tags: [2024, goal]\n"
    )
    assert spec.name == "2024" and spec.version == "2"
    assert [(c.hex, c.name) for c in spec.defaults.brand_colors or []] == [
        ("#0a7b83", "deep teal"),
        ("#F2A541", None),
    ]
    assert spec.defaults.formats == ["jpeg"]
    image = spec.images[0]
    assert image.size == CustomSize(width=800, height=600)
    assert image.tags == ["2024", "goal"]


def test_yaml_anchors_and_merge_keys_work() -> None:
    spec = load_spec_text(
        "name: anchors\n"
        "defaults: &common {theme: vintage, quality: high}\n"
        "images:\n"
        "  - {<<: *common, id: a, prompt: p}\n"
        "  - {<<: *common, id: b, prompt: q, quality: fast}\n"
    )
    assert [(i.id, i.theme, i.quality) for i in spec.images] == [
        ("a", Theme.VINTAGE, Quality.HIGH),
        ("b", Theme.VINTAGE, Quality.FAST),
    ]


def test_preset_sizes_parse_to_the_enum() -> None:
    spec = parse_spec({"name": "a", "images": [{"id": "x", "prompt": "p", "size": "hero"}]})
    assert spec.images[0].size is SizePreset.HERO


# --- spec_from_any -----------------------------------------------------------

MINIMAL = {"name": "mini", "images": [{"id": "one", "prompt": "A coin"}]}


def test_spec_from_any_accepts_every_form(tmp_path: Path) -> None:
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(MINIMAL))
    from_dict = spec_from_any(MINIMAL)
    assert spec_from_any(path) == from_dict
    assert spec_from_any(str(path)) == from_dict
    assert spec_from_any(yaml.safe_dump(MINIMAL)) == from_dict
    assert spec_from_any(json.dumps(MINIMAL)) == from_dict  # one line of flow YAML
    assert spec_from_any(from_dict) is from_dict


def test_spec_from_any_missing_path_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        spec_from_any(tmp_path / "nope.yaml")
    with pytest.raises(FileNotFoundError):
        spec_from_any(str(tmp_path / "nope"))  # not "a spec must be a mapping"


def test_spec_from_any_reports_errors_with_their_source(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"<inline spec>: images\[0\]\.prompt: required"):
        spec_from_any({"name": "a", "images": [{"id": "x"}]})
    with pytest.raises(SpecError, match=r"<spec>:3:5: images\[0\]\.prompt: required"):
        spec_from_any("name: a\nimages:\n  - id: x\n")


# --- JSON Schema -------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_examples_are_valid_against_the_json_schema(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    data = yaml.safe_load(path.read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


@pytest.mark.parametrize(
    ("image_options", "valid"),
    [
        ({"size": "800x600"}, True),
        ({"size": {"width": 800, "height": 600}}, True),
        ({"size": "ultra"}, False),
        ({"size": "custom"}, False),  # runtime refuses it without pixels: so does the schema
        ({"brand_colors": ["#0A7B83 teal", {"hex": "#F2A541"}]}, True),
        ({"brand_colors": ["teal"]}, False),
        ({"formats": "webp"}, True),
        ({"formats": ["jpg", "png"]}, True),
        ({"formats": ["gif"]}, False),
        ({"quality": "ultra"}, False),
        ({"promt": "typo"}, False),
    ],
)
def test_the_schema_agrees_with_the_models(
    image_options: dict, valid: bool, validator: jsonschema.Draft202012Validator
) -> None:
    data = {"name": "s", "version": 1, "images": [{"id": "a", "prompt": "p", **image_options}]}
    assert validator.is_valid(data) is valid
    try:
        parse_spec(data)
        parsed = True
    except SpecError:
        parsed = False
    assert parsed is valid


def test_saved_schema_file_is_in_sync() -> None:
    # Regenerate with: mediagen schema --out specs/mediagen-spec.schema.json
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema(), (
        "specs/mediagen-spec.schema.json is stale; regenerate it"
    )


def test_examples_point_editors_at_the_schema() -> None:
    for path in EXAMPLE_FILES:
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../mediagen-spec.schema.json", path.name


# --- the CLI on good specs ---------------------------------------------------


def test_cli_validate_a_good_spec(tmp_path: Path) -> None:
    result = _cli(["validate", str(EXAMPLES / "batch-goals.yaml")], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "spec 'batch-goals', 8 image(s)" in " ".join(result.stdout.split())
