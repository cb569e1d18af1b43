"""Run one protected export: in the host's own Python, or through an external Python.

Both paths call `execute` below with the same inputs, so they give the same file. The
external path exists because official Krita builds (Python 3.10, no numpy) and GIMP's
Windows build (MSYS2 Python) cannot load PyPI's numpy/onnxruntime wheels in process.
Blender always runs in process (its extension bundles the wheels); a render reaches it as a
file, hence `run_file_export`, with the same settings, errors and cancellation.
"""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .raw import RawImage

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]

# The folder holding `fixative_host` and the vendored `fixative` core (no binary wheels):
# what an external Python needs on its path.
LIB_DIR = Path(__file__).resolve().parent.parent


class HostError(Exception):
    """A failure to show the user as is: the message says what went wrong and where."""


class HostCancelled(HostError):
    """The user cancelled; nothing was written."""


@dataclass(frozen=True)
class ExportJob:
    path: str
    fmt: str  # "png", "jpeg", "tiff" or "webp"
    settings: dict = field(default_factory=dict)  # fixative.ProtectSettings.to_dict()
    quality: int | None = None  # JPEG / WebP quality
    # False: composite onto white before protecting (PNG "no alpha", JPEG: `Format.alpha`)
    keep_alpha: bool = True
    overwrite: bool = True  # hosts confirm overwriting in their own file dialogs

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def execute(
    raw: RawImage, job: ExportJob, progress: Progress | None, cancel: Cancel | None
) -> dict:
    """Protect and write. Runs in whichever Python has numpy, onnxruntime and the core."""
    return _protect_and_write(raw.to_array(), raw.icc_profile, job, progress, cancel)


def _protect_and_write(pixels, icc_profile, job: ExportJob, progress, cancel) -> dict:
    import fixative
    from fixative.image.pixels import flatten_alpha

    if not job.keep_alpha:
        pixels = flatten_alpha(pixels)  # RGB stays as it is
    settings = fixative.ProtectSettings.from_dict(job.settings)
    protected, report = fixative.protect_array(pixels, settings, progress=progress, cancel=cancel)
    if cancel is not None and cancel():  # pressed during the last step: still nothing written
        msg = "protection cancelled"
        raise fixative.Cancelled(msg)
    written = fixative.write_image(
        job.path,
        protected,
        fmt=job.fmt,
        settings=settings,
        icc_profile=icc_profile,
        quality=job.quality,
        overwrite=job.overwrite,
    )
    return report_dict(report.for_output(written))


def execute_file(
    src: str, job: ExportJob, progress: Progress | None, cancel: Cancel | None
) -> dict:
    """Protect the image file `src` into `job.path` (they may be the same file).

    With `keep_alpha` the core's `protect_file` does it all, keeping the source's metadata;
    without, the file is read and flattened first, since `protect_file` refuses to drop alpha.
    """
    import fixative

    if not job.keep_alpha:
        image = fixative.read_image(src)
        return _protect_and_write(image.pixels, image.meta.icc_profile, job, progress, cancel)
    report = fixative.protect_file(
        src,
        job.path,
        fixative.ProtectSettings.from_dict(job.settings),
        progress=progress,
        cancel=cancel,
        overwrite=job.overwrite,
        fmt=job.fmt,
        quality=job.quality,
    )
    return report_dict(report)


def report_dict(report) -> dict:
    """The core's `ProtectReport` (with its output's facts) as plain JSON types, so that the
    in-process and the external paths return the same thing."""
    return json.loads(json.dumps(report.to_dict(), default=str))


_in_process_problem: list[str | None] = []


def in_process_problem() -> str | None:
    """None when the core can run in this Python, else why not, naming the package (checked
    once)."""
    if not _in_process_problem:
        try:
            import fixative  # noqa: F401
            import numpy  # noqa: F401
            import onnxruntime  # noqa: F401
            import PIL  # noqa: F401
        except ImportError as exc:
            name = {"PIL": "Pillow"}.get(exc.name or "", exc.name)
            detail = f"the package '{name}' is missing" if name else str(exc)
            _in_process_problem.append(f"{detail} ({exc})" if name else detail)
        except Exception as exc:  # a broken binary wheel raises more than ImportError
            _in_process_problem.append(f"{type(exc).__name__}: {exc}")
        else:
            _in_process_problem.append(None)
    return _in_process_problem[0]


DEFAULT_WHERE = "this program's Python"
DEFAULT_REMEDY = (
    "Install numpy, Pillow and onnxruntime for it, or set an external Python in the Fixative "
    "settings (see the plug-in's manual)."
)


def missing_message(problem: str, where: str | None = None, remedy: str | None = None) -> str:
    """What the user reads when the core cannot run in process: what is missing, from which
    Python, and what to install. A host with no external Python (Blender) words the remedy."""
    return f"Fixative cannot run inside {where or DEFAULT_WHERE}: {problem}. " + (
        remedy or DEFAULT_REMEDY
    )


