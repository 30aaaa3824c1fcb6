"""Who signs published files with C2PA Content Credentials, from the settings.

``MEDIAGEN_C2PA_CERT`` (a PEM chain, signing certificate first), ``MEDIAGEN_C2PA_KEY``
(its PEM private key) and ``MEDIAGEN_C2PA_ALG`` (ES256 by default) make a signer;
``MEDIAGEN_C2PA_TSA_URL`` adds an RFC 3161 timestamp. For a key that never leaves a
KMS or HSM, ``MEDIAGEN_C2PA_SIGNER`` names a callable instead of the key: either a
name given to :func:`register_signer_callback` in this process, or ``module:attr``
(importable in every process: a Dask worker or a deployment's run resolves it too).
It gets the bytes to sign and returns the signature (for ECDSA, DER or raw r||s).
No certificate: nothing is signed and files carry XMP only, as before.

:class:`SignerConfig` is checked once (the chain parses, the key matches the signing
certificate and the algorithm) and holds no key: the key file is read only when a
native signer is made, once per thread. Its :class:`SigningIdentity` (the sha256
of the chain's certificates and the algorithm) enters each output's ``out_key``, so
a new certificate re-signs every file from the stored originals with no backend
call. Errors name the setting and the file, never the key's bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediagen import redaction
from mediagen.errors import ConfigurationError

if TYPE_CHECKING:
    import c2pa

    from mediagen.settings import Settings

SignCallback = Callable[[bytes], bytes]
ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "Ed25519")
_callbacks: dict[str, SignCallback] = {}
_callbacks_lock = threading.Lock()
_configs: dict[tuple[Any, ...], SignerConfig] = {}
_local = threading.local()


def register_signer_callback(name: str, sign: SignCallback) -> None:
    """Make ``sign`` (bytes to sign -> signature) available as ``MEDIAGEN_C2PA_SIGNER=name``.

    In-process only: for runs on other processes or machines, name it as
    ``module:attr`` instead, which every process can import."""
    with _callbacks_lock:
        _callbacks[name] = sign


@dataclass(frozen=True)
class SigningIdentity:
    """What a signature depends on: it enters ``out_key`` (never a key, never a path)."""

    chain_sha256: str  # sha256 over the DER of every certificate of the chain, in order
    alg: str
    subject: str  # the signing certificate's subject (RFC 4514), for the manifest and logs
    issuer: str
    self_signed_root: bool  # the chain ends in a root nobody but its maker trusts (likely)

    def key_part(self) -> dict[str, str]:
        return {"signer": self.chain_sha256, "alg": self.alg}


@dataclass(frozen=True)
class SignerConfig:
    """A checked signer: the chain, where the key is (or which callback signs), no key."""

    identity: SigningIdentity
    chain_pem: bytes = field(repr=False)
    key_path: Path | None
    callback: str | None
    tsa_url: str | None

    def signer(self) -> c2pa.Signer:
        """This thread's native signer (made once per thread: a signer is not shared)."""
        signers: dict[SignerConfig, Any] = _local.__dict__.setdefault("signers", {})
        made = signers.get(self)
        if made is None:
            made = signers[self] = self._make()
        return made

    def _make(self) -> c2pa.Signer:
        import c2pa

        alg = getattr(c2pa.C2paSigningAlg, self.identity.alg.upper())
        try:
            if self.callback is not None:
                sign = _resolve_callback(self.callback)
                return c2pa.Signer.from_callback(
                    sign, alg, self.chain_pem.decode("ascii"), self.tsa_url
                )
            assert self.key_path is not None
            key = self.key_path.read_bytes()
            _register_secret(key)
            info = c2pa.C2paSignerInfo(
                self.identity.alg.lower().encode(), self.chain_pem, key, self.tsa_url
            )
            return c2pa.Signer.from_info(info)
        except (OSError, c2pa.C2paError) as exc:
            # The library's text may quote what it was given: say what failed, not that.
            raise ConfigurationError(
                f"C2PA signer ({self.identity.alg}, {self.identity.subject}) could not be made: "
                f"{type(exc).__name__}"
            ) from None


def signer_from_settings(settings: Settings) -> SignerConfig | None:
    """The configured signer (checked, cached per files and settings), or ``None``."""
    if settings.c2pa_cert is None:
        if settings.c2pa_key is not None or settings.c2pa_signer is not None:
            raise ConfigurationError(
                "MEDIAGEN_C2PA_CERT: not set, but MEDIAGEN_C2PA_KEY or MEDIAGEN_C2PA_SIGNER is "
                "(a signature needs the certificate chain)"
            )
        return None
    cache_key = (
        _stat(settings.c2pa_cert),
        _stat(settings.c2pa_key) if settings.c2pa_key else None,
        settings.c2pa_alg,
        settings.c2pa_tsa_url,
        settings.c2pa_signer,
    )
    config = _configs.get(cache_key)
    if config is None:
        config = _configs[cache_key] = _load(settings)
    return config


