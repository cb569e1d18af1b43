"""Out-of-process entry: `python -m fixative_host.worker JOBDIR [--watch-stdin]`.

Reads the pixels and the job the host wrote, runs `runner.execute` (the same function the
in-process path runs) and answers with JSON lines on stdout: progress, then one report or
one error. A job of kind "preview" (`preview.run_preview`) runs `preview.compute` instead,
writes the sheet's pixels to JOBDIR/sheet.raw and reports their header. With `--watch-stdin`
(the runner passes it) its stdin is a pipe the host never writes to: end of file there means
the host went away (GIMP kills a plug-in whose progress the user cancelled), and the core
then stops at its next step or tile, writing nothing.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path


def _host_gone():
    """A `cancel()` for the core: True once stdin reaches end of file."""
    gone = threading.Event()

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(1):
                pass
        except (OSError, ValueError, AttributeError):
            pass
        gone.set()

    threading.Thread(target=watch, daemon=True).start()
    return gone.is_set


def _say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    workdir = Path(argv[0])
    spec = json.loads((workdir / "job.json").read_text())
    icc_path = workdir / "profile.icc"
    try:
        from .raw import raw_from_header
        from .runner import ExportJob, execute

        raw = raw_from_header(
            spec["image"],
            (workdir / "pixels.raw").read_bytes(),
            icc_path.read_bytes() if icc_path.exists() else None,
        )

        def progress(fraction: float, message: str) -> None:
            _say({"progress": fraction, "message": message})

        cancel = _host_gone() if "--watch-stdin" in argv[1:] else None
        if spec.get("kind") == "preview":
            from .preview import compute

            sheet = compute(
                raw,
                spec["settings"],
                keep_alpha=spec.get("keep_alpha", True),
                progress=progress,
                cancel=cancel,
            )
            (workdir / "sheet.raw").write_bytes(sheet.data)
            report = sheet.header()
        else:
            report = execute(raw, ExportJob(**spec["job"]), progress, cancel)
    except ImportError as exc:
        _say({"error": f"Fixative cannot run in {sys.executable}: {exc}", "kind": "missing"})
        return 1
    except Exception as exc:  # every failure is reported to the host as a message
        kind = "cancelled" if type(exc).__name__ == "Cancelled" else "error"
        _say({"error": str(exc) or type(exc).__name__, "kind": kind})
        return 1
    _say({"report": report})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
