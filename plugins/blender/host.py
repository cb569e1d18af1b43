"""Blender's use of the glue shared with Krita and GIMP (`fixative_host`, vendored by the build).

Blender always runs the core in its own Python: the extension's zip bundles onnxruntime and
Pillow as wheels and numpy is Blender's, so there is no external Python to fall back on and a
missing package is a broken install. The message says so, and which package it is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .fixative_host import ExportJob, RawImage, choices, run_export, run_file_export
from .fixative_host.abi import mismatch
from .fixative_host.runner import (
    Cancel,
    HostCancelled,
    HostError,
    Progress,
    in_process_problem,
    missing_message,
)

WHERE = f"Blender's Python ({sys.executable})"
REMEDY = (
    "Install the Fixative extension built for your platform (Preferences › Get Extensions › "
    "Install from Disk): its zip bundles onnxruntime and Pillow, and numpy comes with Blender."
)


# Blender refuses to install a zip whose wheels are for another Python; should one be in place
# anyway (copied by hand, Blender upgraded under it), this says which zip to install.
PACKAGE_MISMATCH = mismatch(Path(__file__).resolve().parent, "Blender")


def check() -> None:
    """Raise the wrong-package or missing-package `HostError` before any work (a temporary
    file, a worker)."""
    if PACKAGE_MISMATCH:
        raise HostError(PACKAGE_MISMATCH)
    problem = in_process_problem()
    if problem is not None:
        raise HostError(missing_message(problem, WHERE, REMEDY))


def job(
    path: str | os.PathLike[str],
    fmt: str,
    *,
    strength: str,
    mode: str,
    view: str,
    steps: int,
    device: str,
    declarations: bool,
    quality: int | None = None,
    keep_alpha: bool = True,
) -> ExportJob:
    """The export as Krita and GIMP describe theirs; `fmt` is the core's key ('png', ...)."""
    settings = choices.protect_settings(
        strength=strength, mode=mode, view=view, steps=steps, declarations=declarations
    )
    settings["device"] = device
    return ExportJob(
        path=str(path),
        fmt=fmt,
        settings=settings,
        quality=quality,
        keep_alpha=keep_alpha,
        overwrite=True,  # the file browser asked already; frames are replaced by design
    )


def protect_raw(
    raw: RawImage, job: ExportJob, *, progress: Progress | None = None, cancel: Cancel | None = None
) -> dict:
    """Protect pixels read from `Image.pixels`; the core's report as a dict."""
    return run_export(raw, job, progress=progress, cancel=cancel, where=WHERE, remedy=REMEDY)


def protect_file(
    src: str | os.PathLike[str],
    job: ExportJob,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> dict:
    """Protect a file Blender wrote (a render via `save_render`, a rendered frame)."""
    return run_file_export(src, job, progress=progress, cancel=cancel, where=WHERE, remedy=REMEDY)


__all__ = ["ExportJob", "HostCancelled", "HostError", "check", "job", "protect_file", "protect_raw"]
