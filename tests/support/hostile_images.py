"""Broken and hostile image answers, built byte by byte (no Pillow needed to make them)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(
    width: int, height: int, *, bit_depth: int = 1, before_idat: bytes = b"", idat: bool = True
) -> bytes:
    """A grayscale PNG of zeros. 13000x13000 at 1 bit is 169 Mpx in ~20 KB."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    body = b""
    if idat:
        row = b"\x00" + bytes((width * bit_depth + 7) // 8)
        packer = zlib.compressobj(9)
        compressed = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
        body = _chunk(b"IDAT", compressed)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + before_idat + body
            + _chunk(b"IEND", b""))  # fmt: skip


def text_chunk_bomb() -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to 8 MiB (Pillow allows 1 MiB)."""
    text = b"Comment\x00\x00" + zlib.compress(bytes(8 * 2**20), 9)
    return png(64, 64, bit_depth=8, before_idat=_chunk(b"zTXt", text))


def real_png(side: int = 96) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 80, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def truncated_png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 60).convert("RGB").save(buffer, "PNG")
    data = buffer.getvalue()
    return data[: len(data) // 2]


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
