"""C2PA Content Credentials on outputs: signed in every format, read back with c2pa-python,
broken by a pixel change, chained to a signed original, and a signer that never leaks its key."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from mediagen._version import __version__
from mediagen.errors import ConfigurationError
from mediagen.imaging import c2pa_signer, credentials
from mediagen.imaging.codec import OutputSpec, Provenance, read_provenance
from mediagen.imaging.credentials_read import verify
from mediagen.imaging.renditions import PreparedImage
from mediagen.settings import Settings
from tests.support.c2pa_chain import Chain, make_chain

FORMATS = ("png", "jpeg", "webp", "avif")
PROMPT = "A teal piggy bank on a desk, soft light"


def _settings(chain: Chain, alg: str = "ES256", **extra: object) -> Settings:
    return Settings(_env_file=None, c2pa_cert=chain.cert, c2pa_key=chain.key, c2pa_alg=alg, **extra)


def _original(size: tuple[int, int] = (600, 400)) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.putpixel((5, 5), (200, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _render(fmt: str, original: bytes | None = None, ai: bool = False, prompt: str | None = None):
    prepared = PreparedImage(original or _original(), 300, 300)
    provenance = Provenance(
        digital_source_type="trainedAlgorithmicMedia" if ai else "algorithmicMedia",
        prompt=PROMPT,
        model="test-model-1",
        backend="offline",
        generator=f"mediagen {__version__}",
        image_id="hero",
    )
    image = prepared.render(OutputSpec(300, 300, fmt, 80), provenance, "alt")
    processing = credentials.processing_of(
        (prepared.image.width, prepared.image.height), prepared.box, (300, 300)
    )
    creds = credentials.Credentials(
        provenance.digital_source_type, "test-model-1", "offline", "hero", prompt
    )
    return image, creds, processing


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return make_chain(tmp_path_factory.mktemp("c2pa"), "ES256")


@pytest.fixture(scope="module")
def signer(chain: Chain) -> c2pa_signer.SignerConfig:
    config = c2pa_signer.signer_from_settings(_settings(chain))
    assert config is not None
    return config


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_signed_and_reads_back(fmt: str, signer, chain: Chain) -> None:
    image, creds, processing = _render(fmt)
    signed = credentials.sign(image, creds, processing, signer)
    verdict = verify(signed.data)
    assert verdict.state == "valid", verdict.failures  # intact; the test CA is trusted by no one
    assert verdict.signer == "mediagen test signer"
    assert verdict.claim_generator == f"mediagen {__version__}"
    assert verdict.actions == ("c2pa.created", "c2pa.cropped", "c2pa.resized", "c2pa.transcoded")
    assert verdict.source_type == "algorithmicMedia"
    assert verdict.software_agent == "test-model-1"
    # The pictures are the same, and the XMP is still there, inside the signed file.
    with Image.open(io.BytesIO(image.data)) as a, Image.open(io.BytesIO(signed.data)) as b:
        assert a.size == b.size == (300, 300)
        assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()
    assert read_provenance(signed.data)["digital_source_type"] == "algorithmicMedia"
    # The anchor makes it trusted: the chain is right, only the trust was missing.
    assert verify(signed.data, trust_anchors=chain.ca.read_bytes()).state == "trusted"


@pytest.mark.parametrize("alg", ["PS256", "Ed25519"])
def test_other_algorithms(alg: str, tmp_path: Path) -> None:
    config = c2pa_signer.signer_from_settings(_settings(make_chain(tmp_path, alg), alg))
    assert config is not None
    image, creds, processing = _render("jpeg", ai=True)
    verdict = verify(credentials.sign(image, creds, processing, config).data)
    assert verdict.valid and verdict.source_type == "trainedAlgorithmicMedia"
    assert verdict.alg is not None and verdict.alg.lower() == alg.lower()


def _png_with_pixel_changed(data: bytes) -> bytes:
    """Rewrite the PNG's pixel data (one byte of one row changed), keeping every other chunk."""
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    raw = bytearray(zlib.decompress(b"".join(d for t, d in chunks if t == b"IDAT")))
    raw[100] ^= 0xFF
    out, written = bytearray(data[:8]), False
    for kind, body in chunks:
        if kind == b"IDAT":
            if written:
                continue
            body, written = zlib.compress(bytes(raw)), True
        out += struct.pack(">I", len(body)) + kind + body
        out += struct.pack(">I", zlib.crc32(kind + body))
    return bytes(out)


def _flip_in_image_data(data: bytes, fmt: str) -> bytes:
    """One byte of the coded picture changed (the scan, the VP8 frame, the AV1 payload)."""
    marker = {"jpeg": b"\xff\xda", "webp": b"VP8", "avif": b"mdat"}[fmt]
    at = data.rindex(marker) if fmt == "jpeg" else data.index(marker)
    changed = bytearray(data)
    changed[at + 60] ^= 0x10
    return bytes(changed)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pixel_change_after_signing_fails(fmt: str, signer) -> None:
    image, creds, processing = _render(fmt)
    signed = credentials.sign(image, creds, processing, signer).data
    if fmt == "png":
        tampered = _png_with_pixel_changed(signed)
        with Image.open(io.BytesIO(signed)) as a, Image.open(io.BytesIO(tampered)) as b:
            assert a.convert("RGB").tobytes() != b.convert("RGB").tobytes()
    else:
        tampered = _flip_in_image_data(signed, fmt)
    verdict = verify(tampered)
    assert verdict.state == "invalid"
    assert any("mismatch" in code for code in verdict.failures), verdict.failures


