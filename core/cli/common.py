"""What every command shares: the usage error, argument types, safe printing of file names."""

from __future__ import annotations

import argparse
import codecs
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SettingsError
from ..image import formats
from ..protection import view as vw
from ..protection.settings import MAX_STEPS

if TYPE_CHECKING:
    from ..jobs.batch import Job

UNSUPPORTED_SHOWN = 20  # unsupported files named in the text summary (--json lists them all)


class UsageError(Exception):
    """A command line that makes no sense; reported with exit code 2."""


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"must be a positive integer, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def steps(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_STEPS:
        msg = f"must be an integer from 1 to {MAX_STEPS}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def view(text: str) -> str | int:
    try:
        return vw.parse(text)
    except SettingsError as exc:  # argparse names the option in front of the message
        raise argparse.ArgumentTypeError(str(exc)) from None


def quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    low, high = formats.QUALITY_RANGE
    if not low <= value <= high:
        msg = f"must be an integer from {low} to {high}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _escape(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a byte of a file name that is not UTF-8 (held by Python as a
    surrogate) is printed as \\xNN, any other unprintable character as \\uNNNN."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = []
    for ch in exc.object[exc.start : exc.end]:
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:
            text.append(f"\\x{cp - 0xDC00:02x}")
        else:
            text.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
    return "".join(text), exc.end


codecs.register_error("fixative.escape", _escape)


def safe_text(stream: Any) -> None:
    """Print file names that are not valid UTF-8 (or not in the terminal's encoding) escaped,
    instead of failing with UnicodeEncodeError."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(Exception):
            reconfigure(errors="fixative.escape")


def remove_stale_temporaries(jobs: list[Job]) -> list[Path]:
    """Temporary files left in the output folders by a killed run (see fixative.atomic)."""
    from .. import atomic

    removed: list[Path] = []
    for folder in dict.fromkeys(job.dst.parent for job in jobs):
        removed += atomic.remove_stale(folder if str(folder) else Path("."))
    return removed


def print_unsupported(paths: list[Path]) -> None:
    """The summary's line naming the files that are not images Fixative takes."""
    if not paths:
        return
    shown = ", ".join(str(p) for p in paths[:UNSUPPORTED_SHOWN])
    more = len(paths) - UNSUPPORTED_SHOWN
    tail = f" and {more} more (--json lists them all)" if more > 0 else ""
    print(f"not protected, not a PNG, JPEG, TIFF or WebP file: {len(paths)} file(s): {shown}{tail}")
