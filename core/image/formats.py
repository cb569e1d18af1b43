"""The output formats, once: names, extensions, what each can store, and the default file name.

Read by the reader and writer, the CLI and every host adapter (Krita, GIMP, Blender), the way
Pillow registers a format once. Plain Python: importing it needs neither numpy nor Pillow, so a
host whose own Python lacks them can still build its menus from it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError


@dataclass(frozen=True)
class Format:
    """One output format. `key` is how the CLI and the hosts' settings spell it."""

    name: str  # Pillow's name: PNG, JPEG, TIFF, WEBP
    key: str  # png, jpeg, tiff, webp
    label: str  # what a dialog shows
    extensions: tuple[str, ...]  # the first is the one written by default
    mime: str
    lossy: bool  # takes a quality setting (WebP: lossless unless a quality is asked for)
    alpha: bool  # can store transparency; if not, hosts flatten it (see `flatten_alpha`)
    sixteen: bool  # keeps 16 bits per channel; 8-bit formats are reduced on write
    default_quality: int | None = None

    @property
    def extension(self) -> str:
        return self.extensions[0]


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("PNG", "png", "PNG", (".png",), "image/png", False, True, True),
        Format(
            "JPEG",
            "jpeg",
            "JPEG",
            (".jpg", ".jpeg", ".jpe", ".jfif"),
            "image/jpeg",
            True,
            False,
            False,
            90,
        ),
        Format("TIFF", "tiff", "TIFF", (".tif", ".tiff"), "image/tiff", False, True, True),
        Format("WEBP", "webp", "WebP", (".webp",), "image/webp", True, True, False, 90),
    )
}
KEYS = tuple(f.key for f in FORMATS.values())  # png, jpeg, tiff, webp: the order menus show
ALIASES = {"JPG": "JPEG", "TIF": "TIFF"}  # accepted spellings of a format's name
# Where a format cannot store alpha and a host exports an image that has it, the image is
# composited over this grey level (1.0 = full-scale white, straight alpha;
# `fixative.image.pixels.flatten_alpha`), as Krita's and GIMP's own JPEG exporters do. The CLI
# instead refuses (a file's transparency is never dropped unasked).
FLATTEN_BACKGROUND = 1.0
OUTPUT_SUFFIX = "-protected"  # NAME.EXT -> NAME-protected.EXT, in the CLI and every host
QUALITY_RANGE = (1, 100)


def get(fmt: str, source: str = "") -> Format:
    """The format a name, key, alias or extension names ('png', 'JPG', '.tif'...)."""
    name = fmt.upper().lstrip(".")
    name = ALIASES.get(name, name)
    found = FORMATS.get(name)
    if found is None:
        where = f"{source}: " if source else ""
        msg = f"{where}cannot write format {fmt!r}; use one of: {', '.join(KEYS)}"
        raise SettingsError(msg)
    return found


def normalise(fmt: str, source: str = "") -> str:
    """The Pillow name of a format ('jpg' -> 'JPEG'), or SettingsError."""
    return get(fmt, source).name


def for_path(path: str | os.PathLike[str]) -> Format | None:
    """The format a file name's extension implies, or None."""
    ext = Path(path).suffix.lower()
    for f in FORMATS.values():
        if ext in f.extensions:
            return f
    return None


def listing(names: Iterable[str]) -> str:
    """'PNG, TIFF or WebP': names as a message lists them."""
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def output_name(stem: str, fmt: str, suffix: str = OUTPUT_SUFFIX) -> str:
    """The default name of a protected output: 'art' + 'png' -> 'art-protected.png'."""
    return f"{stem}{suffix}{get(fmt).extension}"


def check_quality(quality: int | None) -> int | None:
    """`quality` if it is None or in QUALITY_RANGE, else SettingsError."""
    low, high = QUALITY_RANGE
    if quality is not None and (
        isinstance(quality, bool) or not isinstance(quality, int) or not low <= quality <= high
    ):
        msg = f"quality must be between {low} and {high}, not {quality}"
        raise SettingsError(msg)
    return quality


def choose(fmt: str | None, target: str | os.PathLike[str], source: str) -> str:
    """The output's format: `fmt` when asked (it must agree with `target`'s extension), else the
    one the extension names, else the `source`'s."""
    implied = for_path(target)
    if fmt is not None:
        chosen = normalise(fmt, str(target))
        if implied is not None and implied.name != chosen:
            said = implied.name
            msg = f"{target}: the extension says {said} but the format asked for is {chosen}"
            raise SettingsError(msg)
        return chosen
    return implied.name if implied is not None else source
