"""Reading image files with Pillow into the array contract, with what the artist put in them.

Read: PNG, JPEG, TIFF, WebP in modes 1, L, LA, P (+transparency), RGB, RGBA, I;16, plus 16-bit
colour PNG and TIFF through `png16` and `tiff16`. CMYK is refused (converting it would change the
artist's colours behind their back). What a file carries besides pixels (`Metadata`) and how it
was encoded (`EncodeHints`) are kept apart, so that `fixative.image.writing` can write it back
alike.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    FixativeError,
    ImageReadError,
    ImageTooLargeError,
    UnsupportedImageError,
    missing,
)
from . import formats, png16, tiff16

if TYPE_CHECKING:
    import numpy as np

# Pillow's own decompression-bomb limit; above it Pillow refuses to decode anyway.
MAX_PIXELS = 2 * 89_478_485
XMP_KEY = png16.XMP_KEY

# libjpeg's standard luminance table (quality 50), natural order: the reference for estimates.
_STD_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


@dataclass
class Metadata:
    """What a file carries besides its pixels; written back with them."""

    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks (XMP apart)
    xmp: bytes | None = None
    grey: bool = False  # the source was greyscale: written back as greyscale


@dataclass(frozen=True)
class EncodeHints:
    """How the source was encoded, so that the output can be encoded alike."""

    quality: int | None = None  # JPEG: estimated from the quantisation tables
    subsampling: int | None = None  # JPEG
    progressive: bool = False  # JPEG
    lossless: bool = False  # WebP
    compression: str | None = None  # TIFF


@dataclass
class ImageFile:
    """A decoded image: pixels in the array contract, its metadata and its encoding."""

    pixels: np.ndarray
    format: str  # a key of fixative.image.formats.FORMATS
    mode: str  # the source's Pillow mode ("RGB;16" etc. for 16-bit colour)
    meta: Metadata = field(default_factory=Metadata)
    hints: EncodeHints = field(default_factory=EncodeHints)


def estimate_jpeg_quality(tables: dict[int, Any]) -> int | None:
    """The libjpeg quality (1-100) whose scaled standard luminance table is closest."""
    luma = tables.get(0)
    if luma is None or len(luma) != 64:
        return None
    best, best_err = None, None
    for q in range(1, 101):
        s = 5000 / q if q < 50 else 200 - 2 * q
        err = sum(
            abs(min(max((b * s + 50) // 100, 1), 255) - t)
            for b, t in zip(_STD_LUMA, luma, strict=True)
        )
        if best_err is None or err < best_err:
            best, best_err = q, err
    return best


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise missing("pillow", "read and write images") from exc
    return Image


def _np() -> Any:
    try:
        import numpy
    except ImportError as exc:
        raise missing("numpy", "protect images") from exc
    return numpy


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        msg = f"{path}: file not found"
        raise ImageReadError(msg) from None
    except IsADirectoryError:
        msg = f"{path}: is a folder, not an image file"
        raise ImageReadError(msg) from None
    except PermissionError:
        msg = f"{path}: cannot read the file (permission denied)"
        raise ImageReadError(msg) from None
    except OSError as exc:
        msg = f"{path}: cannot read the file ({exc.strerror or exc})"
        raise ImageReadError(msg) from exc
    if not data:
        msg = f"{path}: empty file (0 bytes), not an image"
        raise ImageReadError(msg)
    return data


def _check_size(w: int, h: int, path: Path, limit: int) -> None:
    if w * h > limit:
        msg = (
            f"{path}: image is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the limit of "
            f"{limit / 1e6:.0f} megapixels"
        )
        raise ImageTooLargeError(msg)


def _webp_lossless(data: bytes) -> bool:
    if data[12:16] == b"VP8L":
        return True
    return data[12:16] == b"VP8X" and b"VP8L" in data[30:4096] and b"VP8 " not in data[30:4096]


def read_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> ImageFile:
    """Decode a PNG/JPEG/TIFF/WebP file into the array contract, with its metadata."""
    with warnings.catch_warnings():
        # e.g. "Tag data larger than file" from a damaged TIFF's tags (read again for EXIF):
        # a damaged file is refused or read, not warned about
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
        return _read_image(Path(path), max_pixels)


def _read_image(path: Path, max_pixels: int) -> ImageFile:
    data = _read_bytes(path)
    if png16.is_png16_colour(data[:32]):
        return _read_png16(data, path, max_pixels)
    image_mod = _pil()
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", image_mod.DecompressionBombWarning)
            # e.g. "Corrupt EXIF data": a damaged file is refused or read below, not warned about
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
            im = image_mod.open(io.BytesIO(data))
    except UnidentifiedImageError:
        msg = f"{path}: not an image file Fixative can read (or it is corrupt)"
        raise ImageReadError(msg) from None
    except image_mod.DecompressionBombError as exc:
        msg = f"{path}: image is too large ({exc})"
        raise ImageTooLargeError(msg) from None
    except (OSError, SyntaxError, ValueError) as exc:
        msg = f"{path}: corrupt image header ({exc})"
        raise ImageReadError(msg) from None
    fmt = im.format
    if fmt not in formats.FORMATS:
        msg = f"{path}: {fmt} files are not supported (PNG, JPEG, TIFF and WebP are)"
        raise UnsupportedImageError(msg)
    try:
        n_frames = getattr(im, "n_frames", 1)  # TIFF: walks every IFD, which may be corrupt
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, EOFError) as exc:
        msg = f"{path}: corrupt image header ({exc})"
        raise ImageReadError(msg) from None
    if n_frames > 1:
        kind = "multi-page" if fmt == "TIFF" else "animated"
        msg = f"{path}: {kind} images are not supported (it has {n_frames} frames)"
        raise UnsupportedImageError(msg)
    _check_size(im.width, im.height, path, max_pixels)
    if im.mode == "CMYK":
        msg = (
            f"{path}: CMYK images are not supported; convert to RGB with your editor's "
            "colour management, then protect the RGB file you publish"
        )
        raise UnsupportedImageError(msg)
    orientation = im.tag_v2.get(274) if fmt == "TIFF" else None
    if fmt == "TIFF" and tiff16.is_16bit_colour(im):
        return _read_tiff16(data, im, path, orientation)
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        msg = f"{path}: truncated or corrupt image data ({exc})"
        raise ImageReadError(msg) from None
    info = im.info
    tiff_exif = _tiff_tags(im, path, orientation) if fmt == "TIFF" else None
    if orientation in _UNDO_TRANSPOSE:
        # Pillow rotates TIFF pixels on load and drops the tag; undo that, keep the tag.
        im = im.transpose(_UNDO_TRANSPOSE[orientation])
    return _from_pillow(im, fmt, info, data, path, tiff_exif)


# Pillow's exif_transpose per orientation, inverted (only 6 and 8 are not self-inverse), as
# Image.Transpose values: 0 FLIP_LEFT_RIGHT, 1 FLIP_TOP_BOTTOM, 2 ROTATE_90, 3 ROTATE_180,
# 4 ROTATE_270, 5 TRANSPOSE, 6 TRANSVERSE.
_UNDO_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 2, 7: 6, 8: 4}


def _from_pillow(
    im: Any, fmt: str, info: dict[str, Any], data: bytes, path: Path, tiff_exif: bytes | None
) -> ImageFile:
    np = _np()
    mode = im.mode
    grey = False
    if mode in ("RGB", "RGBA"):
        arr = np.asarray(im)
    elif mode in ("1", "L", "LA"):
        grey = True
        arr = np.asarray(im.convert("LA" if mode == "LA" else "L"))
        arr = _grey_to_rgb(arr if arr.ndim == 3 else arr[..., None])
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in im.info
        arr = np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    elif mode in ("I;16", "I;16L", "I;16B", "I;16N") or (mode == "I" and fmt == "PNG"):
        grey = True
        arr = np.asarray(im).astype(np.uint16)[..., None]
        arr = _grey_to_rgb(arr)
    else:
        msg = f"{path}: colour mode {mode} is not supported"
        raise UnsupportedImageError(msg)
    text = {}
    if fmt == "PNG":
        text = {k: v for k, v in im.text.items() if k != XMP_KEY}
    xmp = info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    exif = tiff_exif if fmt == "TIFF" else info.get("exif")
    meta = Metadata(
        icc_profile=info.get("icc_profile") or None,
        exif=exif or None,
        dpi=_dpi(info.get("dpi")),
        text=text,
        xmp=xmp or None,
        grey=grey,
    )
    return ImageFile(np.ascontiguousarray(arr), fmt, mode, meta, _hints(im, fmt, info, data))


def _hints(im: Any, fmt: str, info: dict[str, Any], data: bytes) -> EncodeHints:
    if fmt == "JPEG":
        from PIL import JpegImagePlugin

        sampling = JpegImagePlugin.get_sampling(im)
        return EncodeHints(
            quality=estimate_jpeg_quality(getattr(im, "quantization", {}) or {}),
            subsampling=sampling if sampling >= 0 else None,
            progressive=bool(info.get("progressive") or info.get("progression")),
        )
    if fmt == "WEBP":
        return EncodeHints(lossless=_webp_lossless(data))
    if fmt == "TIFF":
        comp = info.get("compression")
        return EncodeHints(compression=None if comp in (None, "raw") else comp)
    return EncodeHints()


def _tiff_tags(im: Any, path: Path, orientation: int | None) -> bytes | None:
    """A TIFF's descriptive IFD0 tags (orientation, description, artist...) as EXIF bytes.

    Pillow cannot carry a TIFF's EXIF sub-IFD; layout tags are written afresh by the encoder.
    """
    exif = _pil().Exif()
    for key, value in im.getexif().items():
        if key not in _TIFF_LAYOUT_TAGS:
            exif[key] = value
    if orientation is not None:
        exif[274] = orientation
    if not len(exif):
        return None
    try:
        return exif.tobytes()
    except Exception:  # an odd tag type Pillow cannot serialise: keep the pixels, say so
        warnings.warn(f"{path}: TIFF tags could not be carried over", stacklevel=2)
        return None


def _dpi(value: Any) -> tuple[float, float] | None:
    if not value:
        return None
    try:
        x, y = float(value[0]), float(value[1])
    except (TypeError, ValueError, IndexError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _grey_to_rgb(arr: np.ndarray) -> np.ndarray:
    np = _np()
    grey = arr[..., :1]
    parts = [grey, grey, grey] + ([arr[..., 1:2]] if arr.shape[2] == 2 else [])
    return np.concatenate(parts, axis=2)


def _read_png16(data: bytes, path: Path, max_pixels: int) -> ImageFile:
    w, h = struct.unpack(">II", data[16:24])
    _check_size(w, h, path, max_pixels)
    arr, meta = png16.decode(data, str(path))
    grey = arr.shape[2] == 2
    return ImageFile(
        pixels=_grey_to_rgb(arr) if grey else arr,
        format="PNG",
        mode={2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[arr.shape[2]],
        meta=Metadata(meta.icc, meta.exif, meta.dpi, meta.text, meta.xmp, grey),
    )


def _read_tiff16(data: bytes, im: Any, path: Path, orientation: int | None) -> ImageFile:
    """16-bit colour TIFF, decoded here since Pillow would keep only 8 bits (stored layout)."""
    try:
        arr = tiff16.decode(data, im, str(path))
        mode = {2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[arr.shape[2]]
    except FixativeError:
        raise
    except (KeyError, TypeError, ValueError, OSError, SyntaxError, EOFError) as exc:
        # missing or inconsistent tags in a damaged file (e.g. no width, a bad sample count)
        msg = f"{path}: corrupt TIFF (bad or missing tags: {exc!r})"
        raise ImageReadError(msg) from None
    grey = arr.shape[2] == 2
    xmp = im.info.get("xmp")
    meta = Metadata(
        icc_profile=im.info.get("icc_profile") or None,
        exif=_tiff_tags(im, path, orientation),
        dpi=_dpi(im.info.get("dpi")),
        xmp=xmp.encode("utf-8") if isinstance(xmp, str) else xmp,
        grey=grey,
    )
    return ImageFile(_grey_to_rgb(arr) if grey else arr, "TIFF", mode, meta)


# Tags that describe the pixel layout; Pillow writes its own, copying the source's would lie.
_TIFF_LAYOUT_TAGS = frozenset(
    {254, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 282, 283, 284, 296, 317, 338, 339}
    | {320, 322, 323, 324, 325, 347, 530, 531, 532, 700, 34675, 34665, 34853, 40965}
)


# --- checking an existing output ---


def output_problem(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS
) -> str | None:
    """Why the existing `dst` is not a finished output of `src`, or None when it is one.

    Finished means: it decodes completely and has the source's size (when the source's header
    can be read). Fixative's own outputs are always finished (they appear by an atomic rename);
    this catches a file cut short by another program, or one that belongs to another picture.
    """
    src, dst = Path(src), Path(dst)
    try:
        out = read_image(dst, max_pixels=max_pixels)
    except FixativeError as exc:
        text = str(exc)
        prefix = f"{dst}: "
        return text[len(prefix) :] if text.startswith(prefix) else text
    height, width = out.pixels.shape[:2]
    size = _header_size(src)
    if size is not None and size != (width, height):
        return f"it is {width}x{height} but {src} is {size[0]}x{size[1]}"
    return None


def _header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from an image's header, without decoding it; None when unreadable."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(32)
            if png16.is_png16_colour(head):
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            fh.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with _pil().open(fh) as im:
                    return int(im.width), int(im.height)
    except Exception:  # whatever is wrong with the source, protecting it will say so
        return None
