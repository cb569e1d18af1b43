"""Writing the array contract to a file: the encoder's options resolved once, then an atomic write.

Kept on write: ICC profile, EXIF (orientation as a tag; pixels are never rotated), DPI, PNG
text chunks, XMP (merged with the declarations). uint16 and float32 arrays go out at 16 bits in
PNG and TIFF and are reduced to 8 bits for JPEG and WebP (`fixative.image.formats` says which is
which).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .. import atomic
from ..declarations.xmp import DeclarationSettings
from ..errors import ImageWriteError, UnsupportedImageError
from . import formats, png16, tiff16
from .reading import _TIFF_LAYOUT_TAGS, XMP_KEY, EncodeHints, Metadata, _dpi, _np, _pil

if TYPE_CHECKING:
    import numpy as np


class HasDeclarations(Protocol):
    """Settings that carry declarations (`fixative.protection.settings.ProtectSettings`)."""

    @property
    def declarations(self) -> DeclarationSettings: ...


@dataclass(frozen=True)
class EncodeOptions:
    """How an output is encoded: its format and that encoder's parameters, decided once."""

    format: str  # a key of fixative.image.formats.FORMATS
    quality: int | None = None  # JPEG, and WebP unless lossless
    subsampling: int | None = None  # JPEG
    progressive: bool = False  # JPEG
    lossless: bool = False  # WebP
    compression: str | None = None  # TIFF

    @classmethod
    def resolve(
        cls, fmt: str, quality: int | None = None, hints: EncodeHints | None = None
    ) -> EncodeOptions:
        """The options for `fmt`: the asked `quality`, else the source's (`hints`), else the
        format's default. A lossless WebP source stays lossless unless a quality is asked."""
        spec = formats.get(fmt)
        formats.check_quality(quality)
        hints = hints or EncodeHints()
        if spec.name == "JPEG":
            return cls(
                spec.name,
                quality=quality or hints.quality or spec.default_quality,
                subsampling=hints.subsampling,
                progressive=hints.progressive,
            )
        if spec.name == "WEBP":
            if quality is None and hints.lossless:
                return cls(spec.name, lossless=True)
            return cls(spec.name, quality=quality or spec.default_quality)
        if spec.name == "TIFF":
            return cls(spec.name, compression=hints.compression)
        return cls(spec.name)


@dataclass(frozen=True)
class Written:
    """What was written: the facts a report gives about the output file."""

    dst: str
    format: str
    quality: int | None  # the JPEG/WebP quality used; None for lossless outputs
    declarations: bool
    c2pa: bool


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


def encode(
    buf: Any, pixels: np.ndarray, meta: Metadata, opts: EncodeOptions, xmp: bytes | None
) -> None:
    """Encode into the open binary file `buf`; `xmp` is the packet to embed (declarations)."""
    np = _np()
    image_mod = _pil()
    fmt = opts.format
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
    args: dict[str, Any] = {}
    if meta.icc_profile:
        args["icc_profile"] = meta.icc_profile
    if meta.exif:
        args["exif"] = meta.exif
    if meta.dpi and fmt != "WEBP":
        args["dpi"] = meta.dpi
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
        args["pnginfo"] = info
    elif fmt == "JPEG":
        args["quality"] = opts.quality
        if opts.subsampling is not None:
            args["subsampling"] = opts.subsampling
        if opts.progressive:
            args["progressive"] = True
        if xmp:
            args["xmp"] = xmp
    elif fmt == "WEBP":
        if opts.lossless:
            args["lossless"] = True
        else:
            args["quality"] = opts.quality
        args["exact"] = True  # keep the colour of transparent pixels
        if xmp:
            args["xmp"] = xmp
    elif fmt == "TIFF":
        if opts.compression:
            args["compression"] = opts.compression
        args.pop("exif", None)
        tiffinfo = {}
        tiffinfo.update(_exif_tags(meta.exif))
        if xmp:
            tiffinfo[700] = xmp
        args["tiffinfo"] = tiffinfo
    im.save(buf, format=fmt, **args)


def _exif_tags(exif: bytes | None) -> dict[int, Any]:
    """IFD0 tags of EXIF bytes that can be copied into a TIFF (not layout, not pointers)."""
    if not exif:
        return {}
    parsed = _pil().Exif()
    parsed.load(exif)
    return {k: v for k, v in parsed.items() if k not in _TIFF_LAYOUT_TAGS}


def _declare(
    fmt: str, decl: DeclarationSettings, existing: bytes | None, source: str
) -> bytes | None:
    """The XMP to write: the existing packet, merged with declarations when they are on."""
    if not decl.enabled:
        return existing
    from ..declarations.xmp import xmp_for

    return xmp_for(decl, existing, fmt=fmt, source=source)


def write_file(
    dst: str | os.PathLike[str],
    pixels: np.ndarray,
    meta: Metadata,
    opts: EncodeOptions,
    *,
    declarations: DeclarationSettings,
    overwrite: bool = False,
) -> Written:
    """Encode and write atomically (`fixative.atomic.write`): on any error `dst` is untouched."""
    dst = Path(dst)
    atomic.check_target(dst, overwrite)  # before the declarations' work, as before the encode
    xmp = _declare(opts.format, declarations, meta.xmp, str(dst))
    sign = declarations.enabled and declarations.c2pa

    def finish(tmp: str) -> None:
        if sign:
            from ..declarations.c2pa_sign import sign_c2pa

            sign_c2pa(tmp, opts.format, declarations, title=dst.name)

    try:
        atomic.write(
            dst, lambda fh: encode(fh, pixels, meta, opts, xmp), overwrite=overwrite, finish=finish
        )
    except ValueError as exc:  # Pillow's encoders reject some sizes and parameters this way
        if isinstance(exc, UnsupportedImageError):
            raise
        msg = f"{dst}: cannot encode the image as {opts.format} ({exc}); nothing was written"
        raise ImageWriteError(msg) from exc
    return Written(str(dst), opts.format, opts.quality, declarations.enabled, sign)


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    fmt: str,
    settings: HasDeclarations | DeclarationSettings | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    text: dict[str, str] | None = None,
    quality: int | None = None,
    overwrite: bool = False,
    xmp: bytes | None = None,
) -> Written:
    """Write an array (the `fixative.image.pixels` contract) atomically, with the declarations.

    For adapters that produce the pixels themselves. uint16 and float32 arrays are written as
    16-bit PNG, and reduced to 8 bits for JPEG and WebP.
    """
    from . import pixels as px

    px.check(pixels, str(path))
    # A ProtectSettings carries its declarations; taken by shape, as files sit below settings.
    decl = settings if isinstance(settings, DeclarationSettings | None) else settings.declarations
    opts = EncodeOptions.resolve(formats.normalise(fmt, str(path)), quality)
    meta = Metadata(icc_profile, exif, _dpi(dpi), dict(text or {}), xmp)
    return write_file(
        path,
        pixels,
        meta,
        opts,
        declarations=decl or DeclarationSettings(),
        overwrite=overwrite,
    )
