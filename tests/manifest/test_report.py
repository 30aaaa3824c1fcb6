"""One-line accounts of failed images, as the CLI prints them without -v."""

from __future__ import annotations

from types import SimpleNamespace

from mediagen.manifest.report import REASON_CHARS, failure_line, short_reason


def test_stage_and_message_without_the_exception_name() -> None:
    error = "generate: TransientError: Gemini m: 503 UNAVAILABLE: The model is overloaded."
    assert short_reason(error) == (
        "generate",
        "Gemini m: 503 UNAVAILABLE: The model is overloaded.",
    )
    entry = SimpleNamespace(id="hero", status="failed", error=error)
    assert failure_line(entry) == (
        "failed: hero (generate): Gemini m: 503 UNAVAILABLE: The model is overloaded."
    )


def test_long_and_multi_line_reasons_become_one_short_line() -> None:
    error = "upload: StorageError: " + "x" * 500 + "\nTraceback (most recent call last): ..."
    stage, reason = short_reason(error)
    assert stage == "upload" and len(reason) == REASON_CHARS and reason.endswith("…")
    assert "\n" not in failure_line(SimpleNamespace(id="a", status="failed", error=error))


def test_an_error_without_a_stage_is_kept_whole() -> None:
    assert short_reason("did not finish: Crashed") == ("", "did not finish: Crashed")
    assert (
        failure_line(SimpleNamespace(id="b", status="blocked", error=None)) == "blocked: b: blocked"
    )
