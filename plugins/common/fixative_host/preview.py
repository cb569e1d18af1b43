"""The "what the AI sees" preview for a host's dialog: protect in memory, return the sheet.

`run_preview(raw, settings)` protects the host's pixels with the dialog's settings (nothing is
written), then builds the core's sheet, `fixative.protection.preview.sheet`: original | protected |
the AI's reconstruction (TAEF2 encoder and decoder) of the original | of the protected picture, at
about 512x512 each, side by side on white. The sheet comes back as an 8-bit RGB `RawImage`, so a
host without numpy can show it (Krita: a QImage from its bytes; GIMP: a layer).

Like `runner.run_export`, it runs in the host's own Python when numpy and onnxruntime import
there, else in an external Python through `python -m fixative_host.worker` (job kind
"preview"), with the same code (`compute`) on both paths and the same errors: `HostError`
with a message to show as is, `HostCancelled` when `cancel()` said so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .raw import RawImage, raw_from_header
from .runner import Cancel, HostCancelled, HostError, Progress, interpreter, run_worker

# Protection takes this share of the progress bar; the sheet (two encoder-decoder passes at
# ~512 px, a second or two) the rest.
_PROTECT_SHARE = 0.9
SHEET_MESSAGE = "what the AI sees"


def compute(
    raw: RawImage,
    settings: dict,
    *,
    keep_alpha: bool = True,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> RawImage:
    """Protect `raw` in memory and build the sheet. Runs in whichever Python has the core."""
    import fixative
    from fixative.image import pixels as px
    from fixative.protection import preview

    pixels = raw.to_array()
    if not keep_alpha:  # as the export will: a format without alpha is flattened first
        pixels = px.flatten_alpha(pixels)
    protect = fixative.ProtectSettings.from_dict(settings)

    def step(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction * _PROTECT_SHARE, message)

    protected, _report = fixative.protect_array(pixels, protect, progress=step, cancel=cancel)
    if cancel is not None and cancel():
        msg = "preview cancelled"
        raise fixative.Cancelled(msg)
    if progress is not None:
        progress(_PROTECT_SHARE, SHEET_MESSAGE)
    panels = preview.sheet(pixels, protected, device=protect.device, threads=protect.threads)
    if progress is not None:
        progress(1.0, SHEET_MESSAGE)
    height, width = panels.shape[:2]
    return RawImage(panels.tobytes(), width, height, 3, "u8")


def run_preview(
    raw: RawImage,
    settings: dict,
    *,
    python: str | None = None,
    external: bool = False,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    keep_alpha: bool = True,
    where: str | None = None,
    remedy: str | None = None,
) -> RawImage:
    """The "what the AI sees" sheet of `raw` protected with `settings`, as 8-bit RGB.

    `settings` is `fixative.ProtectSettings.to_dict()`-style, as `ExportJob.settings`
    (`choices.protect_settings(...)` builds it); `keep_alpha=False` flattens onto white first,
    as exporting to a format without alpha does (`not Format.alpha`). `python` is the external
    interpreter to fall back on, `external=True` forces it; `where`/`remedy` word the
    missing-dependency message as for `run_export`. Every failure is a `HostError`.
    """
    chosen = interpreter(python, external, where, remedy)
    if chosen is None:
        return _in_process(raw, settings, keep_alpha, progress, cancel)
    return _external(raw, settings, keep_alpha, progress, cancel, chosen)


def _in_process(raw, settings, keep_alpha, progress, cancel) -> RawImage:
    import fixative

    try:
        return compute(raw, settings, keep_alpha=keep_alpha, progress=progress, cancel=cancel)
    except fixative.Cancelled as exc:
        raise HostCancelled(str(exc) or "Cancelled.") from exc
    except fixative.FixativeError as exc:
        raise HostError(f"Preview failed: {exc}") from exc


def _external(raw, settings, keep_alpha, progress, cancel, python: str) -> RawImage:
    with tempfile.TemporaryDirectory(prefix="fixative-preview-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        (workdir / "pixels.raw").write_bytes(raw.data)
        spec = {
            "kind": "preview",
            "image": raw.header(),
            "settings": settings,
            "keep_alpha": keep_alpha,
        }
        header = run_worker(workdir, spec, python, progress, cancel)  # the sheet's header
        return raw_from_header(header, (workdir / "sheet.raw").read_bytes(), None)
