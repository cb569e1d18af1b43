"""fixative.jobs.files: formats and modes, metadata kept, bad inputs refused, atomic writes."""

from __future__ import annotations

import errno
import functools
import io
import os
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fixative import (
    DeclarationSettings,
    FixativeError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    ProtectSettings,
    SettingsError,
    UnsupportedImageError,
    protect_file,
    read_image,
    write_image,
)
from fixative.image.reading import estimate_jpeg_quality
from PIL import Image, ImageCms, PngImagePlugin

DECLARED = b"DMI-PROHIBITED-GENAIMLTRAINING"


def noise(h: int = 48, w: int = 64, mode: str = "RGB", seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = len(mode) if mode in ("RGB", "RGBA", "LA") else 1
    arr = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    return Image.fromarray(arr[..., 0] if channels == 1 else arr, mode)


@functools.cache
def srgb_icc() -> bytes:
    """One sRGB profile per run: its header holds the creation time, so build it once."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    exif[0x010F] = "Fixative Test Camera"
    exif[0x013B] = "An Artist"
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"
    return exif.tobytes()


def png16_file(path: Path, arr: np.ndarray, text: dict[str, str] | None = None) -> None:
    from fixative.image import png16

    path.write_bytes(png16.encode(arr, png16.PngMeta(text=text or {}, dpi=(300.0, 300.0))))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


# --- the bad-input corpus: each gives a clear error, no output, input unchanged ---


def _truncated_png(p: Path) -> None:
    buf = io.BytesIO()
    noise(200, 200).save(buf, "PNG")
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _truncated_jpeg(p: Path) -> None:
    buf = io.BytesIO()
    noise(200, 200).save(buf, "JPEG", quality=90)
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _huge_header(p: Path) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\0" * 1000)
    p.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def _cmyk_jpeg(p: Path) -> None:
    noise(32, 32).convert("CMYK").save(p, "JPEG")


def _animated_gif(p: Path) -> None:
    frames = [noise(16, 16, "RGB", s).convert("P") for s in range(3)]
    frames[0].save(p, "GIF", save_all=True, append_images=frames[1:])


def _animated_webp(p: Path) -> None:
    frames = [noise(16, 16, "RGB", s) for s in range(3)]
    frames[0].save(p, "WEBP", save_all=True, append_images=frames[1:], lossless=True)


def _multipage_tiff(p: Path) -> None:
    frames = [noise(16, 16, "RGB", s) for s in range(2)]
    frames[0].save(p, "TIFF", save_all=True, append_images=frames[1:])


def _tiff16_jpeg(p: Path) -> None:
    """A 16-bit RGB TIFF header saying JPEG compression, which Fixative cannot decode."""
    w, h = 4, 3
    pixels = b"\0" * (w * h * 6)
    tags = [(256, w), (257, h), (258, None), (259, 7), (262, 2), (273, None), (277, 3)]
    tags += [(278, h), (279, len(pixels))]
    ifd_at, n = 8, len(tags)
    bps_at = ifd_at + 2 + n * 12 + 4
    data_at = bps_at + 6
    out = bytearray(b"II*\0" + struct.pack("<I", ifd_at) + struct.pack("<H", n))
    for tag, value in tags:
        if tag == 258:
            out += struct.pack("<HHII", tag, 3, 3, bps_at)
        elif tag in (273, 279):
            out += struct.pack("<HHII", tag, 4, 1, data_at if tag == 273 else value)
        else:
            out += struct.pack("<HHIHH", tag, 3, 1, value, 0)
    out += struct.pack("<I", 0) + struct.pack("<HHH", 16, 16, 16) + pixels
    p.write_bytes(bytes(out))


def _junk_behind(magic: bytes) -> Callable[[Path], None]:
    """Random bytes behind a valid magic number (a file that only claims to be an image)."""

    def make(p: Path) -> None:
        junk = np.random.default_rng(len(magic)).integers(0, 256, 4000, dtype=np.uint8)
        p.write_bytes(magic + junk.tobytes())

    return make


def _riff(fourcc: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4004) + b"WEBP" + fourcc


CORPUS = {
    "truncated.png": (_truncated_png, ImageReadError, "truncated or corrupt"),
    "truncated.jpg": (_truncated_jpeg, ImageReadError, "truncated or corrupt"),
    "empty.png": (lambda p: p.write_bytes(b""), ImageReadError, "empty file"),
    "text.png": (lambda p: p.write_text("just text\n"), ImageReadError, "not an image file"),
    "huge.png": (_huge_header, ImageTooLargeError, "too large|over the limit"),
    "cmyk.jpg": (_cmyk_jpeg, UnsupportedImageError, "CMYK"),
    "animated.gif": (_animated_gif, UnsupportedImageError, "GIF files are not supported"),
    "animated.webp": (_animated_webp, UnsupportedImageError, "animated"),
    "pages.tif": (_multipage_tiff, UnsupportedImageError, "multi-page"),
    "jpeg16.tif": (_tiff16_jpeg, UnsupportedImageError, "16-bit colour TIFF with compression 7"),
    "folder.png": (lambda p: p.mkdir(), ImageReadError, "is a folder"),
    "bmp.png": (lambda p: noise().save(p, "BMP"), UnsupportedImageError, "BMP files"),
    "junk.png": (_junk_behind(b"\x89PNG\r\n\x1a\n"), ImageReadError, "not an image|corrupt"),
    "junk.jpg": (_junk_behind(b"\xff\xd8\xff\xe0"), ImageReadError, "not an image|corrupt"),
    "junk.tif": (_junk_behind(b"II*\0\x08\0\0\0"), ImageReadError, "not an image|corrupt"),
    "junk-be.tif": (_junk_behind(b"MM\0*\0\0\0\x08"), ImageReadError, "not an image|corrupt"),
    "junk.webp": (_junk_behind(_riff(b"VP8 ")), ImageReadError, "not an image|corrupt"),
    "junk-lossless.webp": (_junk_behind(_riff(b"VP8L")), ImageReadError, "not an image|corrupt"),
    "alpha-png-named.jpg": (  # misnamed, and its transparency cannot go into the JPEG it names
        lambda p: noise(mode="RGBA").save(p, "PNG"),
        UnsupportedImageError,
        r"JPEG cannot store transparency, which this image has \(it is a PNG file named \.jpg\)",
    ),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_inputs_give_clear_errors(conv_model: Path, tmp_path: Path, name: str) -> None:
    make, error, needle = CORPUS[name]
    src = tmp_path / name
    make(src)
    before = snapshot(tmp_path)
    dst = tmp_path / f"out-{name}"
    with pytest.raises(error, match=needle) as info:
        protect_file(src, dst)
    assert str(src) in str(info.value)
    assert snapshot(tmp_path) == before  # no output, no temporary file, input unchanged


# Odd files that must give a correct output: misnamed ones (the output is the format its name
# says), extreme aspect ratios. The input is never modified.
ODD = {
    "png-named.jpg": (lambda p: noise().save(p, "PNG"), "JPEG", (48, 64)),
    "jpeg-named.png": (lambda p: noise().save(p, "JPEG"), "PNG", (48, 64)),
    "webp-named.tif": (lambda p: noise().save(p, "WEBP", lossless=True), "TIFF", (48, 64)),
    "tiff-named.webp": (lambda p: noise().save(p, "TIFF"), "WEBP", (48, 64)),
    "one-row.png": (lambda p: noise(1, 3000).save(p), "PNG", (1, 3000)),
    "one-column.jpg": (lambda p: noise(3000, 1).save(p, "JPEG"), "JPEG", (3000, 1)),
    "sliver.webp": (lambda p: noise(2, 1500).save(p, "WEBP", lossless=True), "WEBP", (2, 1500)),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_inputs_give_correct_outputs(conv_model: Path, tmp_path: Path, name: str) -> None:
    make, fmt, shape = ODD[name]
    folder = tmp_path / "odd"
    folder.mkdir()
    src = folder / name
    make(src)
    before = src.read_bytes()
    dst = folder / f"out-{name}"
    report = protect_file(src, dst, ProtectSettings(mode="generator"))
    assert src.read_bytes() == before
    assert report.format == fmt and (report.height, report.width) == shape
    with Image.open(dst) as im:
        im.load()
        assert im.format == fmt and (im.height, im.width) == shape
    assert sorted(p.name for p in folder.iterdir()) == sorted([name, dst.name])


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="folder permissions do not bind root"
)
def test_read_only_output_folder(conv_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "a.png"
    noise().save(src)
    before = src.read_bytes()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ImageWriteError, match="permission denied") as info:
            protect_file(src, locked / "a.png", ProtectSettings(mode="generator"))
        assert str(locked / "a.png") in str(info.value)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)
    assert src.read_bytes() == before


def test_missing_input(conv_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="file not found"):
        protect_file(tmp_path / "nope.png", tmp_path / "out.png")


def test_pixel_limit_is_configurable(tmp_path: Path) -> None:
    noise(100, 100).save(tmp_path / "a.png")
    with pytest.raises(ImageTooLargeError, match="over the limit"):
        read_image(tmp_path / "a.png", max_pixels=9_999)
    assert read_image(tmp_path / "a.png", max_pixels=10_000).pixels.shape == (100, 100, 3)


# --- modes and bit depths ---


@pytest.mark.parametrize(
    ("mode", "out_mode"),
    [("RGB", "RGB"), ("RGBA", "RGBA"), ("L", "L"), ("LA", "LA"), ("1", "L")],
)
def test_modes_round_trip(conv_model: Path, tmp_path: Path, mode: str, out_mode: str) -> None:
    src = tmp_path / "in.png"
    noise(40, 50, "RGB").convert(mode).save(src)
    report = protect_file(src, tmp_path / "out.png")
    out = Image.open(tmp_path / "out.png")
    assert out.mode == out_mode and out.size == (50, 40)
    assert report.width == 50 and report.height == 40 and report.psnr < 99


def test_one_by_one_image(conv_model: Path, tmp_path: Path) -> None:
    noise(1, 1).save(tmp_path / "dot.png")
    protect_file(tmp_path / "dot.png", tmp_path / "out.png")
    assert Image.open(tmp_path / "out.png").size == (1, 1)


def test_palette_with_transparency(conv_model: Path, tmp_path: Path) -> None:
    im = noise(30, 30).convert("P")
    im.info["transparency"] = 0
    src = tmp_path / "pal.png"
    im.save(src, transparency=0)
    rgba = np.asarray(Image.open(src).convert("RGBA"))
    protect_file(src, tmp_path / "out.png")
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (30, 30, 4)
    clear = rgba[..., 3] == 0
    assert clear.any() and np.array_equal(out[clear], rgba[clear])
    assert np.array_equal(out[..., 3], rgba[..., 3])


def test_16_bit_grey_png_keeps_16_bits(conv_model: Path, tmp_path: Path) -> None:
    arr = (np.random.default_rng(3).random((40, 40)) * 65535).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    protect_file(tmp_path / "g16.png", tmp_path / "out.png")
    out = Image.open(tmp_path / "out.png")
    assert out.mode == "I;16"
    diff = np.asarray(out).astype(np.int64) - arr
    assert np.count_nonzero(diff % 257) > diff.size // 2


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16_bit_colour_png_keeps_16_bits(conv_model: Path, tmp_path: Path, channels: int) -> None:
    arr = (np.random.default_rng(4).random((40, 48, channels)) * 65535).astype(np.uint16)
    if channels in (2, 4):
        arr[:10, :, -1] = 0
    png16_file(tmp_path / "c16.png", arr, text={"Title": "deep"})
    # Fast mode: thorough's signed steps saturate at exactly ±ε, which at ε = 4/255 is a
    # multiple of 257 and would hide whether the perturbation kept its 16-bit precision.
    protect_file(tmp_path / "c16.png", tmp_path / "out.png", ProtectSettings(mode="generator"))
    back = read_image(tmp_path / "out.png")
    assert back.pixels.dtype == np.uint16 and back.meta.text["Title"] == "deep"
    assert back.meta.dpi == pytest.approx((300, 300), abs=0.05)
    src = read_image(tmp_path / "c16.png").pixels
    diff = back.pixels.astype(np.int64) - src
    assert np.count_nonzero(diff % 257) > diff.size // 4
    assert np.abs(diff).max() <= round(4 / 255 * 65535) + 1
    if channels in (2, 4):
        assert np.array_equal(back.pixels[:10], src[:10])


# --- metadata ---


def test_png_metadata_is_kept(conv_model: Path, tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Tiger")
    info.add_text("Description", "long text " * 50, zip=True)
    info.add_itxt("Author", "Zoë", lang="fr", tkey="Auteur")
    src = tmp_path / "meta.png"
    icc, exif = srgb_icc(), exif_bytes()
    noise(60, 40).save(src, icc_profile=icc, exif=exif, dpi=(300, 300), pnginfo=info)
    protect_file(src, tmp_path / "out.png")
    out = Image.open(tmp_path / "out.png")
    out.load()
    assert out.info["icc_profile"] == icc
    assert dict(out.getexif()) == dict(Image.open(src).getexif())
    assert out.getexif().get_ifd(0x8769) == {0x9003: "2024:05:06 07:08:09"}
    assert out.info["dpi"] == pytest.approx((300, 300), abs=0.05)
    assert out.text["Title"] == "Tiger" and out.text["Description"] == "long text " * 50
    assert out.text["Author"] == "Zoë" and out.text["Author"].lang == "fr"
    assert out.size == (40, 60)  # orientation 6 stays a tag; pixels not rotated
    assert DECLARED in out.info["xmp"]


def test_jpeg_metadata_quality_and_subsampling(conv_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    icc, exif = srgb_icc(), exif_bytes()
    noise(64, 80).save(src, quality=77, subsampling=1, icc_profile=icc, exif=exif, dpi=(240, 240))
    report = protect_file(src, tmp_path / "out.jpg")
    out = Image.open(tmp_path / "out.jpg")
    assert report.quality == 77 and report.format == "JPEG"
    assert estimate_jpeg_quality(out.quantization) == 77
    from PIL import JpegImagePlugin

    assert JpegImagePlugin.get_sampling(out) == 1
    assert out.info["icc_profile"] == icc and out.info["exif"] == Image.open(src).info["exif"]
    assert out.info["dpi"] == (240, 240)
    assert DECLARED in out.info["xmp"]


@pytest.mark.parametrize("quality", [20, 50, 75, 90, 95, 100])
def test_jpeg_quality_estimate(tmp_path: Path, quality: int) -> None:
    buf = io.BytesIO()
    noise().save(buf, "JPEG", quality=quality)
    assert estimate_jpeg_quality(Image.open(buf).quantization) == quality


def test_quality_override_and_format_change(conv_model: Path, tmp_path: Path) -> None:
    noise().save(tmp_path / "a.png")
    report = protect_file(tmp_path / "a.png", tmp_path / "a.jpg", quality=60)
    assert report.format == "JPEG" and report.quality == 60
    assert estimate_jpeg_quality(Image.open(tmp_path / "a.jpg").quantization) == 60
    protect_file(tmp_path / "a.png", tmp_path / "b.bin", fmt="webp")
    assert Image.open(tmp_path / "b.bin").format == "WEBP"
    with pytest.raises(SettingsError, match="extension says PNG"):
        protect_file(tmp_path / "a.png", tmp_path / "c.png", fmt="jpeg")
    noise(mode="RGBA").save(tmp_path / "alpha.png")
    with pytest.raises(UnsupportedImageError, match="JPEG cannot store transparency"):
        protect_file(tmp_path / "alpha.png", tmp_path / "alpha.jpg")
    assert not (tmp_path / "alpha.jpg").exists() and not (tmp_path / "c.png").exists()


def test_tiff_metadata_and_compression(conv_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "scan.tif"
    icc = srgb_icc()
    exif = Image.Exif()
    exif[0x0112] = 8
    exif[0x010E] = "a scanned drawing"
    exif[0x8298] = "(c) An Artist"
    im = noise(50, 70)
    im.save(src, compression="tiff_lzw", icc_profile=icc, dpi=(600, 600), exif=exif)
    protect_file(src, tmp_path / "out.tif")
    back = read_image(tmp_path / "out.tif")  # stored layout, not rotated for display
    assert back.pixels.shape == (50, 70, 3)
    assert np.abs(back.pixels.astype(int) - np.asarray(im)).max() <= 4 + 1
    out = Image.open(tmp_path / "out.tif")
    assert out.info["compression"] == "tiff_lzw" and out.info["icc_profile"] == icc
    assert out.info["dpi"] == pytest.approx((600, 600))
    tags = out.getexif()
    assert tags[0x0112] == 8 and tags[0x010E] == "a scanned drawing"
    assert tags[0x8298] == "(c) An Artist"
    assert DECLARED in out.info["xmp"]


def test_webp_lossless_stays_lossless(conv_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "art.webp"
    im = noise(40, 40, "RGBA")
    im.save(src, lossless=True, exact=True, icc_profile=srgb_icc(), exif=exif_bytes())
    report = protect_file(src, tmp_path / "out.webp")
    assert report.quality is None
    out = Image.open(tmp_path / "out.webp")
    assert out.info["icc_profile"] == srgb_icc() and DECLARED in out.info["xmp"]
    assert out.info["exif"].endswith(Image.open(src).info["exif"][-20:])
    a = np.asarray(out).astype(int)
    b = np.asarray(im).astype(int)
    clear = b[..., 3] == 0
    assert np.array_equal(a[clear], b[clear])  # exact: transparent colour kept
    assert np.abs(a - b).max() <= 4 + 1  # lossless: only the perturbation changed pixels


def test_no_declare_keeps_existing_xmp(conv_model: Path, tmp_path: Path) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
    noise().save(tmp_path / "a.jpg", xmp=xmp)
    off = ProtectSettings(declarations=DeclarationSettings(enabled=False))
    report = protect_file(tmp_path / "a.jpg", tmp_path / "b.jpg", off)
    assert not report.declarations
    assert Image.open(tmp_path / "b.jpg").info["xmp"] == xmp


def test_existing_xmp_is_merged(conv_model: Path, tmp_path: Path) -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="MyPainter 3"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    noise().save(tmp_path / "a.png", pnginfo=info)
    protect_file(tmp_path / "a.png", tmp_path / "b.png")
    out = Image.open(tmp_path / "b.png")
    out.load()
    assert b"MyPainter 3" in out.info["xmp"] and DECLARED in out.info["xmp"]
    assert list(out.text).count("XML:com.adobe.xmp") == 1


# --- writing: atomic, no overwrite unless asked, determinism ---


def test_existing_output_is_not_overwritten(conv_model: Path, tmp_path: Path) -> None:
    noise().save(tmp_path / "a.png")
    (tmp_path / "out.png").write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists"):
        protect_file(tmp_path / "a.png", tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes() == b"precious"
    protect_file(tmp_path / "a.png", tmp_path / "out.png", overwrite=True)
    assert Image.open(tmp_path / "out.png").format == "PNG"


def test_in_place_replaces_atomically_and_keeps_mode(conv_model: Path, tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    src = tmp_path / "img" / "a.png"
    noise().save(src)
    os.chmod(src, 0o640)
    before = src.read_bytes()
    report = protect_file(src)
    assert report.dst == str(src) and src.read_bytes() != before
    assert (src.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in src.parent.iterdir()) == ["a.png"]


class Boom(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "expected", "needle"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), ImageWriteError, "disk full"),
        (OSError(errno.EACCES, "Permission denied"), ImageWriteError, "permission denied"),
        (Boom("encoder crashed"), Boom, "encoder crashed"),
        (KeyboardInterrupt(), KeyboardInterrupt, None),
    ],
)
def test_interrupted_write_leaves_nothing(
    conv_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc, expected, needle
) -> None:
    src = tmp_path / "a.png"
    noise(100, 100).save(src)
    real_save = Image.Image.save

    def failing_save(self, fp, *args, **kwargs):  # writes part of the file, then fails
        real_save(self, io.BytesIO(), *args, **kwargs)
        fp.write(b"\x89PNG partial data")
        raise exc

    monkeypatch.setattr(Image.Image, "save", failing_save)
    before = snapshot(tmp_path)
    with pytest.raises(expected, match=needle):
        protect_file(src, tmp_path / "out.png")
    assert snapshot(tmp_path) == before
    with pytest.raises(expected):
        protect_file(src)  # in place: the original survives intact
    assert snapshot(tmp_path) == before


def test_missing_output_folder(conv_model: Path, tmp_path: Path) -> None:
    noise().save(tmp_path / "a.png")
    with pytest.raises(ImageWriteError, match="does not exist"):
        protect_file(tmp_path / "a.png", tmp_path / "nowhere" / "b.png")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif"])
def test_output_is_byte_identical_across_runs(conv_model: Path, tmp_path: Path, ext: str) -> None:
    noise(70, 90).save(tmp_path / f"a{ext}")
    protect_file(tmp_path / f"a{ext}", tmp_path / f"b{ext}")
    protect_file(tmp_path / f"a{ext}", tmp_path / f"c{ext}")
    assert (tmp_path / f"b{ext}").read_bytes() == (tmp_path / f"c{ext}").read_bytes()


def test_every_error_is_a_fixative_error(conv_model: Path, tmp_path: Path) -> None:
    for cls in (ImageReadError, ImageWriteError, UnsupportedImageError, SettingsError):
        assert issubclass(cls, FixativeError)
    assert issubclass(ImageReadError, OSError) and issubclass(UnsupportedImageError, ValueError)


# --- write_image, for adapters ---


def test_write_image_from_arrays(tmp_path: Path) -> None:
    f = np.random.default_rng(0).random((20, 30, 4)).astype(np.float32)
    write_image(tmp_path / "f.png", f, fmt="png", settings=ProtectSettings(), dpi=(72, 72))
    back = read_image(tmp_path / "f.png")
    assert back.pixels.dtype == np.uint16
    assert back.meta.xmp is not None and DECLARED in back.meta.xmp
    assert np.abs(back.pixels / 65535.0 - f).max() < 1e-4
    u8 = (f[..., :3] * 255).astype(np.uint8)
    write_image(
        tmp_path / "u.jpg",
        u8,
        fmt="JPEG",
        settings=DeclarationSettings(),
        icc_profile=srgb_icc(),
        exif=exif_bytes(),
        quality=92,
    )
    out = Image.open(tmp_path / "u.jpg")
    assert out.info["icc_profile"] == srgb_icc() and estimate_jpeg_quality(out.quantization) == 92
    assert out.getexif()[0x0112] == 6
    with pytest.raises(OutputExistsError):
        write_image(tmp_path / "u.jpg", u8, fmt="jpeg", settings=DeclarationSettings())
    with pytest.raises(SettingsError, match="cannot write format 'bmp'"):
        write_image(tmp_path / "x.bmp", u8, fmt="bmp", settings=DeclarationSettings())
    deep = (f * 65535).astype(np.uint16)
    write_image(tmp_path / "x.tif", deep, fmt="tiff", settings=DeclarationSettings(), dpi=(96, 96))
    back = read_image(tmp_path / "x.tif")
    assert back.pixels.dtype == np.uint16 and np.array_equal(back.pixels, deep)
    assert back.meta.xmp is not None and DECLARED in back.meta.xmp


def test_progressive_jpeg_stays_progressive(conv_model: Path, tmp_path: Path) -> None:
    noise(64, 64).save(tmp_path / "p.jpg", quality=88, progressive=True)
    protect_file(tmp_path / "p.jpg", tmp_path / "out.jpg")
    out = Image.open(tmp_path / "out.jpg")
    assert out.info.get("progressive") and estimate_jpeg_quality(out.quantization) == 88


def test_encoder_refusal_is_a_write_error(conv_model: Path, tmp_path: Path) -> None:
    """WebP cannot hold more than 16383 px per side: a clear error, nothing written."""
    noise(2, 16400).save(tmp_path / "wide.png")
    before = snapshot(tmp_path)
    with pytest.raises(ImageWriteError, match=r"wide\.webp: cannot encode the image as WEBP"):
        protect_file(tmp_path / "wide.png", tmp_path / "wide.webp")
    assert snapshot(tmp_path) == before


def test_new_output_gets_the_usual_permissions(conv_model: Path, tmp_path: Path) -> None:
    """The temporary file is private (0600) while written; the result is not."""
    noise().save(tmp_path / "a.png")
    protect_file(tmp_path / "a.png", tmp_path / "b.png")
    umask = os.umask(0o022)
    os.umask(umask)
    assert ((tmp_path / "b.png").stat().st_mode & 0o777) == 0o666 & ~umask


def test_naming_the_input_as_output_needs_overwrite(conv_model: Path, tmp_path: Path) -> None:
    noise().save(tmp_path / "a.png")
    before = (tmp_path / "a.png").read_bytes()
    with pytest.raises(OutputExistsError):
        protect_file(tmp_path / "a.png", tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == before
    protect_file(tmp_path / "a.png", tmp_path / "a.png", overwrite=True)
    assert (tmp_path / "a.png").read_bytes() != before
