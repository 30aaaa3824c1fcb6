"""Hostile specs: every character, value, size and shape that once crashed or hung the
loader now gives a located SpecError (file:line:col), and nothing past the caps is built."""

from __future__ import annotations

import math
import os
import tracemalloc
from pathlib import Path

import pytest

from mediagen.errors import SpecError
from mediagen.manifest.model import ImageEntry, Manifest, manifest_bytes
from mediagen.plan.jobs import expand_spec
from mediagen.settings import Settings
from mediagen.spec.limits import Limits
from mediagen.spec.loader import BAD_CHARACTERS
from mediagen.spec.models import load_spec, load_spec_text, parse_spec, spec_from_any

SETTINGS = Settings(backend="offline", _env_file=None)
BASE = "name: a\nimages:\n  - id: x\n    prompt: p\n"


def refusal(text: str, limits: Limits | None = None) -> str:
    """The whole message of the SpecError ``text`` gives (problems included)."""
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "s.yaml", limits or Limits())
    return str(info.value)


def assert_located(message: str, line: int) -> None:
    assert f"s.yaml:{line}:" in message, message
    assert "Traceback" not in message and "Input should be" not in message


# --- characters ------------------------------------------------------------------------

CONTROL = [
    *"\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\x80\x9f",
    "\ufffe",
    "\uffff",
    "\ud800",
    "\udfff",
]


@pytest.mark.parametrize("char", CONTROL, ids=lambda c: f"U+{ord(c):04X}")
def test_a_raw_control_character_is_a_located_spec_error(char: str) -> None:
    message = refusal(f"name: a\nimages:\n  - id: x\n    prompt: p{char}q\n")
    assert_located(message, 4)
    assert f"U+{ord(char):04X}" in message


@pytest.mark.parametrize(
    ("escape", "code"),
    [(r"\0", "U+0000"), (r"\x1b", "U+001B"), (r"\ud800", "U+D800"), (r"\x7f", "U+007F"),
     (r"\N", "U+0085"), (r"\uffff", "U+FFFF")],
)  # fmt: skip
def test_a_control_character_written_as_an_escape_is_refused_where_it_is(
    escape: str, code: str
) -> None:
    message = refusal(BASE + f'    metadata: {{k: "a{escape}b"}}\n')
    assert_located(message, 5)
    assert "images[0].metadata.k" in message and code in message


@pytest.mark.parametrize("field", ["prefix", "bucket"])
def test_a_nul_in_a_storage_path_is_refused_at_validate(field: str) -> None:
    message = refusal(BASE + f'storage: {{{field}: "media\\0/x"}}\n')
    assert_located(message, 5)
    assert f"storage.{field}" in message and "U+0000" in message


def test_a_lone_surrogate_in_inline_metadata_is_refused() -> None:
    data = {"name": "a", "images": [{"id": "x", "prompt": "p", "metadata": {"k": "\udc80"}}]}
    with pytest.raises(SpecError, match=r"images\[0\]\.metadata\.k: contains control"):
        parse_spec(data)


def test_whatever_loads_holds_no_control_character() -> None:
    # NEL (U+0085) raw is a YAML line break: folded away, or refused; never kept.
    for char in ("\x85", "\u2028"):
        try:
            spec = load_spec_text(f"name: a\nimages:\n  - id: x\n    prompt: p{char}q\n")
        except SpecError:
            continue
        assert not BAD_CHARACTERS.search(spec.images[0].prompt)


# --- shapes and scalars PyYAML cannot build --------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["2024-02-30", "1" * 4301, "!!int abc", "!!float x", "!!timestamp x", "!!bool x",
     "2024-01-01T00:00:00+99:99"],
    ids=["feb-30", "4301-digits", "int", "float", "timestamp", "bool", "timezone"],
)  # fmt: skip
def test_a_value_pyyaml_cannot_construct_is_a_located_spec_error(value: str) -> None:
    message = refusal(BASE + f"version: {value}\n")
    assert_located(message, 5)
    assert "cannot read" in message


@pytest.mark.parametrize("depth", [40, 5000, 200_000])
def test_deep_nesting_is_a_located_spec_error(depth: int) -> None:
    message = refusal(BASE + "    metadata: {k: " + "[" * depth + "]" * depth + "}\n")
    assert_located(message, 5)
    assert "nested more than 32 levels" in message


