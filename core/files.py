"""Reading and writing image files with Pillow, keeping what the artist put in them.

Read: PNG, JPEG, TIFF, WebP in modes 1, L, LA, P (+transparency), RGB, RGBA, I;16, plus 16-bit
colour PNG through `png16`. CMYK is refused (converting it would change the artist's colours
behind their back). Kept on write: ICC profile, EXIF (orientation as a tag; pixels are never
rotated), DPI, PNG text chunks, XMP (merged with the declarations). Writes are atomic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic, png16, tiff16
from .declarations import DeclarationSettings
from .errors import (
    FixativeError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    OutputExistsError,
    SettingsError,
    UnsupportedImageError,
    missing,
)
from .settings import ProtectSettings

if TYPE_CHECKING:
    import numpy as np

    from .protect import Cancel, Progress
    from .report import ProtectReport

FORMATS = {
    "PNG": (".png",),
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "TIFF": (".tif", ".tiff"),
    "WEBP": (".webp",),
}
# Pillow's own decompression-bomb limit; above it Pillow refuses to decode anyway.
MAX_PIXELS = 2 * 89_478_485
DEFAULT_WEBP_QUALITY = 90
DEFAULT_JPEG_QUALITY = 90
XMP_KEY = png16.XMP_KEY

# libjpeg's standard luminance table (quality 50), natural order: the reference for estimates.
_STD_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip


@dataclass
class ImageFile:
    """A decoded image in the array contract plus everything needed to write it back alike."""

    pixels: np.ndarray
    format: str
    mode: str  # the source's Pillow mode ("RGB;16" etc. for 16-bit colour PNG)
    grey: bool = False  # source was greyscale: written back as greyscale
    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict)
    xmp: bytes | None = None
    quality: int | None = None  # JPEG: estimated from the quantisation tables
    subsampling: int | None = None
    progressive: bool = False  # JPEG
    lossless: bool = False  # WebP
    compression: str | None = None  # TIFF


def format_for(path: str | os.PathLike[str]) -> str | None:
    """The format a file name's extension implies, or None."""
    ext = Path(path).suffix.lower()
    for fmt, exts in FORMATS.items():
        if ext in exts:
            return fmt
    return None


