"""Calls into the core (`fixative`), imported only when protection is asked for.

The extension must load even where a dependency is missing (numpy, onnxruntime or Pillow absent
from Blender's Python): the failure becomes a message when the user acts, not a failed add-on.
Every failure leaves here as `EngineError` with a message fit for `self.report`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


class EngineError(Exception):
    """A failure to show the user as is."""


class EngineCancelled(EngineError):
    """The user cancelled (Esc); nothing was written."""


def missing_message(exc: ImportError) -> str:
    detail = str(exc) if exc.name is None else f"the package '{exc.name}' is missing ({exc})"
    return (
        f"Fixative cannot run in Blender's Python ({sys.executable}): {detail}. "
        "Install the Fixative extension built for your platform, which bundles its dependencies."
    )


def _core() -> Any:
    try:
        import fixative
    except ImportError as exc:
        raise EngineError(missing_message(exc)) from exc
    return fixative


def settings(
    strength: str,
    device: str,
    declarations: bool,
    mode: str | None = None,
    view: str | None = None,
    steps: int | None = None,
) -> Any:
    """The core's ProtectSettings; None (or steps 0) keeps the core's own default."""
    fixative = _core()
    chosen: dict[str, Any] = {"mode": mode, "view": view, "steps": steps or None}
    return fixative.ProtectSettings(
        strength=strength,
        device=device,
        declarations=fixative.DeclarationSettings(enabled=declarations),
        **{k: v for k, v in chosen.items() if v is not None},
    )


@contextmanager
def _messages(dst: Path) -> Iterator[None]:
    """Turn whatever the core raises into an EngineError with a message for the user."""
    try:
        yield
    except ImportError as exc:  # onnxruntime, numpy, Pillow are imported lazily by the core
        raise EngineError(missing_message(exc)) from exc
    except EngineError:
        raise
    except Exception as exc:
        fixative = sys.modules.get("fixative")
        if fixative is not None and isinstance(exc, fixative.Cancelled):
            raise EngineCancelled(f"Cancelled: {dst.name} was not written") from exc
        if fixative is not None and isinstance(exc, fixative.FixativeError):
            raise EngineError(str(exc)) from exc
        if isinstance(exc, OSError):
            msg = f"cannot write {dst}: {exc.strerror or exc}"
            raise EngineError(msg) from exc
        raise


def protect_file(
    src: Path,
    dst: Path,
    *,
    strength: str,
    device: str,
    declarations: bool,
    mode: str | None = None,
    view: str | None = None,
    steps: int | None = None,
    fmt: str | None = None,
    quality: int | None = None,
    overwrite: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Any:
    """Protect the image file `src` into `dst`; returns the core's ProtectReport."""
    with _messages(dst):
        fixative = _core()
        return fixative.protect_file(
            src,
            dst,
            settings(strength, device, declarations, mode, view, steps),
            progress=progress,
            cancel=cancel,
            overwrite=overwrite,
            fmt=fmt,
            quality=quality,
        )


def protect_pixels(
    pixels: Any,
    dst: Path,
    *,
    strength: str,
    device: str,
    declarations: bool,
    fmt: str,
    mode: str | None = None,
    view: str | None = None,
    steps: int | None = None,
    quality: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Any:
    """Protect an array of the core's contract (from `bridge`) and write it to `dst`."""
    with _messages(dst):
        fixative = _core()
        chosen = settings(strength, device, declarations, mode, view, steps)
        protected, report = fixative.protect_array(pixels, chosen, progress=progress, cancel=cancel)
        if cancel is not None and cancel():  # pressed during the last step: nothing written
            raise fixative.Cancelled("protection cancelled")
        fixative.write_image(
            dst, protected, fmt=fmt, settings=chosen, quality=quality, overwrite=True
        )
        return report
