"""16-bit colour TIFF (RGB, RGBA, grey+alpha) reading and writing.

Pillow reads these as 8-bit and cannot write them. Written here: strips compressed with
Deflate (zlib), no predictor, little-endian, with ICC profile, resolution, XMP and the
descriptive tags (orientation, description, artist, copyright...). Read: strips that are
uncompressed, LZW, PackBits or Deflate, with or without the horizontal predictor (what this
module, GIMP, Krita and most tools write); JPEG-compressed, tiled and planar files get a clear
refusal.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ImageReadError, UnsupportedImageError

if TYPE_CHECKING:
    import numpy as np

_DEFLATE = (8, 32946)
_COMPRESSIONS = (1, 5, 32773, *_DEFLATE)  # none, LZW, PackBits, Deflate
_STRIP_BYTES = 1 << 18
# TIFF field types
_SHORT, _LONG, _RATIONAL, _ASCII, _BYTE, _UNDEFINED = 3, 4, 5, 2, 1, 7
_TYPE_SIZE = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _UNDEFINED: 1}


@dataclass
class TiffMeta:
    icc: bytes | None = None
    dpi: tuple[float, float] | None = None
    xmp: bytes | None = None
    tags: dict[int, Any] | None = None  # descriptive tags: int (SHORT/LONG) or str (ASCII)


def is_16bit_colour(im: Any) -> bool:
    """True for a Pillow-opened TIFF with more than 8 bits per colour sample."""
    bits = im.tag_v2.get(258, (8,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    return im.mode in ("RGB", "RGBA", "LA") and max(bits) > 8


def decode(data: bytes, im: Any, source: str) -> np.ndarray:
    """uint16 (H, W, C) pixels of a 16-bit colour TIFF whose tags Pillow has parsed as `im`."""
    import numpy as np

    tags = im.tag_v2
    w, h = int(tags[256]), int(tags[257])
    bits = tags.get(258)
    spp = int(tags.get(277, 1))
    compression = int(tags.get(259, 1))
    predictor = int(tags.get(317, 1))

    def refuse(why: str) -> UnsupportedImageError:
        return UnsupportedImageError(
            f"{source}: 16-bit colour TIFF {why} is not supported; save it with LZW, Deflate "
            "(ZIP) or no compression, or as a 16-bit PNG"
        )

    if set(bits if isinstance(bits, tuple) else (bits,)) != {16}:
        raise refuse(f"with {bits} bits per sample")
    if compression not in _COMPRESSIONS:
        raise refuse(f"with compression {compression} (e.g. JPEG)")
    if predictor not in (1, 2):
        raise refuse(f"with predictor {predictor}")
    if int(tags.get(284, 1)) != 1 or 322 in tags:
        raise refuse("in planar or tiled layout")
    if int(_first(tags.get(339, 1))) != 1:
        raise refuse("with signed or floating-point samples")
    if spp in (2, 4) and int(_first(tags.get(338, 2))) == 1:
        raise refuse("with premultiplied alpha")
    offsets, counts = _tuple(tags.get(273)), _tuple(tags.get(279))
    strips = []
    for off, cnt in zip(offsets, counts, strict=True):
        chunk = data[off : off + cnt]
        if len(chunk) != cnt:
            msg = f"{source}: truncated TIFF (image data ends early)"
            raise ImageReadError(msg)
        strips.append(chunk)
    big = data[:2] == b"MM"
    rows = int(tags.get(278, h))
    try:
        samples = _decompress(strips, w * spp, h, rows, compression, big)
    except (OSError, ValueError, SyntaxError, zlib.error) as exc:
        msg = f"{source}: corrupt or truncated TIFF image data ({exc})"
        raise ImageReadError(msg) from None
    arr = samples.reshape(h, w, spp)
    if predictor == 2:  # horizontal differencing, per sample, wrapping at 16 bits
        arr = np.cumsum(arr, axis=1, dtype=np.uint16)
    return np.ascontiguousarray(arr, dtype=np.uint16)


def _decompress(
    strips: list[bytes], width: int, h: int, rows: int, compression: int, big: bool
) -> np.ndarray:
    """(h, width) uint16 samples as stored (before any predictor is undone)."""
    import io

    import numpy as np
    from PIL import Image

    if compression in _DEFLATE or compression == 1:
        need = width * h * 2
        if compression == 1:
            raw = b"".join(strips)
        else:  # inflate no more than the image needs: a strip may be a decompression bomb
            parts, have = [], 0
            for s in strips:
                part = zlib.decompressobj().decompress(s, need - have + 1)
                parts.append(part)
                have += len(part)
                if have > need:
                    break
            raw = b"".join(parts)
        if len(raw) < need:
            msg = "image data ends early"
            raise ValueError(msg)
        return np.frombuffer(raw, dtype=">u2" if big else "<u2", count=width * h).reshape(h, width)
    # LZW and PackBits: let libtiff (inside Pillow) decompress the same strips, described as
    # one-sample 16-bit grey of `width` samples per row and no predictor.
    with Image.open(io.BytesIO(_grey_container(strips, width, h, rows, compression, big))) as im:
        im.load()
        return np.asarray(im).astype(np.uint16).reshape(h, width)


def _grey_container(
    strips: list[bytes], width: int, h: int, rows: int, compression: int, big: bool
) -> bytes:
    e = ">" if big else "<"
    out = bytearray((b"MM\0*" if big else b"II*\0") + b"\0\0\0\0")
    offsets = []
    for s in strips:
        offsets.append(len(out))
        out += s + (b"\0" if len(s) % 2 else b"")
    n = len(strips)
    arrays = len(out)
    out += struct.pack(f"{e}{n}I", *offsets) + struct.pack(f"{e}{n}I", *map(len, strips))

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        if kind == _SHORT and count == 1:
            return struct.pack(f"{e}HHIH", tag, kind, count, value) + b"\0\0"
        return struct.pack(f"{e}HHII", tag, kind, count, value)

    fields = [
        entry(256, _LONG, 1, width),
        entry(257, _LONG, 1, h),
        entry(258, _SHORT, 1, 16),
        entry(259, _SHORT, 1, compression),
        entry(262, _SHORT, 1, 1),
        entry(273, _LONG, n, arrays) if n > 1 else entry(273, _LONG, 1, offsets[0]),
        entry(277, _SHORT, 1, 1),
        entry(278, _LONG, 1, rows),
        entry(279, _LONG, n, arrays + 4 * n) if n > 1 else entry(279, _LONG, 1, len(strips[0])),
    ]
    ifd = len(out)
    out += struct.pack(f"{e}H", len(fields)) + b"".join(fields) + struct.pack(f"{e}I", 0)
    out[4:8] = struct.pack(f"{e}I", ifd)
    return bytes(out)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) else value


def _tuple(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, tuple) else (int(value),)


def _rational(x: float) -> tuple[int, int]:
    return round(x * 10000), 10000


def encode(pixels: np.ndarray, meta: TiffMeta) -> bytes:
    """A little-endian, Deflate-compressed 16-bit TIFF of uint16 (H, W, C), C in 2..4."""
    import numpy as np

    h, w, c = pixels.shape
    row_bytes = w * c * 2
    rows_per_strip = max(1, _STRIP_BYTES // row_bytes)
    body = np.ascontiguousarray(pixels.astype("<u2")).tobytes()
    strips = [
        zlib.compress(body[y * row_bytes : (y + rows_per_strip) * row_bytes], 6)
        for y in range(0, h, rows_per_strip)
    ]
    entries: dict[int, tuple[int, list[Any] | bytes]] = {
        256: (_LONG, [w]),
        257: (_LONG, [h]),
        258: (_SHORT, [16] * c),
        259: (_SHORT, [8]),
        262: (_SHORT, [2 if c >= 3 else 1]),
        277: (_SHORT, [c]),
        278: (_LONG, [rows_per_strip]),
        279: (_LONG, [len(s) for s in strips]),
        284: (_SHORT, [1]),
    }
    if c in (2, 4):
        entries[338] = (_SHORT, [2])  # unassociated (straight) alpha
    if meta.dpi:
        entries[282] = (_RATIONAL, [_rational(meta.dpi[0])])
        entries[283] = (_RATIONAL, [_rational(meta.dpi[1])])
        entries[296] = (_SHORT, [2])
    for tag, value in (meta.tags or {}).items():
        if isinstance(value, str):
            entries[tag] = (_ASCII, value.encode("utf-8", "replace") + b"\0")
        elif isinstance(value, int) and 0 <= value < 65536:
            entries[tag] = (_SHORT, [value])
    if meta.xmp:
        entries[700] = (_BYTE, meta.xmp)
    if meta.icc:
        entries[34675] = (_UNDEFINED, meta.icc)
    # Layout: header, strips, out-of-line values, IFD (whose StripOffsets we know by then).
    out = bytearray(b"II*\0\0\0\0\0")
    offsets = []
    for s in strips:
        offsets.append(len(out))
        out += s
        if len(out) % 2:
            out += b"\0"
    entries[273] = (_LONG, offsets)
    packed: list[tuple[int, int, int, bytes]] = []
    for tag in sorted(entries):
        kind, value = entries[tag]
        if isinstance(value, bytes):
            raw, count = value, len(value)
        elif kind == _RATIONAL:
            raw = b"".join(struct.pack("<II", *v) for v in value)
            count = len(value)
        else:
            raw = struct.pack(f"<{len(value)}{'H' if kind == _SHORT else 'I'}", *value)
            count = len(value)
        packed.append((tag, kind, count, raw))
    field: list[bytes] = []
    for tag, kind, count, raw in packed:
        if len(raw) <= 4:
            field.append(struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\0"))
        else:
            at = len(out)
            out += raw + (b"\0" if len(raw) % 2 else b"")
            field.append(struct.pack("<HHII", tag, kind, count, at))
    ifd_at = len(out)
    out += struct.pack("<H", len(field)) + b"".join(field) + struct.pack("<I", 0)
    out[4:8] = struct.pack("<I", ifd_at)
    return bytes(out)