def normalise_format(fmt: str, source: str = "") -> str:
    name = fmt.upper().lstrip(".")
    name = {"JPG": "JPEG", "TIF": "TIFF"}.get(name, name)
    if name not in FORMATS:
        where = f"{source}: " if source else ""
        msg = f"{where}cannot write format {fmt!r}; use one of: png, jpeg, tiff, webp"
        raise SettingsError(msg)
    return name


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
    import io

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
    if fmt not in FORMATS:
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
    result = ImageFile(
        pixels=np.ascontiguousarray(arr),
        format=fmt,
        mode=mode,
        grey=grey,
        icc_profile=info.get("icc_profile") or None,
        exif=exif or None,
        dpi=_dpi(info.get("dpi")),
        text=text,
        xmp=xmp or None,
    )
    if fmt == "JPEG":
        from PIL import JpegImagePlugin

        result.quality = estimate_jpeg_quality(getattr(im, "quantization", {}) or {})
        sampling = JpegImagePlugin.get_sampling(im)
        result.subsampling = sampling if sampling >= 0 else None
        result.progressive = bool(info.get("progressive") or info.get("progression"))
    elif fmt == "WEBP":
        result.lossless = _webp_lossless(data)
    elif fmt == "TIFF":
        comp = info.get("compression")
        result.compression = None if comp in (None, "raw") else comp
    return result


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
    import struct

    w, h = struct.unpack(">II", data[16:24])
    _check_size(w, h, path, max_pixels)
    arr, meta = png16.decode(data, str(path))
    grey = arr.shape[2] == 2
    return ImageFile(
        pixels=_grey_to_rgb(arr) if grey else arr,
        format="PNG",
        mode={2: "LA;16", 3: "RGB;16", 4: "RGBA;16"}[arr.shape[2]],
        grey=grey,
        icc_profile=meta.icc,
        exif=meta.exif,
        dpi=meta.dpi,
        text=meta.text,
        xmp=meta.xmp,
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
    return ImageFile(
        pixels=_grey_to_rgb(arr) if grey else arr,
        format="TIFF",
        mode=mode,
        grey=grey,
        icc_profile=im.info.get("icc_profile") or None,
        exif=_tiff_tags(im, path, orientation),
        dpi=_dpi(im.info.get("dpi")),
        xmp=xmp.encode("utf-8") if isinstance(xmp, str) else xmp,
    )


# --- writing ---


def _to_grey(pixels: np.ndarray) -> np.ndarray:
    """RGB(A) -> grey(+alpha) by the mean of R, G, B: for a grey source, the perturbation's
    luminance part is what survives."""
    np = _np()
    rgb = pixels[..., :3]
    if pixels.dtype == np.float32:
        g = rgb.mean(axis=2, keepdims=True, dtype=np.float32)
    else:
        g = np.rint(rgb.mean(axis=2, keepdims=True)).astype(pixels.dtype)
    return np.concatenate([g, pixels[..., 3:]], axis=2)


def _encode(
    buf: Any, pixels: np.ndarray, fmt: str, meta: ImageFile, xmp: bytes | None, quality: int | None
) -> None:
    """Encode into the open binary file `buf`."""
    np = _np()
    image_mod = _pil()
    arr = _to_grey(pixels) if meta.grey else pixels
    channels = arr.shape[2]
    if arr.dtype == np.float32:  # floats go out at 16 bits in PNG, 8 elsewhere
        arr = np.rint(arr * (65535.0 if fmt == "PNG" else 255.0)).astype(
            np.uint16 if fmt == "PNG" else np.uint8
        )
    if arr.dtype == np.uint16 and fmt in ("JPEG", "WEBP"):
        arr = np.rint(arr / 257.0).astype(np.uint8)  # 8-bit formats
    if arr.dtype == np.uint16 and channels != 1:  # Pillow cannot write 16-bit colour
        if fmt == "TIFF":
            tags = _exif_tags(meta.exif)
            buf.write(tiff16.encode(arr, tiff16.TiffMeta(meta.icc_profile, meta.dpi, xmp, tags)))
        else:
            pm = png16.PngMeta(meta.icc_profile, meta.exif, meta.dpi, dict(meta.text), xmp)
            buf.write(png16.encode(arr, pm))
        return
    if channels == 1:
        im = image_mod.fromarray(arr[..., 0])  # L or I;16
    elif channels == 2:
        im = image_mod.fromarray(arr, "LA")
    else:
        im = image_mod.fromarray(arr, "RGBA" if channels == 4 else "RGB")
    if fmt == "JPEG" and channels in (2, 4):
        msg = "JPEG cannot store transparency; choose PNG, TIFF or WebP for images with alpha"
        raise UnsupportedImageError(msg)
    opts: dict[str, Any] = {}
    if meta.icc_profile:
        opts["icc_profile"] = meta.icc_profile
    if meta.exif:
        opts["exif"] = meta.exif
    if meta.dpi and fmt != "WEBP":
        opts["dpi"] = meta.dpi
    if fmt == "PNG":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        for key, value in meta.text.items():
            if isinstance(value, PngImagePlugin.iTXt):
                info.add_itxt(key, value, value.lang or "", value.tkey or "")
            else:
                try:
                    value.encode("latin-1")
                    info.add_text(key, value)
                except UnicodeEncodeError:
                    info.add_itxt(key, value)
        if xmp:
            info.add_itxt(XMP_KEY, xmp.decode("utf-8"))
        opts["pnginfo"] = info
    elif fmt == "JPEG":
        opts["quality"] = quality or meta.quality or DEFAULT_JPEG_QUALITY
        if meta.subsampling is not None:
            opts["subsampling"] = meta.subsampling
        if meta.progressive:
            opts["progressive"] = True
        if xmp:
            opts["xmp"] = xmp
    elif fmt == "WEBP":
        if quality is None and meta.lossless:
            opts["lossless"] = True
        else:
            opts["quality"] = quality or DEFAULT_WEBP_QUALITY
        opts["exact"] = True  # keep the colour of transparent pixels
        if xmp:
            opts["xmp"] = xmp
    elif fmt == "TIFF":
        if meta.compression:
            opts["compression"] = meta.compression
        opts.pop("exif", None)
        tiffinfo = {}
        tiffinfo.update(_exif_tags(meta.exif))
        if xmp:
            tiffinfo[700] = xmp
        opts["tiffinfo"] = tiffinfo
    im.save(buf, format=fmt, **opts)


def _exif_tags(exif: bytes | None) -> dict[int, Any]:
    """IFD0 tags of EXIF bytes that can be copied into a TIFF (not layout, not pointers)."""
    if not exif:
        return {}
    parsed = _pil().Exif()
    parsed.load(exif)
    return {k: v for k, v in parsed.items() if k not in _TIFF_LAYOUT_TAGS}


# Tags that describe the pixel layout; Pillow writes its own, copying the source's would lie.
_TIFF_LAYOUT_TAGS = frozenset(
    {254, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 282, 283, 284, 296, 317, 338, 339}
    | {320, 322, 323, 324, 325, 347, 530, 531, 532, 700, 34675, 34665, 34853, 40965}
)


def _write_error(dst: Path, exc: OSError) -> ImageWriteError:
    if exc.errno == errno.ENOSPC:
        reason = "disk full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied" if exc.errno != errno.EROFS else "read-only file system"
    else:
        reason = exc.strerror or str(exc)
    return ImageWriteError(f"{dst}: cannot write the output ({reason}); nothing was written")


def _declare(
    fmt: str, decl: DeclarationSettings, existing: bytes | None, source: str
) -> bytes | None:
    """The XMP to write: the existing packet, merged with declarations when they are on."""
    if not decl.enabled:
        return existing
    from .declarations import xmp_for

    return xmp_for(decl, existing, fmt=fmt, source=source)


_UMASK: list[int] = []
_UMASK_LOCK = threading.Lock()


def _final_mode(dst: Path) -> int:
    """An overwritten file keeps its mode; a new one gets what open() would give it."""
    try:
        return os.stat(dst).st_mode & 0o7777
    except OSError:
        pass
    with _UMASK_LOCK:  # reading the umask means setting it: do it once, under a lock
        if not _UMASK:
            umask = os.umask(0o022)
            os.umask(umask)
            _UMASK.append(umask)
    return 0o666 & ~_UMASK[0]


def write_file(
    dst: str | os.PathLike[str],
    pixels: np.ndarray,
    meta: ImageFile,
    *,
    fmt: str,
    declarations: DeclarationSettings,
    quality: int | None = None,
    overwrite: bool = False,
) -> None:
    """Encode and write atomically: a temporary file in the target folder, then a rename.

    On any error the temporary file is removed and `dst` is untouched.
    """
    dst = Path(dst)
    fmt = normalise_format(fmt, str(dst))
    if not overwrite and dst.exists():
        msg = f"{dst}: output already exists (use --overwrite to replace it)"
        raise OutputExistsError(msg)
    folder = dst.parent if str(dst.parent) else Path(".")
    if not folder.is_dir():
        msg = f"{dst}: cannot write the output (folder {folder} does not exist)"
        raise ImageWriteError(msg)
    xmp = _declare(fmt, declarations, meta.xmp, str(dst))
    tmp: str | None = None
    try:
        fd, tmp = atomic.create(folder, dst.name)  # hidden; removed by the next run if killed
        with os.fdopen(fd, "wb") as fh:
            _encode(fh, pixels, fmt, meta, xmp, quality)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _final_mode(dst))
        if declarations.enabled and declarations.c2pa:
            from .c2pa_sign import sign_c2pa

            sign_c2pa(tmp, fmt, declarations, title=dst.name)
        _commit(Path(tmp), dst, overwrite)
        atomic.release(tmp)
        tmp = None
    except FixativeError:
        raise
    except OSError as exc:
        raise _write_error(dst, exc) from exc
    except ValueError as exc:  # Pillow's encoders reject some sizes and parameters this way
        msg = f"{dst}: cannot encode the image as {fmt} ({exc}); nothing was written"
        raise ImageWriteError(msg) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            atomic.release(tmp)


