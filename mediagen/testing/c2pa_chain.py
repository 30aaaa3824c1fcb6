"""A throwaway C2PA certificate chain for tests and benchmarks: a CA and a signing certificate.

The signing certificate has what C2PA asks of one (C2PA 2.x, "X.509 certificates"; the
EKU list c2pa-rs checks, crypto/cose/valid_eku_oids.cfg): X.509 v3, not a CA,
``digitalSignature`` key usage (critical), an extended key usage from the allowed
list (here id-kp-emailProtection and id-kp-documentSigning), subject and authority
key identifiers, issued by a CA with ``keyCertSign``. Nobody trusts the CA, so files
signed with it verify as ``valid`` (intact, signer named), not ``trusted``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class Chain:
    cert: Path  # the PEM chain: signing certificate, then the CA
    key: Path  # the signing certificate's private key (PEM, PKCS#8)
    ca: Path  # the CA alone: a trust anchor for `mediagen verify --trust`
    private_key: Any  # for a callback signer
    subject: str


def _key(alg: str) -> Any:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg.startswith("PS"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def make_chain(folder: Path, alg: str = "ES256", name: str = "mediagen test signer") -> Chain:
    """Write a fresh CA + signing certificate + key under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mediagen tests"),
        ]
    )
    no_usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
    )
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
                **no_usage,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = _key(alg)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mediagen tests"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
                **no_usage,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Chain(
        cert=folder / f"{alg}-chain.pem",
        key=folder / f"{alg}-key.pem",
        ca=folder / f"{alg}-ca.pem",
        private_key=key,
        subject=subject.rfc4514_string(),
    )
    paths.cert.write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    paths.ca.write_bytes(ca.public_bytes(pem))
    paths.key.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def signer_env(chain: Chain, alg: str = "ES256") -> dict[str, str]:
    """The MEDIAGEN_C2PA_* settings that sign with ``chain``."""
    return {
        "MEDIAGEN_C2PA_CERT": str(chain.cert),
        "MEDIAGEN_C2PA_KEY": str(chain.key),
        "MEDIAGEN_C2PA_ALG": alg,
    }


__all__ = ["Chain", "make_chain", "signer_env"]
