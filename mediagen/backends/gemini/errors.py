"""Translate google-genai and HTTP transport errors into mediagen's errors.

=====================================  ===============================
what the API (or the network) said     mediagen error
=====================================  ===============================
429 RESOURCE_EXHAUSTED                 TransientError (+ retry_after)
408, 500, 502, 503, 504                TransientError (+ Retry-After)
timeout, connection refused/reset      TransientError
401, 403, 400 API_KEY_INVALID          AuthError (the run stops)
404 NOT_FOUND                          ModelUnavailableError
other 4xx (400 INVALID_ARGUMENT...)    PermanentError
=====================================  ===============================

The SDK neither retries nor reads ``RetryInfo``/``Retry-After``: the delay is
parsed here and honoured by :mod:`mediagen.backends.retry`. Messages are built
from the error's code, status and message only (never the request, whose
headers hold the key), and the key is scrubbed from them all the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from google.genai import errors as genai_errors

from mediagen.errors import (
    AuthError,
    BackendError,
    ModelUnavailableError,
    PermanentError,
    TransientError,
)

TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
AUTH_STATUS = {401, 403}
AUTH_REASONS = {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED"}


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(transient, other) transport error classes of httpx and httpx2 (the SDK uses either)."""
    transient: list[type[BaseException]] = []
    other: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        transient += [module.TimeoutException, module.NetworkError, module.RemoteProtocolError]
        other.append(module.TransportError)
    return tuple(transient), tuple(other)


TRANSIENT_TRANSPORT, OTHER_TRANSPORT = _transport_errors()


def translate(exc: BaseException, model: str, redact: Callable[[str], str]) -> BackendError | None:
    """The mediagen error for ``exc``, or None when it is not an API or transport error."""
    if isinstance(exc, genai_errors.APIError):
        return _api_error(exc, model, redact)
    if isinstance(exc, TRANSIENT_TRANSPORT):
        return TransientError(redact(f"Gemini {model}: {type(exc).__name__}: {exc}"))
    if isinstance(exc, OTHER_TRANSPORT):
        return PermanentError(
            redact(
                f"Gemini {model}: cannot reach the API ({type(exc).__name__}: {exc}); "
                "check MEDIAGEN_GEMINI_BASE_URL"
            )
        )
    return None


def _api_error(
    exc: genai_errors.APIError, model: str, redact: Callable[[str], str]
) -> BackendError:
    code = int(exc.code or 0)
    details = list(_details(exc.details))
    reason = next((d.get("reason", "") for d in details if _is(d, "ErrorInfo")), "")
    text = f"{code} {exc.status or ''}".strip() + f": {summarise_body(exc.message)}".rstrip(": ")
    if reason:
        text += f" [{reason}]"
    message = redact(f"Gemini {model}: {text}"[:500])
    if code in AUTH_STATUS or reason in AUTH_REASONS or _says_bad_key(exc.message):
        return AuthError(message)
    if code in TRANSIENT_STATUS:
        retry_after = _retry_delay(details)
        if retry_after is None:
            retry_after = _retry_after_header(exc.response)
        return TransientError(message, retry_after=retry_after)
    if code == 404:
        return ModelUnavailableError(message)
    return PermanentError(message)


MAX_MESSAGE = 300
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_SKIP = re.compile(r"<(script|style|head)[^>]*>.*?</\1>", re.I | re.S)


def summarise_body(message: object) -> str:
    """The message as is, or for an HTML or oversized body (a proxy's error page):
    its <title> and its first 200 characters of text, never the whole page."""
    text = str(message or "")
    looks_html = bool(re.search(r"<(!doctype|html|body|head|title)\b", text[:2000], re.I))
    if not looks_html and len(text) <= MAX_MESSAGE:
        return text
    title = ""
    if looks_html:
        found = _TITLE.search(text)
        title = " ".join(_TAG.sub(" ", found.group(1)).split()) if found else ""
        text = _TAG.sub(" ", _SKIP.sub(" ", text))
    body = " ".join(text.split())
    if title and body.startswith(title):
        body = body[len(title) :].lstrip()
    head = body[:200] + ("…" if len(body) > 200 else "")
    kind = "HTML error page" if looks_html else f"{len(str(message))}-character body"
    return f"{kind}" + (f" {title!r}" if title else "") + (f": {head}" if head else "")


def _says_bad_key(message: str | None) -> bool:
    return bool(message) and re.search(r"api key not valid|invalid api key", message or "", re.I)


def _details(body: Any) -> Iterable[dict[str, Any]]:
    """The ``error.details`` entries of a google.rpc error body."""
    if not isinstance(body, dict):
        return []
    error = body.get("error", body)
    items = error.get("details") if isinstance(error, dict) else None
    return [d for d in items if isinstance(d, dict)] if isinstance(items, list) else []


def _is(detail: dict[str, Any], kind: str) -> bool:
    return str(detail.get("@type", "")).endswith(f"google.rpc.{kind}")


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """``RetryInfo.retryDelay`` in seconds: "53s", "0.25s", or {seconds, nanos}."""
    for detail in details:
        if not _is(detail, "RetryInfo"):
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, str):
            found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", delay)
            if found:
                return float(found.group(1))
        elif isinstance(delay, dict):
            return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
    return None


def _retry_after_header(response: Any) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
