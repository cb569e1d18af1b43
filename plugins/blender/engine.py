"""Calls into the core (`fixative`), imported only when protection is asked for.

The extension must load even where a dependency is missing (numpy, onnxruntime or Pillow absent
from Blender's Python): the failure becomes a message when the user acts, not a failed add-on.
Every failure leaves here as `EngineError` with a message fit for `self.report`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Progress = Callable[[float, str], None]


class EngineError(Exception):
    """A failure to show the user as is."""


def _missing_message(exc: ImportError) -> str:
    detail = str(exc) if exc.name is None else f"the package '{exc.name}' is missing ({exc})"
    return (
        f"Fixative cannot run in Blender's Python ({sys.executable}): {detail}. "
        "Install the Fixative extension built for your platform, which bundles its dependencies."
    )


def _core() -> Any:
    try:
        import fixative
    except ImportError as exc:
        raise EngineError(_missing_message(exc)) from exc
    return fixative


def settings(strength: str, device: str, declarations: bool) -> Any:
    fixative = _core()
    return fixative.ProtectSettings(
        strength=strength,
        device=device,
        declarations=fixative.DeclarationSettings(enabled=declarations),
    )


def protect_file(
    src: Path,
    dst: Path,
    *,
    strength: str,
    device: str,
    declarations: bool,
    fmt: str | None = None,
    quality: int | None = None,
    overwrite: bool = True,
    progress: Progress | None = None,
) -> Any:
    """Protect `src` into `dst` through the core; returns the core's ProtectReport."""
    fixative = _core()
    try:
        return fixative.protect_file(
            src,
            dst,
            settings(strength, device, declarations),
            progress=progress,
            overwrite=overwrite,
            fmt=fmt,
            quality=quality,
        )
    except ImportError as exc:  # onnxruntime and friends are imported lazily by the core
        raise EngineError(_missing_message(exc)) from exc
    except fixative.FixativeError as exc:
        raise EngineError(str(exc)) from exc
    except OSError as exc:
        msg = f"cannot write {dst}: {exc.strerror or exc}"
        raise EngineError(msg) from exc
