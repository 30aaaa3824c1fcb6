"""Scripted answers of the local Gemini server: faults, and the rules that apply them.

A :class:`Fault` is one answer (an error, a block, a text-only answer, a slow
or "thought" image, an HTML error page from a proxy); a :class:`Rule` applies
one to the next matching requests. See :mod:`mediagen.testing.gemini_server`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Fault:
    """One scripted answer. Build them with the class methods below."""

    kind: str  # error | block | finish | text | image | delay
    status: int = 200
    status_name: str = ""
    message: str = ""
    reason: str = ""
    retry_delay: float | None = None  # google.rpc.RetryInfo.retryDelay, seconds
    retry_after: float | None = None  # Retry-After header, seconds
    delay: float = 0.0  # seconds to wait before answering
    thought: bool = False  # mark the image part thought=True (Gemini 3 style)
    text_first: bool = False  # a text part before the image
    error_info_reason: str = ""  # google.rpc.ErrorInfo.reason
    html: bool = False  # an HTML error page (a proxy's), not a google.rpc JSON error
    data: bytes = b""  # the image bytes to answer with (default: a rendered picture)
    mime_type: str = "image/png"  # the inlineData.mimeType sent with ``data``
    usage: dict[str, Any] | None = None  # usageMetadata to send instead of the real one

    @classmethod
    def rate_limited(
        cls, retry_delay: float | None = 1.0, *, retry_after: float | None = None
    ) -> Fault:
        """429 RESOURCE_EXHAUSTED, with RetryInfo.retryDelay and/or a Retry-After header."""
        return cls(
            "error",
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
            retry_delay=retry_delay,
            retry_after=retry_after,
        )

    @classmethod
    def server_error(cls, status: int = 500, *, retry_after: float | None = None) -> Fault:
        """500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED..."""
        message = {503: "The model is overloaded. Please try again later."}.get(
            status, "An internal error has occurred."
        )
        return cls(
            "error", status, _STATUS_NAMES.get(status, "UNKNOWN"), message, retry_after=retry_after
        )

    @classmethod
    def error(cls, status: int, message: str = "", status_name: str = "") -> Fault:
        """Any google.rpc error answer (400 bad request, 404 model not found, ...)."""
        return cls(
            "error",
            status,
            status_name or _STATUS_NAMES.get(status, "UNKNOWN"),
            message or f"scripted error {status}",
        )

    @classmethod
    def model_not_found(cls) -> Fault:
        return cls.error(404, "models/x is not found for API version v1beta.", "NOT_FOUND")

    @classmethod
    def bad_key(cls, status: int = 400) -> Fault:
        """The answer to a wrong key: the real API says 400 with reason API_KEY_INVALID."""
        if status == 400:
            return cls(
                "error",
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                error_info_reason="API_KEY_INVALID",
            )
        return cls.error(status, "The caller does not have permission.")

    @classmethod
    def html_error(cls, status: int = 502, title: str = "502 Bad Gateway") -> Fault:
        """An HTML error page, as a proxy or load balancer in front of the API sends."""
        return cls("error", status, "", title, html=True)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, after ``seconds`` (longer than the client's timeout: a timeout)."""
        return cls("delay", delay=seconds)

    @classmethod
    def prompt_blocked(cls, reason: str = "PROHIBITED_CONTENT", message: str = "") -> Fault:
        """``promptFeedback.blockReason`` and no candidates."""
        return cls("block", reason=reason, message=message)

    @classmethod
    def finish(cls, reason: str = "IMAGE_SAFETY", message: str = "") -> Fault:
        """A candidate with this finishReason (and finishMessage) and no image part."""
        return cls("finish", reason=reason, message=message)

    @classmethod
    def text_only(cls, text: str = "I can't draw that, but here is a description.") -> Fault:
        """A text part and no image, finishReason STOP."""
        return cls("text", message=text)

    @classmethod
    def image_bytes(
        cls, data: bytes, mime_type: str = "image/png", *, usage: dict[str, Any] | None = None
    ) -> Fault:
        """An answer carrying exactly ``data`` as its image (hostile or broken answers)."""
        return cls("image", data=data, mime_type=mime_type, usage=usage)

    @classmethod
    def with_usage(cls, usage: dict[str, Any]) -> Fault:
        """A normal image, with this ``usageMetadata`` (e.g. ``{"totalTokenCount": 1e999}``)."""
        return cls("image", usage=usage)

    @classmethod
    def thought_image(cls, *, text_first: bool = True) -> Fault:
        """The image part marked ``thought: true``, after a text part (Gemini 3 style)."""
        return cls("image", thought=True, text_first=text_first)


@dataclass
class Rule:
    """A fault applied to the next matching requests (``times=None``: every one)."""

    fault: Fault
    times: int | None = 1
    model: str | None = None
    match: str | None = None  # substring of the prompt
    modality: str | None = None  # "image" or "text" requests only (None: both)

    def matches(self, model: str, prompt: str, modality: str = "image") -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.model is not None and self.model != model:
            return False
        if self.modality is not None and self.modality != modality:
            return False
        return self.match is None or self.match in prompt


def error_answer(fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    details: list[dict[str, Any]] = []
    if fault.retry_delay is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{fault.retry_delay:g}s",
            }
        )
    if fault.error_info_reason:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": fault.error_info_reason,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        )
    error: dict[str, Any] = {
        "code": fault.status,
        "message": fault.message,
        "status": fault.status_name,
    }
    if details:
        error["details"] = details
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    return fault.status, {"error": error}, headers


def html_page(fault: Fault) -> bytes:
    """A large HTML error page (over 2 kB), like the ones load balancers send."""
    filler = "<p>" + "The server encountered a temporary error. " * 60 + "</p>"
    return (
        f"<!DOCTYPE html><html><head><title>{fault.message}</title>"
        "<style>body{font-family:sans-serif}</style></head>"
        f"<body><h1>{fault.message}</h1>{filler}</body></html>"
    ).encode()