def test_the_depth_cap_is_a_setting() -> None:
    text = BASE + "    metadata: {k: " + "[" * 40 + "]" * 40 + "}\n"
    message = refusal(text, Limits(spec_max_depth=60))
    assert "nested" not in message and "metadata values must be text" in message


# --- NaN and infinity ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "path"),
    [("    metadata: {k: .nan}", "images[0].metadata.k"), ("budget_usd: .inf", "budget_usd"),
     ("version: .nan", "version"), ("    matrix: {v: [-.inf]}", "images[0].matrix.v[0]"),
     ("    brand_fit: {min_score: .NaN}", "images[0].brand_fit.min_score")],
)  # fmt: skip
def test_nan_and_infinity_are_refused_anywhere(line: str, path: str) -> None:
    message = refusal(BASE + line + "\n")
    assert_located(message, 5)
    assert f"{path}: " in message and "finite" in message


def test_nan_as_text_is_refused_for_numbers() -> None:
    assert "finite number" in refusal(BASE + 'budget_usd: "nan"\n')


def test_the_manifest_refuses_nan_instead_of_writing_null() -> None:
    entry = ImageEntry(id="x", status="ok", width=1, height=1, format="png", prompt="p",
                       subject="p", backend="offline", model="m", theme="t", size="s",
                       quality="q", gen_key="g", metadata={"k": math.nan})  # fmt: skip
    manifest = Manifest(spec_name="a", spec_hash="h", images={"x": entry})
    with pytest.raises(ValueError, match=r"images\.x\.metadata\.k is not a finite number"):
        manifest_bytes(manifest)
    finite = manifest.model_copy(update={"cost_usd": 0.5, "images": {}})
    assert Manifest.model_validate_json(manifest_bytes(finite)) == finite


# --- URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "//cdn.x", "data:,x"])
@pytest.mark.parametrize("field", ["public_base_url", "endpoint_url"])
def test_only_http_urls_are_accepted(field: str, url: str) -> None:
    message = refusal(BASE + f"storage: {{{field}: '{url}'}}\n")
    assert_located(message, 5)
    assert "is not an http:// or https:// URL" in message


def test_http_and_https_urls_are_accepted() -> None:
    spec = load_spec_text(BASE + "storage: {public_base_url: 'HTTPS://cdn.example.com/m'}\n")
    assert spec.storage.public_base_url == "HTTPS://cdn.example.com/m"


# --- amplification ---------------------------------------------------------------------


def amplifier(images: int, repeats: int, value_chars: int) -> str:
    """A small spec whose prompts, once filled, are ``repeats × value_chars`` long."""
    ns = ", ".join(str(i) for i in range(images))
    return (
        f"name: amp\nmax_images: {images}\nimages:\n  - id: img-{{n}}\n"
        f"    prompt: '{'{w}' * repeats}'\n"
        f"    matrix: {{n: [{ns}], w: ['{'x' * value_chars}']}}\n"
    )


