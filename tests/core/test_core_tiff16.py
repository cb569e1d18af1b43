"""fixative.image.tiff16: 16-bit colour TIFF through protect_file, and the decoder's variants."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from fixative import ImageReadError, ProtectSettings, protect_file, read_image
from fixative.image import tiff16
from PIL import Image, ImageCms


def hand_tiff(
    path: Path, arr: np.ndarray, *, compression: int = 1, predictor: int = 1, big: bool = False
) -> None:
    """A minimal single-strip 16-bit TIFF written independently of fixative.image.tiff16."""
    h, w, c = arr.shape
    e = ">" if big else "<"
    data = arr.astype(f"{e}u2")
    if predictor == 2:
        data = data.copy()
        data[:, 1:] = (arr[:, 1:].astype(np.int64) - arr[:, :-1]) % 65536
    raw = data.astype(f"{e}u2").tobytes()
    if compression in (8, 32946):
        raw = zlib.compress(raw)
    tags = {256: (4, [w]), 257: (4, [h]), 258: (3, [16] * c), 259: (3, [compression])}
    tags |= {262: (3, [2 if c >= 3 else 1]), 273: (4, [0]), 277: (3, [c]), 278: (4, [h])}
    tags |= {279: (4, [len(raw)]), 317: (3, [predictor])}
    if c in (2, 4):
        tags[338] = (3, [2])
    out = bytearray((b"MM\0*" if big else b"II*\0") + struct.pack(f"{e}I", 0))
    strip_at = len(out)
    out += raw
    extra = {}
    for tag, (kind, values) in tags.items():
        if len(values) * (2 if kind == 3 else 4) > 4:
            extra[tag] = len(out)
            out += struct.pack(f"{e}{len(values)}{'H' if kind == 3 else 'I'}", *values)
    tags[273] = (4, [strip_at])
    ifd = len(out)
    out += struct.pack(f"{e}H", len(tags))
    for tag in sorted(tags):
        kind, values = tags[tag]
        head = struct.pack(f"{e}HHI", tag, kind, len(values))
        if tag in extra:
            out += head + struct.pack(f"{e}I", extra[tag])
        elif kind == 3:
            out += head + struct.pack(f"{e}H", values[0]) + b"\0\0"
        else:
            out += head + struct.pack(f"{e}I", values[0])
    out += struct.pack(f"{e}I", 0)
    out[4:8] = struct.pack(f"{e}I", ifd)
    path.write_bytes(bytes(out))


def libtiff_tiff(path: Path, arr: np.ndarray, compression: str) -> None:
    """An RGB(A) 16-bit TIFF whose strips libtiff compressed: Pillow (libtiff) writes the same
    sample bytes as one-sample grey, and the header is rewritten to say RGB."""
    import io

    h, w, c = arr.shape
    buf = io.BytesIO()
    Image.fromarray(arr.reshape(h, w * c)).save(buf, "TIFF", compression=compression)
    grey = Image.open(io.BytesIO(buf.getvalue()))
    data = buf.getvalue()
    tags = grey.tag_v2
    strips = [data[o : o + n] for o, n in zip(tags[273], tags[279], strict=True)]
    rows = int(tags[278])
    code = int(tags[259])
    out = bytearray(b"II*\0\0\0\0\0")
    offsets = []
    for s in strips:
        offsets.append(len(out))
        out += s + (b"\0" if len(s) % 2 else b"")
    n = len(strips)
    at_off = len(out)
    out += struct.pack(f"<{n}I", *offsets) + struct.pack(f"<{n}I", *map(len, strips))
    at_bps = len(out)
    out += struct.pack(f"<{c}H", *([16] * c))
    fields = [
        struct.pack("<HHII", 256, 4, 1, w),
        struct.pack("<HHII", 257, 4, 1, h),
        struct.pack("<HHII", 258, 3, c, at_bps),
        struct.pack("<HHIHH", 259, 3, 1, code, 0),
        struct.pack("<HHIHH", 262, 3, 1, 2, 0),
        struct.pack("<HHII", 273, 4, n, at_off),
        struct.pack("<HHIHH", 277, 3, 1, c, 0),
        struct.pack("<HHII", 278, 4, 1, rows),
        struct.pack("<HHII", 279, 4, n, at_off + 4 * n),
    ]
    if c == 4:
        fields.append(struct.pack("<HHIHH", 338, 3, 1, 2, 0))
    ifd = len(out)
    out += struct.pack("<H", len(fields)) + b"".join(fields) + struct.pack("<I", 0)
    out[4:8] = struct.pack("<I", ifd)
    path.write_bytes(bytes(out))


@pytest.mark.parametrize("compression", ["tiff_lzw", "packbits"])
@pytest.mark.parametrize("channels", [3, 4])
def test_lzw_and_packbits(tmp_path: Path, compression: str, channels: int) -> None:
    arr = deep(300, 70, channels)
    arr[100:200] = 4242  # something compressible, so several kinds of codes appear
    libtiff_tiff(tmp_path / "a.tif", arr, compression)
    assert len(Image.open(tmp_path / "a.tif").tag_v2[273]) > 1  # several strips
    back = read_image(tmp_path / "a.tif")
    assert back.pixels.dtype == np.uint16 and np.array_equal(back.pixels, arr)


def deep(h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, c)) * 65535).astype(np.uint16)


@pytest.mark.parametrize(
    ("compression", "predictor", "big"),
    [(1, 1, False), (8, 1, False), (8, 2, False), (32946, 2, True), (1, 2, True)],
)
def test_decoder_variants(tmp_path: Path, compression: int, predictor: int, big: bool) -> None:
    arr = deep(13, 17, 3)
    hand_tiff(tmp_path / "a.tif", arr, compression=compression, predictor=predictor, big=big)
    back = read_image(tmp_path / "a.tif")
    assert back.format == "TIFF" and back.pixels.dtype == np.uint16
    assert np.array_equal(back.pixels, arr)


@pytest.mark.parametrize("channels", [3, 4])
def test_protect_keeps_16_bits_and_metadata(
    conv_model: Path, tmp_path: Path, channels: int
) -> None:
    arr = deep(40, 56, channels)
    if channels == 4:
        arr[:8, :, 3] = 0
    src = tmp_path / "scan.tif"
    hand_tiff(src, arr, compression=8, predictor=2)
    # Fast mode: thorough saturates at exactly ±ε (4/255 = 1028/65535, a multiple of 257), which
    # would hide whether the perturbation kept its 16-bit precision.
    protect_file(src, tmp_path / "out.tif", ProtectSettings(mode="generator"))
    out = read_image(tmp_path / "out.tif")
    assert out.pixels.dtype == np.uint16 and out.pixels.shape == arr.shape
    diff = out.pixels.astype(np.int64) - arr
    assert np.abs(diff).max() <= round(4 / 255 * 65535) + 1
    assert np.count_nonzero(diff % 257) > diff.size // 4
    if channels == 4:
        assert np.array_equal(out.pixels[:8], arr[:8])
        assert np.array_equal(out.pixels[..., 3], arr[..., 3])
    assert out.meta.xmp is not None and b"DMI-PROHIBITED-GENAIMLTRAINING" in out.meta.xmp
    # Other readers accept our file (Pillow reduces it to 8 bits, its own limitation).
    pil = Image.open(tmp_path / "out.tif")
    assert pil.size == (56, 40)
    assert np.abs(np.asarray(pil)[..., :3].astype(int) - (out.pixels[..., :3] >> 8)).max() <= 1


def test_writer_round_trip_with_metadata() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    arr = deep(9, 11, 4)
    meta = tiff16.TiffMeta(
        icc=icc, dpi=(300.0, 300.0), xmp=b"<x:xmpmeta/>", tags={274: 6, 315: "An Artist"}
    )
    data = tiff16.encode(arr, meta)
    import io

    im = Image.open(io.BytesIO(data))
    assert im.info["icc_profile"] == icc and im.info["xmp"] == b"<x:xmpmeta/>"
    assert im.info["dpi"] == pytest.approx((300, 300))
    assert im.tag_v2[315] == "An Artist" and im.tag_v2[274] == 6
    assert np.array_equal(tiff16.decode(data, im, "mem.tif"), arr)


def test_truncated_strip(tmp_path: Path) -> None:
    hand_tiff(tmp_path / "a.tif", deep(20, 20, 3), compression=8)
    data = (tmp_path / "a.tif").read_bytes()
    im = Image.open(tmp_path / "a.tif")
    with pytest.raises(ImageReadError, match=r"cut\.tif"):
        tiff16.decode(data[:40] + b"\0" * (len(data) - 40), im, "cut.tif")
