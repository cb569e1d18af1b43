"""Protecting an image file: read it, protect its pixels, write it back alike.

Reading is `fixative.image.reading`, writing `fixative.image.writing` (atomic, with the
declarations), the formats `fixative.image.formats`; this module only puts them in order.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import atomic
from ..errors import UnsupportedImageError
from ..image import formats
from ..image.reading import read_image
from ..image.writing import EncodeOptions, write_file
from ..protection.settings import ProtectSettings

if TYPE_CHECKING:
    from ..protection.protect import Cancel, Progress
    from ..protection.report import ProtectReport


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
    from ..protection.protect import protect_array

    settings = settings or ProtectSettings()
    formats.check_quality(quality)
    src = Path(src)
    start = time.perf_counter()
    # Only dst=None replaces the input unasked; naming the input as dst needs overwrite=True.
    in_place = dst is None
    target = src if dst is None else Path(dst)
    if not in_place:
        atomic.check_target(target, overwrite)  # before the work, not after it
    image = read_image(src)
    opts = EncodeOptions.resolve(formats.choose(fmt, target, image.format), quality, image.hints)
    _check_alpha(src, target, image.format, image.pixels.shape[2], opts.format)
    if icc_profile is not None:
        image.meta.icc_profile = icc_profile
    decl = settings.declarations
    if decl.enabled and image.meta.xmp:  # a hostile packet: refused before the work
        from ..declarations.xmp import xmp_for

        xmp_for(decl, image.meta.xmp, source=str(src))  # size: checked on write
    protected, report = protect_array(image.pixels, settings, progress=progress, cancel=cancel)
    written = write_file(
        target,
        protected,
        image.meta,
        opts,
        declarations=decl,
        overwrite=overwrite or in_place,
    )
    return report.for_output(written, src=str(src), seconds=time.perf_counter() - start)


def _check_alpha(src: Path, target: Path, source_fmt: str, channels: int, out_fmt: str) -> None:
    """Refuse before the work, not after it, a format that would drop the image's alpha."""
    if channels != 4 or formats.get(out_fmt).alpha:
        return
    named = formats.for_path(src)
    misnamed = ""
    if named is not None and named.name != source_fmt:
        misnamed = f" (it is a {source_fmt} file named {src.suffix})"
    alpha_ok = formats.listing(f.label for f in formats.FORMATS.values() if f.alpha)
    msg = (
        f"{src}: {out_fmt} cannot store transparency, which this image has{misnamed}; write "
        f"{target} as {alpha_ok} instead"
    )
    raise UnsupportedImageError(msg)
