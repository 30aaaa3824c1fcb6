"""Turn a backend's original bytes into one exact output file.

Decode, apply the EXIF orientation, convert to sRGB, centre-crop to the target
aspect ratio, resize with LANCZOS to exactly width x height, and encode as PNG,
JPEG, WebP or AVIF. All source metadata (EXIF, GPS, ICC, text chunks) is dropped;
the only metadata written is one XMP packet recording provenance.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import asdict, dataclass
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from PIL import ExifTags, Image, ImageCms, ImageOps, PngImagePlugin

from mediagen.errors import ProcessingError, SpecError
from mediagen.imaging.crops import Box, cover_box
from mediagen.spec.formats import CONTENT_TYPES, FORMATS  # the one table
from mediagen.spec.formats import EXTENSIONS as EXTENSIONS  # re-exported for engine, client
from mediagen.spec.vocabulary import MAX_SIDE

DIGITAL_SOURCE_TYPE_URI = "http://cv.iptc.org/newscodes/digitalsourcetype/"
PNG_XMP_KEYWORD = "XML:com.adobe.xmp"
# Measured on 1024x1024: zlib level 6 is ~4x slower than 3 on photos for ~10% less size.
PNG_COMPRESS_LEVEL = 3
WEBP_METHOD = 4  # libwebp's default; 6 is ~1.5x slower for ~1% less size
AVIF_SPEED = 8  # 6 is ~3x slower; 9+ makes files much larger
# A JPEG segment holds at most ~64 KB of XMP: the prompt is written twice (dc and
# IPTC) at up to 24 KB each; the other fields are clipped at 2 KB each.
_LIMITS = {"prompt": 24_000}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "mediagen": "urn:mediagen:xmp:1.0:",
}
# IPTC Photo Metadata 2021.1 alt text; its namespace is declared only when used, so
# files without alt text stay byte-identical to earlier versions.
_ALT_NS = ("Iptc4xmpCore", "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/")
_ALT_TAG = f"{{{_ALT_NS[1]}}}AltTextAccessibility"
# (Provenance field, XMP prefix, XMP property). The last two are IPTC 2025.1's AI
# properties: written for AI output only, never for the offline renderer.
_FIELDS = [
    ("digital_source_type", "Iptc4xmpExt", "DigitalSourceType"),
    ("prompt", "dc", "description"),
    ("model", "mediagen", "model"),
    ("backend", "mediagen", "backend"),
    ("generator", "xmp", "CreatorTool"),
    ("image_id", "mediagen", "imageId"),
    ("model", "Iptc4xmpExt", "AISystemUsed"),
    ("prompt", "Iptc4xmpExt", "AIPromptInformation"),
]
_CORE_FIELDS = _FIELDS[:6]
_XMP_PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="{rdf}">
  <rdf:Description rdf:about=""{namespaces}>
   {props}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="r"?>"""
# Characters XML 1.0 cannot carry at all (control characters, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class OutputSpec:
    """The exact file to produce."""

    width: int
    height: int
    format: str  # one of FORMATS
    quality: int  # encoder quality 1-100 (PNG is lossless and ignores it)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise SpecError(f"format {self.format!r} is not one of {', '.join(FORMATS)}")
        if not (1 <= self.width <= MAX_SIDE and 1 <= self.height <= MAX_SIDE):
            raise SpecError(f"size {self.width}x{self.height} is outside 1..{MAX_SIDE} px")
        if not 1 <= self.quality <= 100:
            raise SpecError(f"quality {self.quality} is outside 1..100")


@dataclass(frozen=True)
class Provenance:
    """What made an image; written into every output as XMP."""

    digital_source_type: str  # "trainedAlgorithmicMedia" (AI) or "algorithmicMedia" (offline)
    prompt: str
    model: str
    backend: str
    generator: str  # the software, e.g. "mediagen 0.1.0"
    image_id: str = ""


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    width: int
    height: int
    format: str
    content_type: str
    sha256: str  # hex digest of ``data``


def digital_source_type(ai_generated: bool) -> str:
    """The IPTC digital source type code for a backend's result."""
    return "trainedAlgorithmicMedia" if ai_generated else "algorithmicMedia"


def decode_original(data: bytes, width: int, height: int) -> Image.Image:
    """Decode, orient and convert to sRGB, once for every output of an image.

    ``width`` x ``height`` is the largest output: a JPEG is decoded at the smallest
    DCT scale that still covers it. The caller closes the image.
    """
    image = _decode(data, width, height)
    try:
        return _swap(image, _to_srgb(image))
    except BaseException:
        image.close()
        raise