def interpreter(
    python: str | None, external: bool, where: str | None = None, remedy: str | None = None
) -> str | None:
    """None to run in this Python, else the external Python to run in; HostError if neither.

    `python` is the external interpreter to fall back on; `external=True` forces it.
    `where`/`remedy` word the missing-dependency message (`missing_message`).
    """
    if not external:
        problem = in_process_problem()
        if problem is None:
            return None
        if not python:
            raise HostError(missing_message(problem, where, remedy))
    if not python:
        msg = "No external Python is configured for Fixative."
        raise HostError(msg)
    return python


def run_export(
    raw: RawImage,
    job: ExportJob,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    python: str | None = None,
    external: bool = False,
    where: str | None = None,
    remedy: str | None = None,
) -> dict:
    """Protect `raw` into `job.path`; return the core's report as a dict.

    In this Python or an external one, as `interpreter(python, external, where, remedy)` says.
    Every failure becomes a `HostError` whose message the host shows unchanged.
    """
    chosen = interpreter(python, external, where, remedy)
    if chosen is None:
        return _in_process(execute, raw, job, progress, cancel)
    return _run_external(raw, job, progress, cancel, chosen)


def run_file_export(
    src: str | os.PathLike[str],
    job: ExportJob,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    where: str | None = None,
    remedy: str | None = None,
) -> dict:
    """Protect the image file `src` into `job.path`, in process only; as `run_export` else.

    For a host that hands over a file rather than pixels (Blender's renders, written by
    `save_render`, and its rendered frames): same job settings, report and errors.
    """
    problem = in_process_problem()
    if problem is not None:
        raise HostError(missing_message(problem, where, remedy))
    return _in_process(execute_file, str(src), job, progress, cancel)


def _in_process(run, source, job: ExportJob, progress, cancel) -> dict:
    import fixative

    try:
        return run(source, job, progress, cancel)
    except fixative.Cancelled as exc:
        msg = f"Cancelled: {Path(job.path).name} was not written."
        raise HostCancelled(msg) from exc
    except fixative.FixativeError as exc:
        raise HostError(str(exc)) from exc
    except OSError as exc:
        # The core names the file in its own errors; an OSError that escapes still should.
        msg = f"Cannot write {job.path}: {exc.strerror or exc}"
        raise HostError(msg) from exc


def _run_external(raw: RawImage, job: ExportJob, progress, cancel, python: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="fixative-job-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        (workdir / "pixels.raw").write_bytes(raw.data)
        if raw.icc_profile:
            (workdir / "profile.icc").write_bytes(raw.icc_profile)
        spec = {"image": raw.header(), "job": job.to_dict()}
        return run_worker(workdir, spec, python, progress, cancel)


def run_worker(workdir: Path, spec: dict, python: str, progress, cancel) -> dict:
    """Run `python -m fixative_host.worker WORKDIR` on `spec` (written as its job.json, beside
    the files the caller put there): relay its progress, kill it when `cancel` says so, return
    its answer (or raise its error as HostError / HostCancelled)."""
    (workdir / "job.json").write_text(json.dumps(spec))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(LIB_DIR)
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONHOME", None)  # the host's own Python home must not leak into another Python
    kwargs = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW
    try:
        proc = subprocess.Popen(
            [python, "-m", "fixative_host.worker", str(workdir), "--watch-stdin"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Never written to: its end of file tells the worker the host is gone (worker.py).
            stdin=subprocess.PIPE,
            env=env,
            **kwargs,
        )
    except OSError as exc:
        msg = f"Cannot start the external Python {python!r} for Fixative: {exc.strerror or exc}"
        raise HostError(msg) from exc
    try:
        return _follow(proc, progress, cancel, python)
    finally:
        proc.stdin.close()


def _follow(proc: subprocess.Popen, progress, cancel, python: str) -> dict:
    """Relay the worker's JSON lines to `progress`; kill it when `cancel` says so."""
    lines: queue.Queue = queue.Queue()
    stderr: list[bytes] = []

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True).start()
    result: dict | None = None
    while True:
        if cancel is not None and cancel():
            proc.kill()
            proc.wait()
            msg = "Cancelled: nothing was written."
            raise HostCancelled(msg)
        try:
            line = lines.get(timeout=0.05)
        except queue.Empty:
            continue
        if line is None:
            break
        try:
            message = json.loads(line)
        except ValueError:
            continue  # stray output from a library
        if "progress" in message and progress is not None:
            progress(float(message["progress"]), str(message.get("message", "")))
        elif "report" in message or "error" in message:
            result = message
    proc.wait()
    if result is None:
        tail = b"".join(stderr).decode("utf-8", "replace").strip().splitlines()[-5:]
        msg = f"The external Python {python!r} failed to run Fixative: " + (
            " ".join(tail) or f"exit status {proc.returncode}"
        )
        raise HostError(msg)
    if "error" in result:
        if result.get("kind") == "cancelled":
            raise HostCancelled(result["error"])
        raise HostError(result["error"])
    return result["report"]
