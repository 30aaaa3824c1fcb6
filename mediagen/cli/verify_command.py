"""``mediagen verify FILE|URL...``: read each file's C2PA Content Credentials and check them.

One line per file: the verdict (``trusted``, ``valid``, ``invalid`` or ``unsigned``),
the signer, the digital source type (and model), the actions. ``valid`` means the
file is intact and its signature holds, by a certificate nobody here vouches for
(a self-signed chain gives that); ``--trust CA.pem`` names the anchors that make it
``trusted``. Exit 0 only when every file is valid (or trusted); 1 when one is not;
2 when one cannot be read. URLs: http(s) (bounded download), or any fsspec URL
(``s3://bucket/key`` with the usual AWS settings); ``--spec SPEC`` adds every file the
spec's manifest lists, read from the spec's own bucket with its credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mediagen.cli.console import console, say, user_errors
from mediagen.errors import ConfigurationError, MediagenError, SpecError

if TYPE_CHECKING:
    from mediagen.imaging.credentials_read import Verdict

MAX_BYTES = 256 * 2**20  # a published image is far smaller; a bound for a hostile URL
EXIT_INVALID, EXIT_UNREADABLE = 1, 2


def verify(
    targets: Annotated[
        list[str] | None, typer.Argument(metavar="FILE|URL...", help="Files or URLs.")
    ] = None,
    trust: Annotated[
        Path | None,
        typer.Option(
            help="PEM trust anchors (CA certificates): signers they vouch for are "
            "'trusted'; without, an intact file is 'valid'."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
    spec: Annotated[
        Path | None,
        typer.Option(help="Also every file the spec's manifest lists, read from its bucket."),
    ] = None,
) -> None:
    """Check the C2PA Content Credentials of files: valid, signer, source type, actions."""
    with user_errors():
        sources: dict[str, Callable[[], bytes]] = {t: partial(_read, t) for t in targets or []}
        if spec is not None:
            sources |= _published(spec)
        if not sources:
            raise SpecError("name a FILE or URL, or --spec SPEC (nothing to verify)")
        try:
            from mediagen.imaging.credentials_read import verify as read_credentials
        except ImportError:  # pragma: no cover - c2pa is in the `c2pa` and `all` extras
            raise ConfigurationError(
                "mediagen verify needs c2pa-python: pip install 'mediagen[c2pa]'"
            ) from None
        anchors = trust.read_bytes() if trust else None
    worst = 0
    for target, read in sources.items():
        try:
            data = read()
        except (OSError, ValueError, MediagenError) as exc:
            say(f"error: {target}: cannot read it ({type(exc).__name__}: {str(exc)[:160]})")
            worst = max(worst, EXIT_UNREADABLE)
            continue
        verdict = read_credentials(data, trust_anchors=anchors)
        if not verdict.valid:
            worst = max(worst, EXIT_INVALID)
        if as_json:
            print(json.dumps({"target": target, "valid": verdict.valid, **asdict(verdict)}))
            continue
        colour = {"trusted": "green", "valid": "green", "invalid": "red"}.get(
            verdict.state, "yellow"
        )
        console.print(f"[{colour}]{verdict.state}[/] {target}", highlight=False, soft_wrap=True)
        for line in _details(verdict, trusted_asked=anchors is not None):
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    if worst:
        raise typer.Exit(worst)


def _details(verdict: Verdict, trusted_asked: bool) -> list[str]:
    if verdict.state == "unsigned":
        return ["no C2PA manifest"]
    lines = []
    if verdict.signer:
        note = "" if verdict.state != "valid" else (
            " (not vouched for by --trust)" if trusted_asked else " (untrusted: no --trust given)"
        )  # fmt: skip
        lines.append(f"signer: {verdict.signer}, issued by {verdict.issuer} ({verdict.alg}){note}")
    if verdict.source_type:
        model = f" by {verdict.software_agent}" if verdict.software_agent else ""
        lines.append(f"source: {verdict.source_type}{model}")
    if verdict.actions:
        parent = " (parent ingredient with its own credentials)" if verdict.parent else ""
        lines.append(f"actions: {', '.join(verdict.actions)}{parent}")
    if verdict.claim_generator:
        lines.append(f"generator: {verdict.claim_generator}")
    if verdict.failures:
        lines.append(f"failures: {', '.join(verdict.failures)}")
    return lines


def _published(spec: Path) -> dict[str, Callable[[], bytes]]:
    """Every output the spec's manifest lists, by key, read from the spec's bucket."""
    from mediagen.cli.planning import ensure_bucket, load
    from mediagen.manifest.model import read_manifest
    from mediagen.manifest.prefix_owner import claim_of
    from mediagen.storage.bucket import Bucket

    job_spec = load(spec)
    bucket = Bucket(ensure_bucket(job_spec))
    claim = claim_of(job_spec)
    manifest = read_manifest(bucket, claim.prefix, claim.own)
    if manifest is None:
        raise SpecError(f"{spec}: no manifest in its bucket yet (run the spec first)")
    return {
        out.key: partial(bucket.get, out.key)
        for entry in manifest.images.values()
        for out in entry.outputs
    }


def _read(target: str) -> bytes:
    if target.startswith(("http://", "https://")):
        import httpx

        with httpx.stream("GET", target, timeout=30, follow_redirects=True) as answer:
            answer.raise_for_status()
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise ValueError(f"larger than {MAX_BYTES} bytes")
        return bytes(body)
    if "://" in target:
        import fsspec

        with fsspec.open(target, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES} bytes")
        return data  # type: ignore[no-any-return]
    return Path(target).read_bytes()


__all__ = ["verify"]