def render_output(
    image: Image.Image,
    output: OutputSpec,
    provenance: Provenance,
    box: Box | None = None,
    alt_text: str = "",
) -> ProcessedImage:
    """Cover-crop ``image`` (to ``box``, else centred) to exactly ``output``, and encode it.

    ``image`` comes from :func:`decode_original` and is left open for the next output.
    ``alt_text``, when given, goes into the XMP beside the provenance.
    """
    resized = _cover(image, output.width, output.height, box)
    final = _final_mode(resized, output.format)
    try:
        data = _encode(final, output, build_xmp(provenance, alt_text))
    finally:
        for made in {id(resized): resized, id(final): final}.values():
            if made is not image:
                made.close()
    fmt, digest = output.format, hashlib.sha256(data).hexdigest()
    return ProcessedImage(data, output.width, output.height, fmt, CONTENT_TYPES[fmt], digest)


def build_xmp(provenance: Provenance, alt_text: str = "") -> str:
    """A well-formed XMP packet (RDF/XML) recording ``provenance`` (and the alt text)."""
    values = {k: _xml_text(v, _LIMITS.get(k, 2_000)) for k, v in asdict(provenance).items()}
    values["digital_source_type"] = DIGITAL_SOURCE_TYPE_URI + values["digital_source_type"]
    ai = provenance.digital_source_type.lower().endswith("trainedalgorithmicmedia")
    props = []
    for key, prefix, local in _FIELDS if ai else _CORE_FIELDS:
        text = values[key]
        if local == "description":  # dc:description is a language alternative
            text = f'<rdf:Alt><rdf:li xml:lang="x-default">{text}</rdf:li></rdf:Alt>'
        props.append(f"<{prefix}:{local}>{text}</{prefix}:{local}>")
    if alt_text:  # a language alternative, like dc:description
        alt = _xml_text(alt_text, 2_000)
        props.append(
            f"<{_ALT_NS[0]}:AltTextAccessibility><rdf:Alt>"
            f'<rdf:li xml:lang="x-default">{alt}</rdf:li>'
            f"</rdf:Alt></{_ALT_NS[0]}:AltTextAccessibility>"
        )
    declared = {**_NS, _ALT_NS[0]: _ALT_NS[1]} if alt_text else _NS
    namespaces = "".join(f'\n    xmlns:{k}="{v}"' for k, v in declared.items() if k != "rdf")
    return _XMP_PACKET.format(rdf=_NS["rdf"], namespaces=namespaces, props="\n   ".join(props))


def read_xmp(data: bytes) -> str:
    """The XMP packet text found in an encoded file ("" if none)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            raw = image.info.get("xmp") or image.info.get(PNG_XMP_KEYWORD) or b""
    except Exception:  # Pillow cannot open it: the byte scan below may still find XMP
        raw = b""
    if not raw:
        start, end = data.find(b"<?xpacket begin"), data.find(b"<?xpacket end")
        close = data.find(b"?>", end)
        raw = data[start : close + 2] if -1 < start < end < close else b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip("\x00 \t\r\n")


def read_provenance(data: bytes) -> dict[str, str]:
    """Our provenance fields from an encoded file's XMP ({} if there is none)."""
    try:
        root = ElementTree.fromstring(read_xmp(data) or "<none/>")
    except ElementTree.ParseError:
        return {}
    found: dict[str, str] = {}
    for key, prefix, local in _CORE_FIELDS:
        tag = f"{{{_NS[prefix]}}}{local}"
        element = root.find(f".//{tag}")
        if element is not None:
            alt = element.find(".//rdf:li", _NS)  # dc:description is a language alternative
            found[key] = "".join((element if alt is None else alt).itertext())
        for description in root.iterfind(".//rdf:Description", _NS):
            if tag in description.attrib:  # other tools write simple values as attributes
                found[key] = description.attrib[tag]
    if source := found.get("digital_source_type"):
        found["digital_source_type"] = source.removeprefix(DIGITAL_SOURCE_TYPE_URI)
    return found


def read_alt_text(data: bytes) -> str:
    """The IPTC alt text (Iptc4xmpCore:AltTextAccessibility) in a file's XMP ("" if none)."""
    try:
        root = ElementTree.fromstring(read_xmp(data) or "<none/>")
    except ElementTree.ParseError:
        return ""
    alt = root.find(f".//{_ALT_TAG}")
    if alt is None:
        return ""
    item = alt.find(".//rdf:li", _NS)
    return "".join((alt if item is None else item).itertext())


