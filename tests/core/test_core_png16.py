"""fixative.image.png16 against an independent, straight-from-the-spec PNG filter encoder."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from fixative import ImageReadError
from fixative.image import png16


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _filtered(arr: np.ndarray, filters: list[int]) -> bytes:
    """Rows of `arr` filtered with the given type per row, byte by byte as the PNG spec says."""
    h, w, c = arr.shape
    bpp = 2 * c
    rows = arr.astype(">u2").reshape(h, w * c).view(np.uint8).reshape(h, w * bpp)
    out = bytearray()
    prev = [0] * (w * bpp)
    for y in range(h):
        row = [int(v) for v in rows[y]]
        t = filters[y % len(filters)]
        out.append(t)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, cc)][t]
            out.append((x - pred) % 256)
        prev = row
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2)]
ADAM7 += [(0, 1, 1, 2)]


def reference_png(arr: np.ndarray, filters: list[int], interlace: int = 0) -> bytes:
    h, w, c = arr.shape
    if interlace:
        body = b"".join(
            _filtered(arr[y0::dy, x0::dx], filters)
            for x0, y0, dx, dy in ADAM7
            if arr[y0::dy, x0::dx].size
        )
    else:
        body = _filtered(arr, filters)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    colour = {2: 4, 3: 2, 4: 6}[c]
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, interlace)
    return (
        png16.SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(body))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_decodes_every_filter_type(channels: int) -> None:
    rng = np.random.default_rng(channels)
    h, w = 23, 17
    arr = (rng.random((h, w, channels)) * 65535).astype(np.uint16)
    arr[:8] //= 5  # some smooth-ish rows too
    filters = [int(t) for t in rng.integers(0, 5, h)]
    filters[:5] = [0, 1, 2, 3, 4]
    filters[10:14] = [4, 4, 3, 4]  # a run handled by the anti-diagonal path
    decoded, _meta = png16.decode(reference_png(arr, filters), "ref.png")
    assert decoded.dtype == np.uint16
    assert np.array_equal(decoded, arr)


def test_round_trip_with_metadata() -> None:
    arr = (np.random.default_rng(0).random((9, 11, 4)) * 65535).astype(np.uint16)
    meta = png16.PngMeta(
        icc=b"icc-bytes" * 10,
        exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0",
        dpi=(300.0, 150.0),
        text={"Title": "café", "Comment": "日本語"},
        xmp=b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>",
    )
    data = png16.encode(arr, meta)
    assert png16.is_png16_colour(data[:32])
    back, got = png16.decode(data, "x.png")
    assert np.array_equal(back, arr)
    assert got.icc == meta.icc and got.xmp == meta.xmp and got.text == meta.text
    assert got.exif == meta.exif[6:]  # stored without the JPEG-style "Exif\0\0" prefix
    assert got.dpi == pytest.approx((300.0, 150.0), abs=0.05)  # stored as pixels per metre


def test_pillow_reads_our_16_bit_output_as_png() -> None:
    """Other readers accept the file (Pillow reduces it to 8 bits, which is its limitation)."""
    import io

    from PIL import Image

    arr = np.full((4, 5, 3), 0x1234, np.uint16)
    im = Image.open(io.BytesIO(png16.encode(arr, png16.PngMeta())))
    assert im.size == (5, 4) and im.mode == "RGB"
    assert np.asarray(im)[0, 0, 0] == 0x12


@pytest.mark.parametrize(("h", "w"), [(23, 17), (1, 1), (3, 9), (9, 2)])
def test_decodes_interlaced(h: int, w: int) -> None:
    arr = (np.random.default_rng(h * w).random((h, w, 4)) * 65535).astype(np.uint16)
    decoded, _ = png16.decode(reference_png(arr, [4, 1, 0, 3, 2], interlace=1), "adam7.png")
    assert np.array_equal(decoded, arr)


def test_corrupt_and_truncated_are_refused() -> None:
    arr = np.zeros((4, 4, 3), np.uint16)
    data = reference_png(arr, [0, 0, 0, 0])
    with pytest.raises(ImageReadError, match="truncated"):
        png16.decode(data[:-20], "cut.png")
    bad = bytearray(data)
    bad[40] ^= 0xFF
    with pytest.raises(ImageReadError, match=r"cut\.png|checksum|corrupt"):
        png16.decode(bytes(bad), "cut.png")
