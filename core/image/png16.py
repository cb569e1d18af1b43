"""16-bit colour PNG (RGB, RGBA, grey+alpha) reading and writing.

Pillow reduces these to 8 bits on open and cannot write them, so Fixative would otherwise lose
the precision it promises to keep. Only what is needed: 16-bit colour types 2, 4 and 6,
interlaced or not, are read; ICC, EXIF, pHYs (DPI), text and XMP chunks are read and written.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ImageReadError, UnsupportedImageError

if TYPE_CHECKING:
    import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
XMP_KEY = "XML:com.adobe.xmp"
_METRE_PER_INCH = 0.0254
# The most a compressed metadata chunk (iCCP, zTXt, iTXt) may inflate to: a decompression bomb
# of a few MB could otherwise inflate to GBs. Real ICC profiles and XMP packets are far smaller.
MAX_METADATA_INFLATE = 16 << 20
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


@dataclass
class PngMeta:
    icc: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict)
    xmp: bytes | None = None


def is_png16_colour(head: bytes) -> bool:
    """True for a PNG whose IHDR says 16-bit RGB, RGBA or grey+alpha (what Pillow truncates)."""
    return (
        len(head) >= 29
        and head[:8] == SIGNATURE
        and head[12:16] == b"IHDR"
        and head[24] == 16
        and head[25] in (2, 4, 6)
    )


def _chunks(data: bytes, source: str) -> list[tuple[bytes, bytes]]:
    out = []
    pos = 8
    while True:
        if pos + 8 > len(data):
            msg = f"{source}: truncated PNG (ends before the IEND chunk)"
            raise ImageReadError(msg)
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            msg = f"{source}: truncated PNG (the {kind.decode('latin-1')} chunk is cut short)"
            raise ImageReadError(msg)
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            msg = f"{source}: corrupt PNG (checksum error in the {kind.decode('latin-1')} chunk)"
            raise ImageReadError(msg)
        out.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            return out


def _inflate(body: bytes, kind: bytes, source: str) -> bytes:
    """zlib data of a metadata chunk, refused if it inflates past MAX_METADATA_INFLATE."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(body, MAX_METADATA_INFLATE)
    if inflater.unconsumed_tail or len(out) >= MAX_METADATA_INFLATE:
        msg = (
            f"{source}: the PNG {kind.decode('latin-1')} chunk inflates to more than "
            f"{MAX_METADATA_INFLATE >> 20} MB (a decompression bomb?); refused"
        )
        raise ImageReadError(msg)
    return out


def _meta_from(chunks: list[tuple[bytes, bytes]], source: str) -> PngMeta:
    meta = PngMeta()
    for kind, body in chunks:
        if kind == b"iCCP":
            name_end = body.index(b"\0")
            meta.icc = _inflate(body[name_end + 2 :], kind, source)
        elif kind == b"eXIf":
            meta.exif = body
        elif kind == b"pHYs" and len(body) == 9 and body[8] == 1:
            x, y = struct.unpack(">II", body[:8])
            meta.dpi = (x * _METRE_PER_INCH, y * _METRE_PER_INCH)
        elif kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            meta.text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, value = body.partition(b"\0")
            meta.text[key.decode("latin-1")] = _inflate(value[1:], kind, source).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _tkey, _, value = rest.partition(b"\0")
            if compressed:
                value = _inflate(value, kind, source)
            if key == XMP_KEY.encode():
                meta.xmp = value
            else:
                meta.text[key.decode("latin-1")] = value.decode("utf-8")
    return meta