def _commit(tmp: Path, dst: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dst)
        return
    # link() fails if dst appeared meanwhile: no-clobber without a check-then-rename race.
    try:
        os.link(tmp, dst)
    except FileExistsError:
        msg = f"{dst}: output already exists (use --overwrite to replace it)"
        raise OutputExistsError(msg) from None
    except OSError:  # file systems without hard links
        if dst.exists():
            msg = f"{dst}: output already exists (use --overwrite to replace it)"
            raise OutputExistsError(msg) from None
        os.replace(tmp, dst)
        return
    os.unlink(tmp)


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    fmt: str,
    settings: ProtectSettings | DeclarationSettings | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    text: dict[str, str] | None = None,
    quality: int | None = None,
    overwrite: bool = False,
    xmp: bytes | None = None,
) -> None:
    """Write an array (the `fixative.pixels` contract) atomically, with the declarations.

    For adapters that produce the pixels themselves. uint16 and float32 arrays are written as
    16-bit PNG, and reduced to 8 bits for JPEG and WebP.
    """
    from . import pixels as px

    px.check(pixels, str(path))
    decl = settings.declarations if isinstance(settings, ProtectSettings) else settings
    meta = ImageFile(
        pixels=pixels,
        format=normalise_format(fmt, str(path)),
        mode="",
        icc_profile=icc_profile,
        exif=exif,
        dpi=_dpi(dpi),
        text=dict(text or {}),
        xmp=xmp,
    )
    write_file(
        path,
        pixels,
        meta,
        fmt=meta.format,
        declarations=decl or DeclarationSettings(),
        quality=quality,
        overwrite=overwrite,
    )