def describe(settings: Settings) -> str:
    """One line for ``mediagen validate``: signing off, or who signs (checks the files)."""
    config = signer_from_settings(settings)
    if config is None:
        return "C2PA signing: off (MEDIAGEN_C2PA_CERT not set): files carry XMP provenance only"
    who = config.identity
    how = f"callback {config.callback}" if config.callback else "key file"
    trust = " (self-signed root: valid but untrusted by verifiers)" if who.self_signed_root else ""
    return f"C2PA signing: on, {who.alg} by {who.subject} via {how}{trust}"


def _stat(path: Path) -> tuple[str, int, int]:
    try:
        info = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), info.st_mtime_ns, info.st_size)


def _load(settings: Settings) -> SignerConfig:
    from cryptography import x509

    try:
        import c2pa  # noqa: F401  (checked now: a run must not fail at its first output)
    except ImportError:
        raise ConfigurationError(
            "MEDIAGEN_C2PA_CERT is set but c2pa-python is not installed: "
            "pip install 'mediagen[c2pa]'"
        ) from None
    cert_path = settings.c2pa_cert
    assert cert_path is not None
    try:
        pem = cert_path.read_bytes()
        chain = x509.load_pem_x509_certificates(pem)
    except OSError as exc:
        raise ConfigurationError(
            f"MEDIAGEN_C2PA_CERT: cannot read {cert_path}: {exc.strerror}"
        ) from None
    except ValueError:
        raise ConfigurationError(
            f"MEDIAGEN_C2PA_CERT: {cert_path} holds no PEM certificate chain"
        ) from None
    alg = settings.c2pa_alg
    leaf = chain[0]
    _check_alg(leaf.public_key(), alg, f"MEDIAGEN_C2PA_CERT ({cert_path})")
    if settings.c2pa_signer is None:
        if settings.c2pa_key is None:
            raise ConfigurationError(
                "MEDIAGEN_C2PA_KEY: not set (the private key of MEDIAGEN_C2PA_CERT, "
                "or MEDIAGEN_C2PA_SIGNER for a key in a KMS)"
            )
        _check_key(settings.c2pa_key, leaf)
    else:
        _resolve_callback(settings.c2pa_signer)
    digest = hashlib.sha256()
    for cert in chain:
        digest.update(cert.public_bytes(_der()))
    root = chain[-1]
    identity = SigningIdentity(
        chain_sha256=digest.hexdigest(),
        alg=alg,
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        self_signed_root=root.issuer == root.subject,
    )
    return SignerConfig(
        identity=identity,
        chain_pem=b"".join(c.public_bytes(_pem()) for c in chain),
        key_path=None if settings.c2pa_signer else settings.c2pa_key,
        callback=settings.c2pa_signer,
        tsa_url=settings.c2pa_tsa_url,
    )


def _register_secret(key_pem: bytes) -> None:
    """The key's text and its base64 body join the redaction registry: any error or log
    line that ever quoted them is scrubbed (mediagen.redaction)."""
    text = key_pem.decode("ascii", "replace")
    body = "".join(line for line in text.splitlines() if line and not line.startswith("-----"))
    redaction.register(text, text.strip(), body, *(line for line in text.splitlines()[1:-1]))


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def _pem() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


def _check_alg(public_key: Any, alg: str, where: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    curves = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
    if alg in curves:
        ok = isinstance(public_key, ec.EllipticCurvePublicKey) and (
            public_key.curve.name == curves[alg]
        )
    elif alg.startswith("PS"):
        ok = isinstance(public_key, rsa.RSAPublicKey)
    else:
        ok = isinstance(public_key, ed25519.Ed25519PublicKey)
    if not ok:
        kind = type(public_key).__name__.removeprefix("_").replace("PublicKey", " key")
        raise ConfigurationError(f"MEDIAGEN_C2PA_ALG: {alg} does not fit {where}'s {kind}")


def _check_key(path: Path, leaf: Any) -> None:
    from cryptography.hazmat.primitives.serialization import (
        PublicFormat,
        load_pem_private_key,
    )

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigurationError(f"MEDIAGEN_C2PA_KEY: cannot read {path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        # Never the library's text: it may quote the file.
        raise ConfigurationError(
            f"MEDIAGEN_C2PA_KEY: {path} is not an unencrypted PEM private key"
        ) from None
    spki = PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(_der(), spki) != leaf.public_key().public_bytes(_der(), spki):
        raise ConfigurationError(
            f"MEDIAGEN_C2PA_KEY: {path} is not the key of the signing certificate "
            "(the first certificate of MEDIAGEN_C2PA_CERT)"
        )


def _resolve_callback(name: str) -> SignCallback:
    with _callbacks_lock:
        registered = _callbacks.get(name)
    if registered is not None:
        return registered
    module, _, attr = name.partition(":")
    if not attr:
        raise ConfigurationError(
            f"MEDIAGEN_C2PA_SIGNER: {name!r} is neither registered "
            "(register_signer_callback) nor 'module:callable'"
        )
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"MEDIAGEN_C2PA_SIGNER: cannot load {name!r}: {type(exc).__name__}"
        ) from None
    if not callable(found):
        raise ConfigurationError(f"MEDIAGEN_C2PA_SIGNER: {name!r} is not callable")
    return found  # type: ignore[no-any-return]


__all__ = [
    "ALGORITHMS",
    "SignerConfig",
    "SigningIdentity",
    "describe",
    "register_signer_callback",
    "signer_from_settings",
]