def _paeth_block(filt: np.ndarray, types: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """Unfilter rows using any filter type, by anti-diagonals (each depends on the two before)."""
    import numpy as np

    h, w, bpp = filt.shape
    rec = np.zeros((h + 1, w + 1, bpp), dtype=np.int16)
    rec[0, 1:] = prev
    f = filt.astype(np.int16)
    for d in range(h + w - 1):
        ys = np.arange(max(0, d - w + 1), min(h - 1, d) + 1)
        xs = d - ys
        a = rec[ys + 1, xs]
        b = rec[ys, xs + 1]
        c = rec[ys, xs]
        t = types[ys][:, None]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        pred = np.select([t == 1, t == 2, t == 3, t == 4], [a, b, (a + b) >> 1, paeth], 0)
        rec[ys + 1, xs + 1] = (f[ys, xs] + pred) & 255
    return rec[1:, 1:].astype(np.uint8)


def _unfilter(raw: np.ndarray, h: int, w: int, bpp: int, source: str) -> np.ndarray:
    import numpy as np

    types = raw[:, 0]
    if types.max(initial=0) > 4:
        msg = f"{source}: corrupt PNG (unknown filter type {int(types.max())})"
        raise ImageReadError(msg)
    filt = raw[:, 1:].reshape(h, w, bpp)
    out = np.empty((h, w, bpp), dtype=np.uint8)
    prev = np.zeros((w, bpp), dtype=np.uint8)
    y = 0
    while y < h:
        t = types[y]
        if t in (0, 1, 2):  # vectorised within the row
            row = filt[y]
            if t == 1:
                row = np.cumsum(row, axis=0, dtype=np.uint8)
            elif t == 2:
                row = row + prev
            out[y] = row
            y += 1
        else:  # a run of Average/Paeth rows: unfilter by anti-diagonals
            end = y
            while end < h and types[end] in (3, 4):
                end += 1
            out[y:end] = _paeth_block(filt[y:end], types[y:end], prev)
            y = end
        prev = out[y - 1]
    return out


def decode(data: bytes, source: str) -> tuple[np.ndarray, PngMeta]:
    """(uint16 array (H, W, C) with C = 2, 3 or 4, metadata) of a 16-bit colour PNG."""
    import numpy as np

    chunks = _chunks(data, source)
    frames = [body for kind, body in chunks if kind == b"acTL"]
    if frames:  # APNG: Fixative would keep only the first frame; refuse instead
        n = struct.unpack(">I", frames[0][:4])[0] if len(frames[0]) >= 4 else "several"
        msg = f"{source}: animated images are not supported (it has {n} frames)"
        raise UnsupportedImageError(msg)
    if chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13 or chunks[0][1][9] not in _CHANNELS:
        msg = f"{source}: corrupt PNG (bad IHDR chunk)"
        raise ImageReadError(msg)
    w, h, _depth, colour, _comp, _filter, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = _CHANNELS[colour]
    bpp = channels * 2
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    sizes = [(-(-(h - y0) // dy), -(-(w - x0) // dx)) for x0, y0, dx, dy in passes]
    sizes = [(ph, pw) if ph > 0 and pw > 0 else (0, 0) for ph, pw in sizes]
    need = sum(ph * (1 + pw * bpp) for ph, pw in sizes)
    try:
        raw = zlib.decompressobj().decompress(idat, need + 1)
    except zlib.error as exc:
        msg = f"{source}: corrupt PNG image data ({exc})"
        raise ImageReadError(msg) from exc
    if len(raw) < need:
        msg = f"{source}: truncated PNG image data"
        raise ImageReadError(msg)
    buf = np.frombuffer(raw, dtype=np.uint8, count=need)
    arr = np.empty((h, w, channels), dtype=np.uint16)
    pos = 0
    for (x0, y0, dx, dy), (ph, pw) in zip(passes, sizes, strict=True):
        if ph == 0:
            continue
        rows = buf[pos : pos + ph * (1 + pw * bpp)].reshape(ph, 1 + pw * bpp)
        pos += rows.size
        pixels = _unfilter(rows, ph, pw, bpp, source)
        sub = pixels.reshape(ph, pw * bpp).view(">u2").reshape(ph, pw, channels)
        arr[y0::dy, x0::dx] = sub
    try:
        meta = _meta_from(chunks, source)
    except (ValueError, IndexError, zlib.error) as exc:  # a missing NUL, bad UTF-8, bad zlib
        msg = f"{source}: corrupt PNG metadata chunk ({exc})"
        raise ImageReadError(msg) from None
    return arr, meta


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _text_chunk(key: str, value: str) -> bytes:
    k = key.encode("latin-1", "replace")[:79]
    try:
        return _chunk(b"tEXt", k + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", k + b"\0\0\0\0\0" + value.encode("utf-8"))


def encode(pixels: np.ndarray, meta: PngMeta, compress_level: int = 6) -> bytes:
    """A 16-bit PNG of a uint16 (H, W, C) array, C in 1..4, with the metadata chunks."""
    import numpy as np

    h, w, c = pixels.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    bpp = 2 * c
    rows = np.ascontiguousarray(pixels.astype(">u2")).view(np.uint8).reshape(h, w * bpp)
    filt = rows.copy()
    filt[:, bpp:] -= rows[:, :-bpp]  # Sub filter, wraps modulo 256 as PNG wants
    body = np.empty((h, 1 + w * bpp), dtype=np.uint8)
    body[:, 0] = 1
    body[:, 1:] = filt
    out = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0))]
    if meta.icc:
        out.append(_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(meta.icc)))
    if meta.dpi:
        ppm = [round(d / _METRE_PER_INCH) for d in meta.dpi]
        out.append(_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    for key, value in meta.text.items():
        out.append(_text_chunk(key, value))
    if meta.xmp:
        out.append(_chunk(b"iTXt", XMP_KEY.encode() + b"\0\0\0\0\0" + meta.xmp))
    if meta.exif:
        exif = meta.exif[6:] if meta.exif.startswith(b"Exif\0\0") else meta.exif
        out.append(_chunk(b"eXIf", exif))
    data = zlib.compress(body.tobytes(), compress_level)
    for i in range(0, len(data), 1 << 20):
        out.append(_chunk(b"IDAT", data[i : i + (1 << 20)]))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)
