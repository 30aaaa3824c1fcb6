"""Pillow processing, judged by the pixels and bytes it writes."""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import asdict
from xml.etree import ElementTree

import pytest
from PIL import ExifTags, Image, ImageCms, ImageDraw, PngImagePlugin

from mediagen.errors import ProcessingError, SpecError
from mediagen.imaging.codec import (
    CONTENT_TYPES,
    EXTENSIONS,
    FORMATS,
    OutputSpec,
    ProcessedImage,
    Provenance,
    decode_original,
    digital_source_type,
    read_provenance,
    read_xmp,
    render_output,
)


def process_image(original: bytes, output: OutputSpec, provenance: Provenance) -> ProcessedImage:
    """One output of an original, as the engine's process stage makes each of them."""
    image = decode_original(original, output.width, output.height)
    try:
        return render_output(image, output, provenance)
    finally:
        image.close()


RGB = tuple[int, int, int]
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
# Markup, entities, quotes, braces, non-ASCII and both kinds of line break.
TRICKY = (
    "Draw <b>\"bold\"</b> & 'quoted' — café ☕ 日本語 <![CDATA[x]]> &amp; {curly} %s"
    "\nline two\r\nend"
)
PILLOW_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}


def provenance(prompt: str = "a lighthouse", ai: bool = True) -> Provenance:
    return Provenance(
        digital_source_type=digital_source_type(ai),
        prompt=prompt,
        model="gemini-2.5-flash-image" if ai else "offline-procedural-v1",
        backend="gemini" if ai else "offline",
        generator="mediagen 0.1.0",
        image_id="hero-01",
    )


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def stripes(width: int, height: int, colours: list[RGB], vertical: bool = True) -> Image.Image:
    """Equal bands of ``colours``, left to right (or top to bottom)."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for i, colour in enumerate(colours):
        if vertical:
            draw.rectangle(
                (i * width // len(colours), 0, (i + 1) * width // len(colours), height), colour
            )
        else:
            draw.rectangle(
                (0, i * height // len(colours), width, (i + 1) * height // len(colours)), colour
            )
    return image


def detailed(width: int = 1024, height: int = 1024) -> Image.Image:
    """Busy content, so that encoder quality matters."""
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 7):
        draw.line(
            (i, 0, width - i, height), fill=(i * 7 % 256, i * 3 % 256, 255 - i % 256), width=2
        )
    for j in range(0, height, 11):
        draw.ellipse((j % width, j, j % width + 40, j + 40), outline=(j % 256, 90, 200))
    return image


def run(data: bytes, width: int, height: int, fmt: str, quality: int = 85) -> ProcessedImage:
    return process_image(data, OutputSpec(width, height, fmt, quality), provenance())


def opened(result: ProcessedImage) -> Image.Image:
    image = Image.open(io.BytesIO(result.data))
    image.load()
    return image


def near(pixel: tuple[int, ...], colour: RGB, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def test_constants() -> None:
    assert FORMATS == ("png", "jpeg", "webp", "avif")
    assert CONTENT_TYPES == {
        "png": "image/png",
        "jpeg": "image/jpeg",
        "webp": "image/webp",
        "avif": "image/avif",
    }
    assert EXTENSIONS == {"png": "png", "jpeg": "jpg", "webp": "webp", "avif": "avif"}
    assert digital_source_type(True) == "trainedAlgorithmicMedia"
    assert digital_source_type(False) == "algorithmicMedia"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("source", [(1024, 1024), (1600, 900), (600, 1200), (37, 53)])
@pytest.mark.parametrize("target", [(1200, 630), (1080, 1920), (320, 320)])
def test_output_has_the_exact_size_and_format(
    fmt: str, source: tuple[int, int], target: tuple[int, int]
) -> None:
    original = encode(detailed(*source))
    result = run(original, *target, fmt)
    image = opened(result)
    assert image.size == target == (result.width, result.height)
    assert image.format == PILLOW_FORMAT[fmt]
    assert (result.format, result.content_type) == (fmt, CONTENT_TYPES[fmt])
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()


@pytest.mark.parametrize("source_format", ["PNG", "JPEG", "WEBP", "AVIF"])
def test_every_format_is_accepted_as_a_source(source_format: str) -> None:
    result = run(encode(detailed(400, 300), source_format), 200, 150, "png")
    assert opened(result).size == (200, 150)


def test_cover_crop_to_tall_keeps_the_centre() -> None:
    original = encode(stripes(900, 300, [RED, GREEN, BLUE]))
    image = opened(run(original, 300, 600, "png")).convert("RGB")
    # The centred 150x300 region of the source is all green: no red or blue survives.
    for x in range(0, 300, 10):
        for y in range(0, 600, 50):
            assert near(image.getpixel((x, y)), GREEN), (x, y)


def test_cover_crop_to_wide_keeps_the_middle_band() -> None:
    original = encode(stripes(300, 900, [RED, GREEN, BLUE], vertical=False))
    image = opened(run(original, 600, 200, "png")).convert("RGB")
    for x in range(0, 600, 25):
        for y in range(0, 200, 10):
            assert near(image.getpixel((x, y)), GREEN), (x, y)


def test_same_aspect_ratio_keeps_everything() -> None:
    original = encode(stripes(900, 300, [RED, GREEN, BLUE]))
    image = opened(run(original, 300, 100, "png")).convert("RGB")
    assert near(image.getpixel((5, 50)), RED)
    assert near(image.getpixel((150, 50)), GREEN)
    assert near(image.getpixel((294, 50)), BLUE)


def test_exif_orientation_is_applied() -> None:
    # Stored 200x100, red left half, blue right half; orientation 6 means "turn 90° clockwise".
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    original = encode(stripes(200, 100, [RED, BLUE]), "JPEG", exif=exif, quality=95)
    image = opened(run(original, 100, 200, "png")).convert("RGB")
    assert near(image.getpixel((50, 20)), RED)  # the left edge became the top
    assert near(image.getpixel((50, 180)), BLUE)
    assert not image.getexif()


def test_large_jpeg_is_decoded_small_and_still_exact() -> None:
    original = encode(stripes(4000, 3000, [RED, GREEN, BLUE]), "JPEG", quality=90)
    image = opened(run(original, 400, 300, "png")).convert("RGB")
    assert image.size == (400, 300)
    assert near(image.getpixel((60, 150)), RED)
    assert near(image.getpixel((200, 150)), GREEN)
    assert near(image.getpixel((340, 150)), BLUE)


def metadata_rich_sources() -> list[bytes]:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCameraMake"
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 22.0, 7.5),
    }
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "SecretAuthor")
    text.add_itxt("parameters", "SecretParameters")
    picture = detailed(300, 200)
    return [
        encode(
            picture, "JPEG", exif=exif, icc_profile=icc, comment=b"SecretComment", dpi=(300, 300)
        ),
        encode(picture, "PNG", exif=exif, icc_profile=icc, pnginfo=text, dpi=(300, 300)),
        encode(picture, "WEBP", exif=exif, icc_profile=icc),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_source_metadata_is_stripped(fmt: str) -> None:
    for original in metadata_rich_sources():
        result = run(original, 150, 100, fmt)
        image = opened(result)
        assert not image.getexif()
        assert not image.info.get("exif")
        assert not image.info.get("icc_profile")
        assert "dpi" not in image.info and "comment" not in image.info
        for secret in (b"SecretCameraMake", b"SecretAuthor", b"SecretParameters", b"SecretComment"):
            assert secret not in result.data
        assert b"Exif\x00\x00" not in result.data and b"ICC_PROFILE" not in result.data
        assert b"GPS" not in result.data
        if fmt == "png":
            names = [name for name, _ in png_chunks(result.data)]
            assert not {b"tEXt", b"zTXt", b"eXIf", b"iCCP", b"pHYs"} & set(names)
            assert next(v for n, v in png_chunks(result.data) if n == b"iTXt").startswith(
                b"XML:com.adobe.xmp\x00"
            )
            assert set(image.text) == {"XML:com.adobe.xmp"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("ai", [True, False])
def test_provenance_is_read_back(fmt: str, ai: bool) -> None:
    written = provenance(TRICKY + " \x07bell\x00", ai=ai)
    result = process_image(encode(detailed(300, 300)), OutputSpec(120, 80, fmt, 80), written)
    expected = asdict(written) | {"prompt": TRICKY + " bell"}  # XML cannot carry \x07 or \x00
    assert read_provenance(result.data) == expected
    xmp = read_xmp(result.data)
    root = ElementTree.fromstring(xmp)  # well-formed XML
    assert root.tag == "{adobe:ns:meta/}xmpmeta"
    assert xmp.startswith("<?xpacket begin=") and xmp.endswith('<?xpacket end="r"?>')
    kind = "trainedAlgorithmicMedia" if ai else "algorithmicMedia"
    uri = f"http://cv.iptc.org/newscodes/digitalsourcetype/{kind}"
    assert f"<Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType>" in xmp
    assert "<xmp:CreatorTool>mediagen 0.1.0</xmp:CreatorTool>" in xmp
    # IPTC's AI properties are only claimed for AI output.
    assert ("Iptc4xmpExt:AISystemUsed" in xmp) is ai
    assert ("Iptc4xmpExt:AIPromptInformation" in xmp) is ai


def test_xmp_sits_in_each_formats_standard_place() -> None:
    original = encode(detailed(200, 200))
    by_format = {fmt: run(original, 100, 100, fmt).data for fmt in FORMATS}
    assert b"http://ns.adobe.com/xap/1.0/\x00<?xpacket" in by_format["jpeg"]  # APP1
    webp = by_format["webp"]
    assert webp[12:16] == b"VP8X" and b"XMP " in webp  # extended RIFF with an XMP chunk
    for fmt, data in by_format.items():
        with Image.open(io.BytesIO(data)) as image:
            assert b"Iptc4xmpExt:DigitalSourceType" in _as_bytes(image.info["xmp"]), fmt


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def test_a_huge_prompt_is_clipped_so_jpeg_still_fits() -> None:
    prompt = "&<" * 60_000
    result = process_image(
        encode(detailed(100, 100)), OutputSpec(50, 50, "jpeg", 80), provenance(prompt)
    )
    read = read_provenance(result.data)["prompt"]
    assert read.endswith("…") and prompt.startswith(read[:-1]) and len(read) > 1000


def test_files_without_xmp_have_no_provenance() -> None:
    plain = encode(detailed(50, 50), "JPEG")
    assert read_xmp(plain) == ""
    assert read_provenance(plain) == {}
    assert read_provenance(b"garbage") == {}


def test_provenance_in_attribute_form_is_read() -> None:
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Other Tool"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet)
    data = encode(detailed(20, 20), "PNG", pnginfo=info)
    assert read_provenance(data) == {"generator": "Other Tool"}


def test_quality_changes_the_file_size() -> None:
    original = encode(detailed())
    for fmt in ("jpeg", "webp", "avif"):
        low = run(original, 800, 800, fmt, quality=30).data
        high = run(original, 800, 800, fmt, quality=95).data
        assert len(low) < len(high) * 0.8, fmt


def test_output_is_deterministic() -> None:
    original = encode(detailed(400, 400))
    for fmt in ("png", "jpeg", "webp"):
        assert run(original, 200, 100, fmt).sha256 == run(original, 200, 100, fmt).sha256


@pytest.mark.parametrize("fmt", ["png", "webp", "avif"])
def test_transparency_is_kept_where_the_format_has_alpha(fmt: str) -> None:
    source = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(source).ellipse((50, 50, 150, 150), fill=(*RED, 255))
    image = opened(run(encode(source), 100, 100, fmt))
    assert image.mode == "RGBA"
    assert image.getpixel((2, 2))[3] < 10
    assert image.getpixel((50, 50))[3] > 245


def test_jpeg_flattens_transparency_onto_white() -> None:
    source = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(source).ellipse((50, 50, 150, 150), fill=(*RED, 255))
    image = opened(run(encode(source), 100, 100, "jpeg")).convert("RGB")
    assert near(image.getpixel((2, 2)), WHITE, 10)
    assert near(image.getpixel((50, 50)), RED)


def test_opaque_alpha_and_palette_sources_become_rgb() -> None:
    opaque = Image.new("RGBA", (64, 64), (*GREEN, 255))
    assert opened(run(encode(opaque), 32, 32, "png")).mode == "RGB"
    paletted = stripes(64, 64, [RED, BLUE]).quantize(4)
    image = opened(run(encode(paletted), 32, 32, "png"))
    assert image.mode == "RGB" and near(image.getpixel((2, 16)), RED)


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    original = encode(Image.new("I;16", (40, 40), 40_000))
    image = opened(run(original, 20, 20, "png"))
    assert abs(image.getpixel((10, 10))[0] - 40_000 * 255 // 65_535) <= 2


@pytest.mark.parametrize("garbage", [b"", b"not an image at all", encode(detailed(64, 64))[:300]])
def test_undecodable_bytes_raise_processing_error(garbage: bytes) -> None:
    with pytest.raises(ProcessingError, match="cannot decode") as caught:
        run(garbage, 10, 10, "png")
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(
    ("width", "height", "fmt", "quality"),
    [(0, 10, "png", 80), (10, 9000, "png", 80), (10, 10, "gif", 80), (10, 10, "jpeg", 0)],
)
def test_bad_output_specs_are_rejected(width: int, height: int, fmt: str, quality: int) -> None:
    with pytest.raises(SpecError):
        OutputSpec(width, height, fmt, quality)


def matrix_profile(
    red: tuple[float, ...], green: tuple[float, ...], blue: tuple[float, ...]
) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (gamma 2.2) with the given primaries."""

    def xyz(values: tuple[float, ...]) -> bytes:
        return b"XYZ \0\0\0\0" + b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    name = b"Swapped primaries\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(name)) + name + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"cprt", b"text\0\0\0\0none\0\0\0\0"),
        (b"wtpt", xyz((0.9642, 1.0, 0.8249))),
        (b"rXYZ", xyz(red)),
        (b"gXYZ", xyz(green)),
        (b"bXYZ", xyz(blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, b"mntr", b"RGB ", b"XYZ ")
    header += bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
    header += b"".join(struct.pack(">i", round(v * 65536)) for v in (0.9642, 1.0, 0.8249))
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def test_colours_are_converted_from_an_embedded_profile_to_srgb() -> None:
    # sRGB's primaries (D50), with red and blue swapped: stored red means "blue".
    red, green, blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
    icc = matrix_profile(blue, green, red)
    original = encode(Image.new("RGB", (64, 64), RED), "PNG", icc_profile=icc)
    for fmt in FORMATS:
        image = opened(run(original, 32, 32, fmt))
        assert near(image.convert("RGB").getpixel((16, 16)), BLUE, 60), fmt
        assert not image.info.get("icc_profile")


def test_an_srgb_profile_leaves_colours_alone() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    original = encode(Image.new("RGB", (64, 64), (200, 120, 40)), "PNG", icc_profile=icc)
    image = opened(run(original, 32, 32, "png"))
    assert image.getpixel((16, 16)) == (200, 120, 40)
    assert "icc_profile" not in image.info