def _xml_text(value: str, limit: int) -> str:
    """Escape for XML element content, clipped to ``limit`` bytes (JPEG's XMP cap)."""
    # \r would be read back as \n by XML parsers unless written as a reference.
    text = escape(_NOT_XML.sub("", value), {"\r": "&#13;"})
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    cut = encoded[:limit].decode("utf-8", "ignore")
    amp = cut.rfind("&")  # never split an entity such as &amp;
    return (cut[:amp] if amp > cut.rfind(";") else cut) + "…"


def _quarter_turned(image: Image.Image) -> bool:
    """Whether EXIF orientation 5-8 turns it 90°; header EXIF only, as getexif() may decode."""
    exif = Image.Exif()
    exif.load(image.info.get("exif") or b"")
    return exif.get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)


def _swap(old: Image.Image, new: Image.Image) -> Image.Image:
    # Close each replaced image at once: only one full-size image stays alive.
    if new is not old:
        old.close()
    return new


def _decode(data: bytes, width: int, height: int) -> Image.Image:
    """Open, load (JPEG at a reduced DCT scale when that is free) and orient."""
    image = None
    try:
        image = Image.open(io.BytesIO(data))
        if image.format == "JPEG":
            src_w, src_h = image.size
            if _quarter_turned(image):
                width, height = height, width
            # Stay at least as large as the cover-scaled source so no detail is lost.
            scale = max(width / src_w, height / src_h)
            image.draft(None, (max(1, math.ceil(src_w * scale)), max(1, math.ceil(src_h * scale))))
        image.load()
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except Exception as exc:  # any failure on untrusted bytes means "not an image"
        if image is not None:
            image.close()
        raise ProcessingError(f"cannot decode the image ({len(data)} bytes): {exc}") from exc


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB(A) in sRGB and ``info`` emptied. No ICC is written: browsers assume sRGB."""
    mode = "RGBA" if image.has_transparency_data else "RGB"
    converted = None
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):  # the modes LittleCMS takes
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if "sRGB" not in ImageCms.getProfileDescription(profile):
                converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken or unusual profile: treat the pixels as sRGB
    if converted is None and image.mode.startswith("I;16"):  # convert() clips it to white
        with image.convert("I") as wide, wide.point(lambda v: v / 256) as narrow:
            converted = narrow.convert("L").convert(mode)
    if converted is None:
        converted = image if image.mode == mode else image.convert(mode)
    converted.info = {}  # drop EXIF, ICC, text, dpi... so no encoder copies them
    return converted


def _cover(image: Image.Image, width: int, height: int, box: Box | None = None) -> Image.Image:
    """Resize ``box`` (default: the largest centred region of the target's aspect) to size."""
    if image.size == (width, height):
        return image
    if box is None:
        box = cover_box(image.width, image.height, width, height)
    # reducing_gap: a cheap box reduce first, then LANCZOS; visually the same result.
    return image.resize((width, height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def _final_mode(image: Image.Image, fmt: str) -> Image.Image:
    """RGBA only when the alpha matters and the format has it; else RGB."""
    if image.mode != "RGBA" or (fmt != "jpeg" and image.getchannel("A").getextrema()[0] < 255):
        return image
    # JPEG has no alpha: composite on white, what a transparent PNG shows on most pages.
    with Image.new("RGBA", image.size, "white") as flat:
        flat.alpha_composite(image)
        return flat.convert("RGB")


def _encode(image: Image.Image, output: OutputSpec, xmp: str) -> bytes:
    options: dict[str, Any] = {
        "png": {"optimize": False, "compress_level": PNG_COMPRESS_LEVEL},
        "jpeg": {"quality": output.quality, "optimize": True, "progressive": True},
        "webp": {"quality": output.quality, "method": WEBP_METHOD},
        "avif": {"quality": output.quality, "speed": AVIF_SPEED},
    }[output.format]
    if output.format == "png":  # Pillow's PNG writer has no xmp=: use the standard iTXt chunk
        options["pnginfo"] = PngImagePlugin.PngInfo()
        options["pnginfo"].add_itxt(PNG_XMP_KEYWORD, xmp)
    else:
        options["xmp"] = xmp.encode("utf-8")
    buffer = io.BytesIO()
    try:
        image.save(buffer, output.format.upper(), **options)
    except (OSError, ValueError) as exc:
        raise ProcessingError(f"cannot encode {output.format}: {exc}") from exc
    return buffer.getvalue()