def test_prompt_length_is_checked_after_filling_without_expanding() -> None:
    text = amplifier(1000, 1000, 400)  # 6 KB of YAML asking for 400 MB of prompts
    tracemalloc.start()
    try:
        message = refusal(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_located(message, 5)
    assert "images[0].prompt: is too long once its {variables} are filled" in message
    assert "400000 characters, at most 4000: MEDIAGEN_MAX_PROMPT_CHARS" in message
    assert peak < 20_000_000, peak  # nothing of the 400 MB was built


def test_matrix_values_have_a_length_cap_and_a_setting() -> None:
    text = amplifier(2, 1, 600)
    message = refusal(text)
    assert "images[0].matrix.w[0]: is too long (600 characters, at most 500" in message
    spec = load_spec_text(text, "s.yaml", Limits(max_matrix_value_chars=600))
    wider = Settings(backend="offline", max_matrix_value_chars=600, _env_file=None)
    assert len(expand_spec(spec, wider)[0].subject) == 600


def test_id_length_is_checked_after_filling() -> None:
    text = "name: a\nimages:\n  - id: x-{v}\n    prompt: p {v}\n    matrix: {v: ['" + "y" * 200
    message = refusal(text + "']}\n")
    assert "images[0].id: is too long once its {variables} are filled" in message
    assert "MEDIAGEN_MAX_ID_CHARS" in message


def test_literal_braces_count_as_one_character() -> None:
    text = "name: a\nimages:\n  - id: x-{v}\n    prompt: '{{{v}}}'\n    matrix: {v: [ab]}\n"
    spec = load_spec_text(text, "s.yaml", Limits(max_prompt_chars=4))
    assert expand_spec(spec, SETTINGS)[0].subject == "{ab}"
    assert "at most 3" in refusal(text, Limits(max_prompt_chars=3))


def test_the_worker_can_lower_the_image_cap() -> None:
    text = amplifier(6, 1, 1)
    message = refusal(text, Limits(max_images=5))
    assert "expands to 6 images, more than this worker's cap of 5 (MEDIAGEN_MAX_IMAGES)" in message


def test_caps_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAGEN_MAX_PROMPT_CHARS", "3")
    with pytest.raises(SpecError, match="MEDIAGEN_MAX_PROMPT_CHARS"):
        load_spec_text(BASE.replace("prompt: p", "prompt: four"))
    monkeypatch.setenv("MEDIAGEN_MAX_PROMPT_CHARS", "4000")
    monkeypatch.setenv("MEDIAGEN_SPEC_MAX_BYTES", "20")
    with pytest.raises(SpecError, match="larger than 20 bytes"):
        load_spec_text(BASE)


def test_lists_copied_into_every_image_are_bounded() -> None:
    many = ", ".join(f"c{i}" for i in range(21))
    assert "at most 20" in refusal(BASE + f"defaults: {{constraints: [{many}]}}\n")
    keys = ", ".join(f"k{i}: v" for i in range(33))
    assert "at most 32" in refusal(BASE + f"defaults: {{metadata: {{{keys}}}}}\n")


# --- size and kind of input ------------------------------------------------------------


def test_a_spec_file_over_the_cap_is_refused_after_reading_at_most_cap_plus_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(BASE + "# " + "x" * 2000 + "\n")
    with pytest.raises(SpecError, match="larger than 1,000 bytes"):
        load_spec(path, Limits(spec_max_bytes=1000))
    assert load_spec(path, Limits(spec_max_bytes=3000)).name == "a"


def test_inline_specs_have_the_same_size_cap() -> None:
    data = {"name": "a", "images": [{"id": "x", "prompt": "p" * 3000}]}
    with pytest.raises(SpecError, match="larger than 1,000 bytes"):
        parse_spec(data, limits=Limits(spec_max_bytes=1000))
    with pytest.raises(SpecError, match="larger than 1,000 bytes"):
        load_spec_text("# " + "x" * 1000 + "\n" + BASE, "s.yaml", Limits(spec_max_bytes=1000))


def test_devices_fifos_and_folders_are_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "spec.fifo"
    os.mkfifo(fifo)  # nobody writes: opening it for reading would block forever
    for path, kind in [("/dev/zero", "a device"), (fifo, "a FIFO"), (tmp_path, "a folder")]:
        with pytest.raises(SpecError, match=f"is {kind}"):
            load_spec(path)
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    with pytest.raises(SpecError, match="is a device"):
        spec_from_any(str(link))


def test_a_missing_file_is_still_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_spec(tmp_path / "nope.yaml")


def test_bad_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"name: a\nimages: \xff\n")
    with pytest.raises(SpecError, match=r"s\.yaml:2:9: not UTF-8"):
        load_spec(path)


def test_the_api_batch_handler_refuses_an_amplifying_spec() -> None:
    from fastapi.testclient import TestClient

    from docs.examples import fastapi_app

    ns = list(range(100))
    spec = {"name": "amp", "max_images": 10000,
            "images": [{"id": "img-{n}", "prompt": "{w}" * 1000,
                        "matrix": {"n": ns, "w": ["x" * 400]}}]}  # fmt: skip
    with TestClient(fastapi_app.app) as http:
        answer = http.post("/batches", json={"spec": spec})
    assert answer.status_code == 422
    assert "is too long once its {variables} are filled" in answer.json()["detail"]