def protect_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str] | None = None,
    settings: ProtectSettings | None = None,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    overwrite: bool = False,
    fmt: str | None = None,
    quality: int | None = None,
    icc_profile: bytes | None = None,
) -> ProtectReport:
    """Protect an image file. `dst=None` means in place (replacing `src` atomically).

    The format is `fmt`, else the one `dst`'s extension names, else the source's.
    `icc_profile` replaces the source's profile when given.
    """
    from .protect import protect_array

    settings = settings or ProtectSettings()
    if quality is not None and not 1 <= quality <= 100:
        msg = f"quality must be between 1 and 100, not {quality}"
        raise SettingsError(msg)
    src = Path(src)
    start = time.perf_counter()
    # Only dst=None replaces the input unasked; naming the input as dst needs overwrite=True.
    in_place = dst is None
    target = src if dst is None else Path(dst)
    if target.exists() and not overwrite and not in_place:
        msg = f"{target}: output already exists (use --overwrite to replace it)"
        raise OutputExistsError(msg)
    image = read_image(src)
    out_fmt = _choose_format(fmt, target, image.format)
    if out_fmt == "JPEG" and image.pixels.shape[2] == 4:  # before the work, not after it
        named = format_for(src)
        misnamed = ""
        if named is not None and named != image.format:
            misnamed = f" (it is a {image.format} file named {src.suffix})"
        msg = (
            f"{src}: JPEG cannot store transparency, which this image has{misnamed}; write "
            f"{target} as PNG, TIFF or WebP instead (--format, or another extension)"
        )
        raise UnsupportedImageError(msg)
    if icc_profile is not None:
        image.icc_profile = icc_profile
    if settings.declarations.enabled and image.xmp:  # a hostile packet: refused before the work
        from .declarations import xmp_for

        xmp_for(settings.declarations, image.xmp, source=str(src))  # size: checked on write
    protected, report = protect_array(image.pixels, settings, progress=progress, cancel=cancel)
    write_file(
        target,
        protected,
        image,
        fmt=out_fmt,
        declarations=settings.declarations,
        quality=quality,
        overwrite=overwrite or in_place,
    )
    used_quality = None
    if out_fmt == "JPEG":
        used_quality = quality or image.quality or DEFAULT_JPEG_QUALITY
    elif out_fmt == "WEBP" and not (quality is None and image.lossless):
        used_quality = quality or DEFAULT_WEBP_QUALITY
    decl = settings.declarations
    return dataclasses.replace(
        report,
        src=str(src),
        dst=str(target),
        format=out_fmt,
        quality=used_quality,
        declarations=decl.enabled,
        c2pa=decl.enabled and decl.c2pa,
        seconds=time.perf_counter() - start,
    )


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
                import struct

                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            fh.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with _pil().open(fh) as im:
                    return int(im.width), int(im.height)
    except Exception:  # whatever is wrong with the source, protecting it will say so
        return None


def _choose_format(fmt: str | None, target: Path, source_fmt: str) -> str:
    implied = format_for(target)
    if fmt is not None:
        chosen = normalise_format(fmt, str(target))
        if implied is not None and implied != chosen:
            msg = f"{target}: the extension says {implied} but the format asked for is {chosen}"
            raise SettingsError(msg)
        return chosen
    return implied or source_fmt
