"""Helpers for the declaration tests: writers that embed XMP the way Pillow does, and an
in-place pixel edit that keeps every metadata chunk."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from fixative.declarations.xmp import DeclarationSettings
from PIL import Image, PngImagePlugin

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp"}

FULL = DeclarationSettings(
    data_mining="DMI-PROHIBITED-SEECONSTRAINT",
    other_constraints="No AI training of any kind. Ask: ana@example.org",
    creator="Ana Ártist",
    copyright="© 2026 Ana Ártist, all rights reserved",
    web_statement="https://ana.example/rights",
)

# What an artist's tool (exiv2-based: Krita, GIMP) writes: attribute-form properties, a title,
# a creator, and an old permissive DataMining value that Fixative must replace, not duplicate.
ARTIST_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">'
    b' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' xmlns:myplus="http://ns.useplus.org/ldf/xmp/1.0/"'
    b' xmp:CreatorTool="Krita 5.2"'
    b' myplus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-ALLOWED">'
    b'   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Sunset over the bay</rdf:li>'
    b"</rdf:Alt></dc:title>"
    b"   <dc:creator><rdf:Seq><rdf:li>Bob Painter</rdf:li></rdf:Seq></dc:creator>"
    b"  </rdf:Description>"
    b" </rdf:RDF>"
    b"</x:xmpmeta>\n"
    b'<?xpacket end="w"?>'
)


def save_with_xmp(im: Image.Image, path: Path, fmt: str, packet: bytes | None) -> Path:
    """Write `im` with the XMP packet in each format's standard place (PNG iTXt, JPEG APP1,
    TIFF tag 700, WebP XMP chunk)."""
    kwargs: dict = {}
    if packet is not None:
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"))
            kwargs["pnginfo"] = info
        elif fmt == "TIFF":
            kwargs["tiffinfo"] = {700: packet}
        else:
            kwargs["xmp"] = packet
    if fmt == "JPEG":
        kwargs["quality"] = 95
    if fmt == "WEBP":
        kwargs["lossless"] = True
    im.save(path, fmt, **kwargs)
    return path


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return chunks


def edit_one_png_pixel(path: Path) -> None:
    """Change one sample of one pixel in place, keeping every other chunk (XMP, C2PA) as is:
    what a careless edit that preserves metadata looks like."""
    data = path.read_bytes()
    chunks = png_chunks(data)
    raw = bytearray(zlib.decompress(b"".join(d for t, d in chunks if t == b"IDAT")))
    raw[1] ^= 0x01  # byte 0 of each row is the filter type; byte 1 is the first pixel's red
    new_idat = zlib.compress(bytes(raw))
    out, written = bytearray(data[:8]), False
    for t, d in chunks:
        if t == b"IDAT":
            if written:
                continue
            d, written = new_idat, True
        out += struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    path.write_bytes(bytes(out))


def write_png_chunks(path: Path, chunks: list[tuple[bytes, bytes]]) -> Path:
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    for t, d in chunks:
        out += struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    path.write_bytes(bytes(out))
    return path
