"""References at planning: bad files are located spec errors; hashes and roles key the image."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mediagen.backends import get_backend_class
from mediagen.errors import SpecError
from mediagen.plan import trust
from mediagen.plan.jobs import expand_spec
from mediagen.settings import get_settings
from mediagen.spec.models import load_spec, parse_spec
from mediagen.spec.references import MAX_REFERENCE_BYTES
from tests.support.references import write_png, write_spec


def spec_with(workspace: Path, references: str, model: str = "") -> Path:
    model_line = f"    model: {model}\n" if model else ""
    text = (
        "name: refs\nbackend: offline\nimages:\n  - id: a\n    prompt: a jar\n"
        f"{model_line}    references: {references}\n"
        "  - id: b\n    prompt: a pig\n"
    )
    return write_spec(workspace / "specs" / "refs.yaml", text)


def problems_of(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        expand_spec(load_spec(path), get_settings())
    return "\n".join(caught.value.problems)


def test_missing_not_an_image_and_too_large_are_named_by_file_line_field(
    workspace: Path,
) -> None:
    (workspace / "specs").mkdir()
    (workspace / "specs" / "notes.png").write_text("not a picture")
    (workspace / "specs" / "huge.png").write_bytes(b"\0" * (MAX_REFERENCE_BYTES + 1))
    path = spec_with(workspace, "[gone.png, notes.png, {file: huge.png}, {key: brand/x.png}]")
    found = problems_of(path)
    assert f"{path}:6:18: images[0].references[0]: gone.png: no such file" in found
    assert f"{path}:6:28: images[0].references[1]: notes.png: is not a usable image" in found
    assert f"{path}:6:39: images[0].references[2]: huge.png: " in found
    assert "a reference may be at most 7 MiB" in found
    assert "images[0].references[3]: key brand/x.png: no object 'brand/x.png'" in found


def test_more_references_than_the_model_takes_is_refused_naming_the_model(
    workspace: Path,
) -> None:
    for i in range(15):
        write_png(workspace / "specs" / f"r{i}.png", (i * 10, 0, 0))
    many = "[" + ", ".join(f"r{i}.png" for i in range(15)) + "]"
    found = problems_of(spec_with(workspace, many, model="gemini-3.1-flash-image"))
    assert (
        "images[0].references: 15 reference images; 'gemini-3.1-flash-image' takes at most 14"
        in found
    )


def test_validate_exits_2_with_the_location(workspace: Path) -> None:
    from tests.support.cli import mediagen

    spec_with(workspace, "[gone.png]")
    result = mediagen(workspace / "specs", "validate", "refs.yaml")
    assert result.returncode == 2, result.stdout + result.stderr
    said = result.stdout + result.stderr
    assert "refs.yaml:6:18: images[0].references[0]: gone.png: no such file" in said
    assert "Traceback" not in said


def test_content_and_role_key_the_image_not_the_files_name(workspace: Path) -> None:
    settings = get_settings()
    red = write_png(workspace / "specs" / "red.png", (200, 0, 0))
    path = spec_with(workspace, "[red.png]")
    first, untouched = expand_spec(load_spec(path), settings)
    assert first.request.references[0].sha256 and untouched.request.references == ()
    assert first.request.references[0].colors[0] == "#C80000"
    assert first.request.references[0].data == b""  # planned jobs carry no bytes

    red.rename(workspace / "specs" / "moved.png")
    moved, _ = expand_spec(load_spec(spec_with(workspace, "[moved.png]")), settings)
    assert moved.gen_key == first.gen_key  # same bytes elsewhere: nothing new to ask
    styled, _ = expand_spec(
        load_spec(spec_with(workspace, "[{file: moved.png, role: style}]")), settings
    )
    assert styled.gen_key != first.gen_key
    write_png(workspace / "specs" / "moved.png", (0, 200, 0))
    recoloured, again = expand_spec(load_spec(spec_with(workspace, "[moved.png]")), settings)
    assert recoloured.gen_key != first.gen_key and again.gen_key == untouched.gen_key


def test_each_reference_adds_its_input_tokens_to_the_estimate(workspace: Path) -> None:
    settings = get_settings()
    write_png(workspace / "specs" / "red.png", (200, 0, 0))
    job, _ = expand_spec(load_spec(spec_with(workspace, "[red.png]")), settings)
    gemini = get_backend_class("gemini")
    with_one = replace(job.request, model="gemini-3.1-flash-image")
    added = gemini.estimate_cost(with_one, settings) - gemini.estimate_cost(
        replace(with_one, references=()), settings
    )
    # 1,120 tokens at the default model's $0.50 per 1M input tokens, plus the label's words
    assert added == pytest.approx(1120 * 0.50 / 1e6, abs=2e-5)


def test_a_spec_from_someone_else_reads_no_worker_file(workspace: Path) -> None:
    inline = parse_spec(
        {"name": "x", "images": [{"id": "a", "prompt": "p", "references": ["/etc/passwd"]}]}
    )
    with pytest.raises(SpecError) as caught:
        trust.check_spec(inline, get_settings(), trusted=False)
    assert "bucket keys only" in "\n".join(caught.value.problems)
    write_png(workspace / "specs" / "red.png", (200, 0, 0))
    beside = load_spec(spec_with(workspace, "[red.png, {key: brand/logo.png}]"))
    trust.check_spec(beside, get_settings(), trusted=False)  # beside its file: fine
    escaping = load_spec(spec_with(workspace, "[../secret.png]"))
    with pytest.raises(SpecError):
        trust.check_spec(escaping, get_settings(), trusted=False)


def test_references_too_large_together_for_one_request_are_refused(workspace: Path) -> None:
    import os

    from PIL import Image

    (workspace / "specs").mkdir()
    for i in range(3):  # noise does not compress: ~5.2 MiB each, 15.6 MiB together
        Image.frombytes("RGB", (1400, 1300), os.urandom(1400 * 1300 * 3)).save(
            workspace / "specs" / f"n{i}.png", compress_level=1
        )
    found = problems_of(spec_with(workspace, "[n0.png, n1.png, n2.png]"))
    assert ":6:17: images[0].references: the references are 15." in found
    assert "a request carries at most 14 MiB" in found
