"""Test doubles users can run too: a local Gemini API server with scripted faults,
and (in ``mediagen.testing.s3``, needs the ``dev`` extra) an S3 server with fault injection.

    from mediagen.testing import FakeGeminiServer, Fault

    with FakeGeminiServer(api_key="dummy") as gemini:
        gemini.script(Fault.rate_limited(retry_delay=0.5), times=2)
        # MEDIAGEN_GEMINI_BASE_URL=gemini.base_url GEMINI_API_KEY=dummy mediagen run spec.yaml

Run it from a shell with ``python -m mediagen.testing [--key KEY]`` (prints its base URL).
"""

from mediagen.testing.gemini_server import FakeGeminiServer, Fault, RecordedRequest, Rule

__all__ = ["FakeGeminiServer", "Fault", "RecordedRequest", "Rule"]
