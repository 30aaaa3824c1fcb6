"""Redaction and short reasons: secrets, memory addresses and HTML pages never become a
recorded reason, and translated errors carry no secret anywhere in their chain."""

from __future__ import annotations

from typing import Any

import pytest

from mediagen import redaction
from mediagen.errors import ProcessingError, StorageError, TransientError
from mediagen.reasons import HTML_TEXT_CHARS, MAX_REASON_CHARS, short_reason
from mediagen.testing import FakeGeminiServer, Fault
from mediagen.testing.s3 import FaultSchedule, s3_error
from tests.support.gemini import TEST_KEY
from tests.support.s3 import AWS_KEY, AWS_SECRET, s3_storage

ECHO = f"The model is overloaded. Request was: POST ...?key={TEST_KEY} (x-goog-api-key: {TEST_KEY})"


def test_translated_errors_carry_no_secret_anywhere_in_their_chain(
    gemini_env: FakeGeminiServer, s3: Any
) -> None:
    """Whatever walks the chain (cause, context, args, attributes) finds no secret."""
    from mediagen.backends.gemini.backend import GeminiBackend
    from mediagen.settings import get_settings
    from mediagen.spec.storage_target import StorageTarget
    from mediagen.storage.bucket import Bucket, BucketConfig
    from tests.support.gemini import make_request

    gemini_env.script(Fault.error(503, ECHO), times=None)
    backend = GeminiBackend(get_settings())
    try:
        with pytest.raises(TransientError) as caught:
            backend.generate(make_request())
    finally:
        backend.close()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert not redaction.leaks(caught.value)

    s3.faults = FaultSchedule(
        rate=1.0, kinds=[s3_error(503, "SlowDown", f"{AWS_KEY}/{AWS_SECRET}")],
        max_in_a_row=None,
    )  # fmt: skip
    target = StorageTarget(**s3_storage(s3.endpoint_url))
    bucket = Bucket(BucketConfig.from_target(target, get_settings()))
    with pytest.raises(StorageError) as stored:
        bucket.put("x/y.bin", b"data")
    assert not redaction.leaks(stored.value)
    assert AWS_SECRET not in str(stored.value) and AWS_KEY not in str(stored.value)


def test_a_pillow_error_loses_its_memory_address() -> None:
    import io

    from PIL import Image, UnidentifiedImageError

    with pytest.raises(UnidentifiedImageError) as caught:
        Image.open(io.BytesIO(b"not an image"))
    assert " at 0x" in str(caught.value)  # what Pillow says
    error = ProcessingError(f"cannot decode the image (12 bytes): {caught.value}")
    reason = short_reason(error)
    assert "0x" not in reason and reason.endswith("<_io.BytesIO>")
    assert reason.startswith("ProcessingError: cannot decode the image")


def test_an_html_page_becomes_status_title_and_the_start_of_its_text() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{x:1}</style>"
        "</head><body><h1>Bad Gateway</h1><p>"
        + "The upstream server failed. " * 40
        + "</p><script>var secret=1;</script></body></html>"
    )

    class GatewayError(Exception):
        status_code = 502

    reason = short_reason(GatewayError(f"Gemini m: {page}"))
    assert reason.startswith("GatewayError: Gemini m: HTTP 502: HTML page '502 Bad Gateway': ")
    assert "<" not in reason and "var secret" not in reason and "x:1" not in reason
    text = reason.split("'502 Bad Gateway': ", 1)[1]
    assert text.startswith("Bad Gateway The upstream server failed.")  # no <head> text
    assert len(text) == HTML_TEXT_CHARS + 1  # the cut is marked with an ellipsis


def test_reasons_are_one_short_line_without_secrets() -> None:
    redaction.register(TEST_KEY)
    reason = short_reason(TransientError(f"echo {TEST_KEY}\n" + "x" * 2000))
    assert TEST_KEY not in reason and "***" in reason
    assert "\n" not in reason and len(reason) == MAX_REASON_CHARS
    assert short_reason("plain words") == "plain words"


def test_a_gateways_html_page_is_summarised_in_the_manifest_and_gallery(
    gemini_env: FakeGeminiServer, workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.local_run import run_locally

    monkeypatch.setenv("MEDIAGEN_GEMINI_MAX_ATTEMPTS", "1")
    page = (
        "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        "</h1></center><hr><center>nginx</center>" + "<!-- padding -->" * 200 + "</body></html>"
    )
    gemini_env.script(Fault.error(502, page))
    spec = {"name": "html", "backend": "gemini",
            "images": [{"id": "one", "prompt": "a coin", "size": "thumbnail"}]}  # fmt: skip
    entry = run_locally(spec).images["one"]
    assert entry.status == "failed"
    error = entry.error or ""
    # Summarised at the Gemini boundary (status, title, first words), never the page itself.
    assert "page '502 Bad Gateway'" in error and "nginx" in error and "<" not in error
    assert "<" not in error and len(error) <= MAX_REASON_CHARS
    gallery = (workspace / "bucket/html/index.html").read_text()
    assert "page &#x27;502 Bad Gateway&#x27;" in gallery or "page '502" in gallery
    assert "&lt;center" not in gallery and "&lt;!--" not in gallery