def test_a_signed_original_is_kept_as_the_parent_ingredient(signer, tmp_path: Path) -> None:
    # The model's vendor signs what it returns: another chain, its own created action.
    vendor = c2pa_signer.signer_from_settings(_settings(make_chain(tmp_path, name="model vendor")))
    assert vendor is not None
    plain = _original()
    vendor_creds = credentials.Credentials("trainedAlgorithmicMedia", "vendor-image-3", "x", "")
    original = credentials.sign(
        credentials.ProcessedImage(plain, 600, 400, "png", "image/png", ""),
        vendor_creds,
        credentials.Processing(cropped=False, resized=False, transcoded=False),
        vendor,
    ).data
    parent = credentials.parent_of(original, "image/png")
    assert parent is not None
    assert credentials.parent_of(plain, "image/png") is None  # an unsigned original: no parent
    image, creds, processing = _render("webp", original=original, ai=True)
    verdict = verify(credentials.sign(image, creds, processing, signer, parent).data)
    assert verdict.valid, verdict.failures
    assert verdict.parent
    assert verdict.actions[0] == "c2pa.opened"  # C2PA: a file with a parent is not "created"
    assert "c2pa.transcoded" in verdict.actions
    # The source type and model come from the vendor's own credential, through the chain.
    assert (verdict.source_type, verdict.software_agent) == (
        "trainedAlgorithmicMedia",
        "vendor-image-3",
    )
    assert verdict.signer == "mediagen test signer"


def test_the_prompt_stays_out_unless_asked(signer) -> None:
    image, creds, processing = _render("png")
    without = credentials.definition(creds, processing, "image/png", parent=False)
    assert PROMPT not in repr(without)
    image, creds, processing = _render("png", prompt=PROMPT)
    signed = credentials.sign(image, creds, processing, signer)
    import c2pa

    with c2pa.Reader("image/png", io.BytesIO(signed.data)) as reader:
        assert PROMPT in reader.json()


def test_callback_signer_for_a_key_in_a_kms(chain: Chain) -> None:
    calls = []

    def kms_sign(data: bytes) -> bytes:
        calls.append(len(data))
        return chain.private_key.sign(data, ec.ECDSA(hashes.SHA256()))

    c2pa_signer.register_signer_callback("test-kms", kms_sign)
    config = c2pa_signer.signer_from_settings(
        Settings(_env_file=None, c2pa_cert=chain.cert, c2pa_signer="test-kms")
    )
    assert config is not None and config.key_path is None
    image, creds, processing = _render("jpeg")
    assert verify(credentials.sign(image, creds, processing, config).data).valid
    assert calls  # the KMS was asked to sign


def test_signing_identity_follows_the_certificate(chain: Chain, tmp_path: Path) -> None:
    one = c2pa_signer.signer_from_settings(_settings(chain))
    other = c2pa_signer.signer_from_settings(_settings(make_chain(tmp_path / "b")))
    assert one is not None and other is not None
    assert one.identity.chain_sha256 != other.identity.chain_sha256
    assert one.identity.subject == chain.subject
    assert one.identity.self_signed_root
    assert c2pa_signer.signer_from_settings(Settings(_env_file=None)) is None
    assert "off" in c2pa_signer.describe(Settings(_env_file=None))


def test_bad_signer_settings_name_the_variable_never_the_key(chain: Chain, tmp_path: Path) -> None:
    key_text = chain.key.read_text()
    other = make_chain(tmp_path, "ES256", name="someone else")
    cases = {
        "MEDIAGEN_C2PA_KEY": dict(c2pa_cert=chain.cert, c2pa_key=other.key),  # not its key
        "MEDIAGEN_C2PA_ALG": dict(c2pa_cert=chain.cert, c2pa_key=chain.key, c2pa_alg="PS256"),
        "MEDIAGEN_C2PA_CERT": dict(c2pa_cert=chain.key, c2pa_key=chain.key),  # a key, no cert
    }
    for variable, values in cases.items():
        with pytest.raises(ConfigurationError) as caught:
            c2pa_signer.signer_from_settings(Settings(_env_file=None, **values))
        message = str(caught.value)
        assert message.startswith(variable) or f" {variable}" in message, message
        assert key_text.splitlines()[1] not in message
    with pytest.raises(ConfigurationError, match="MEDIAGEN_C2PA_KEY: not set"):
        c2pa_signer.signer_from_settings(Settings(_env_file=None, c2pa_cert=chain.cert))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError) as caught:
        c2pa_signer.signer_from_settings(
            Settings(_env_file=None, c2pa_cert=chain.cert, c2pa_key=garbage)
        )
    assert "c2VjcmV0LWJ5dGVz" not in str(caught.value)
    assert "MEDIAGEN_C2PA_KEY" in str(caught.value)


def test_a_callback_named_module_colon_attr_loads_in_any_process(chain: Chain) -> None:
    # Importable by name, so a Dask worker or a deployment's run finds it too.
    config = c2pa_signer.signer_from_settings(
        Settings(_env_file=None, c2pa_cert=chain.cert, c2pa_signer="hmac:digest")
    )
    assert config is not None and config.callback == "hmac:digest"
    for bad in ("no_such_module_here:sign", "unregistered-name", "json:__doc__"):
        with pytest.raises(ConfigurationError, match="MEDIAGEN_C2PA_SIGNER"):
            c2pa_signer.signer_from_settings(
                Settings(_env_file=None, c2pa_cert=chain.cert, c2pa_signer=bad)
            )
