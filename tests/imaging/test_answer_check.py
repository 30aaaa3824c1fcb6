"""Backend answers are checked before they become the cached original.

Every case goes through the real google-genai SDK to the local Gemini server,
which answers with the hostile bytes; requests are counted on the server.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from mediagen.testing import FakeGeminiServer, Fault
from tests.support import hostile_images as hostile
from tests.support.local_run import run_locally

SPEC: dict[str, Any] = {
    "name": "answers",
    "backend": "gemini",
    "images": [{"id": "one", "prompt": "a jar of coins", "size": "thumbnail"}],
}

CASES = {
    "truncated png": (hostile.truncated_png(), "image/png", "does not decode"),
    "random bytes": (bytes(range(256)) * 64, "image/png", "not a readable image"),
    "svg": (hostile.SVG, "image/svg+xml", "markup"),
    "40000x40000 png": (hostile.png(40000, 40000, idat=False), "image/png", "Pillow's limit"),
    "169 Mpx png": (hostile.png(13000, 13000), "image/png", "13000x13000 (169.0 Mpx), over"),
    "text-chunk bomb": (hostile.text_chunk_bomb(), "image/png", "MAX_TEXT_CHUNK"),
}


def originals(workspace: Path) -> list[Path]:
    """The stored originals (not their sidecars)."""
    found = (workspace / "bucket").rglob("_originals/*")
    return [p for p in found if p.is_file() and p.suffix != ".json"]


@pytest.mark.parametrize("case", CASES)
def test_a_bad_answer_is_never_cached_and_the_next_run_asks_again(
    case: str, gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    data, mime, why = CASES[case]
    gemini_env.script(Fault.image_bytes(data, mime))
    first = run_locally(SPEC).images["one"]
    assert first.status == "failed"
    assert first.error.startswith("generate: BadAnswerError: ") and why in first.error
    assert len(first.error) < 300 and " at 0x" not in first.error
    assert originals(workspace) == []  # nothing cached
    assert not any((workspace / "work").iterdir())  # nothing kept in scratch either

    second = run_locally(SPEC).images["one"]
    assert second.status == "ok"
    assert len(gemini_env.image_requests) == 2  # the second run asked again


def test_an_answer_over_the_byte_cap_is_refused(
    gemini_env: FakeGeminiServer, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same path as a 200 MB answer, at a size a test can afford: cap 1 MiB, answer 3.
    monkeypatch.setenv("MEDIAGEN_MAX_ANSWER_BYTES", str(2**20))
    big = hostile.real_png() + bytes(3 * 2**20)  # a PNG with 3 MiB of trailing junk
    gemini_env.script(Fault.image_bytes(big))
    entry = run_locally(SPEC).images["one"]
    assert entry.status == "failed" and "over the 1.0 MiB cap" in entry.error
    assert originals(workspace) == []
    assert run_locally(SPEC).images["one"].status == "ok"
    assert len(gemini_env.image_requests) == 2


@pytest.mark.parametrize("garbage", ["truncated png", "169 Mpx png"])
def test_a_garbage_original_stored_by_an_older_version_is_not_reused_forever(
    garbage: str, gemini_env: FakeGeminiServer, workspace: Path
) -> None:
    assert run_locally(SPEC).images["one"].status == "ok"
    [original] = originals(workspace)
    # What an older version cached unchecked, for an image the manifest does not list as ok.
    original.write_bytes(CASES[garbage][0])
    (workspace / "bucket/answers/manifest.json").unlink()

    again = run_locally(SPEC).images["one"]
    assert again.status == "failed" and "stored original is unusable" in again.error
    (workspace / "bucket/answers/manifest.json").unlink()
    assert len(gemini_env.image_requests) == 1  # reused (the old behaviour), then removed
    assert originals(workspace) == []

    assert run_locally(SPEC).images["one"].status == "ok"
    assert len(gemini_env.image_requests) == 2  # asked again, once


def test_infinite_usage_numbers_keep_the_image(gemini_env: FakeGeminiServer) -> None:
    inf = math.inf
    usage = {
        "promptTokenCount": inf,
        "candidatesTokenCount": -inf,
        "totalTokenCount": math.nan,
        "thoughtsTokenCount": "12",
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1e300}],
    }
    gemini_env.script(Fault.with_usage(usage))
    entry = run_locally(SPEC).images["one"]
    assert entry.status == "ok", entry.error
    assert entry.usage == {"thoughts_tokens": 12}  # the nonsense numbers are dropped
    assert math.isfinite(entry.cost_usd)
    assert "Infinity" in json.dumps(usage)  # what the server sent really was Infinity


def test_the_check_decodes_only_after_the_header_passes() -> None:
    from mediagen.errors import BadAnswerError
    from mediagen.imaging import answer_check

    with pytest.raises(BadAnswerError, match=r"over the 50\.0 Mpx cap"):
        answer_check.inspect(hostile.png(13000, 13000))
    checked = answer_check.check_answer(hostile.real_png(32))
    assert (checked.width, checked.height, checked.mime_type) == (32, 32, "image/png")
    with pytest.raises(BadAnswerError, match="markup"):
        answer_check.inspect(b"  \n" + hostile.SVG)


def test_a_broken_sidecar_means_asking_again(gemini_env: FakeGeminiServer, workspace: Path) -> None:
    assert run_locally(SPEC).images["one"].status == "ok"
    [sidecar] = (workspace / "bucket").rglob("_originals/*.json")
    sidecar.write_text("<html>not the sidecar</html>")
    (workspace / "bucket/answers/manifest.json").unlink()

    assert run_locally(SPEC).images["one"].status == "ok"
    assert len(gemini_env.image_requests) == 2
    assert json.loads(sidecar.read_text())["mime_type"] == "image/png"
