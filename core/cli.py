"""The `fixative` command: protect files, show what is installed, check and site snippets.

Exit codes: 0 all done, 1 some inputs failed (the others were still processed), 2 usage error.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import __version__, batch
from . import view as vw
from .declarations import add_cli_arguments
from .errors import FixativeError, ModelError, SettingsError
from .refine import DEFAULT_STEPS
from .settings import DEVICES, MAX_STEPS, MODE_HELP, MODES, STRENGTHS, THOROUGH, ProtectSettings

# Subcommands implemented in their own modules with `add_parser(subparsers)` + `run(args)`.
_PLUGGED = {"check": "check", "site-snippets": "snippets"}


class UsageError(Exception):
    """A command line that makes no sense; reported with exit code 2."""


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    parser = argparse.ArgumentParser(
        prog="fixative",
        description="Protect images against generative-AI mimicry and declare them not for "
        "AI training.",
    )
    parser.add_argument("--version", action="version", version=f"fixative {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("protect", help="protect image files", description="Protect image files.")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="PNG, JPEG, TIFF or WebP files, or folders of them",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT", help="output file (one input only)")
    where.add_argument("--out-dir", metavar="DIR", help="folder for the outputs")
    where.add_argument("--in-place", action="store_true", help="replace each input (atomically)")
    p.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="protect the images in sub-folders too (their layout is kept under --out-dir)",
    )
    p.add_argument(
        "--suffix",
        default=None,
        help="added to each output's name when no -o is given (default: -protected)",
    )
    defaults = ProtectSettings()  # the CLI's defaults are the library's
    p.add_argument("--strength", choices=STRENGTHS, default=defaults.strength)
    p.add_argument(
        "--mode",
        choices=MODES,
        default=defaults.mode,
        help="; ".join(f"{m} = {MODE_HELP[m]}" for m in MODES) + " (default: %(default)s)",
    )
    p.add_argument(
        "--steps",
        type=_steps,
        default=defaults.steps,
        metavar="N",
        help=f"gradient steps of thorough mode, 1-{MAX_STEPS} (default: {DEFAULT_STEPS})",
    )
    p.add_argument(
        "--view",
        type=_view,
        default=defaults.view,
        metavar="auto|native|N",
        help="the size the AI reads your picture at: "
        + "; ".join(f"{v} = {h}" for v, (_label, h) in vw.VIEW_HELP.items())
        + "; or a number N for about NxN pixels (default: %(default)s)",
    )
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--threads", type=_positive, default=None, help="CPU threads for the model")
    p.add_argument("--jobs", type=_positive, default=1, help="files processed at once")
    p.add_argument("--model", metavar="ONNX", help="model file (default: the shipped model)")
    p.add_argument("--format", choices=["png", "jpeg", "jpg", "tiff", "webp"], default=None)
    p.add_argument("--quality", type=_quality, default=None, help="JPEG/WebP quality 1-100")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip inputs whose output is already there and complete (resume a batch); "
        "with --overwrite, redo only the outputs that are not complete",
    )
    p.add_argument(
        "--no-declare", action="store_true", help="do not write the no-AI-training declarations"
    )
    p.add_argument(
        "--preview",
        metavar="FILE",
        help="also write what the AI sees (one input only): original | protected | the AI's "
        "reconstruction of each, at about 512x512",
    )
    add_cli_arguments(p)  # --data-mining, --creator, --c2pa, ... (fixative.declarations)
    out = p.add_mutually_exclusive_group()
    out.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    out.add_argument("--json", action="store_true", help="print one JSON report on stdout")

    i = sub.add_parser("info", help="show version, model and devices")
    i.add_argument("--device", choices=DEVICES, default="auto")
    i.add_argument("--model", metavar="ONNX", help="model file (default: the shipped model)")
    i.add_argument("--json", action="store_true")

    plugged: dict[str, Any] = {}
    for command, module in _PLUGGED.items():
        mod = _optional_module(module)
        if mod is not None:
            mod.add_parser(sub)
            plugged[command] = mod
    return parser, plugged


def _optional_module(name: str) -> Any:
    """The subcommand module, or None while it does not exist (it is developed separately)."""
    from importlib import import_module

    try:
        return import_module(f".{name}", __package__)
    except ModuleNotFoundError as exc:
        if exc.name == f"{__package__}.{name}":
            return None
        raise


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"must be a positive integer, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _steps(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_STEPS:
        msg = f"must be an integer from 1 to {MAX_STEPS}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _view(text: str) -> str | int:
    try:
        return vw.parse(text)
    except SettingsError as exc:  # argparse names the option in front of the message
        raise argparse.ArgumentTypeError(str(exc)) from None


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        msg = f"must be an integer from 1 to 100, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def main(argv: list[str] | None = None) -> int:
    parser, plugged = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "protect":
            return cmd_protect(args)
        if args.command == "info":
            return cmd_info(args)
        return int(plugged[args.command].run(args))
    except UsageError as exc:
        parser.error(str(exc))  # exits with 2
    except FixativeError as exc:
        print(f"fixative: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fixative: interrupted", file=sys.stderr)
        return 130
    return 0


# --- protect ---


def _write_preview(src: Path, dst: Path, path: str, settings: ProtectSettings) -> str:
    """Write the preview sheet of `src` and its protected `dst` to `path` (PNG unless named)."""
    from .files import format_for, read_image, write_image
    from .preview import sheet

    original, protected = read_image(src).pixels, read_image(dst).pixels
    panels = sheet(original, protected, device=settings.device, threads=settings.threads)
    write_image(path, panels, fmt=format_for(path) or "PNG", settings=settings, overwrite=True)
    return str(path)


def plan_outputs(args: argparse.Namespace) -> batch.Plan:
    """The jobs (input, output) of the command line, or UsageError."""
    if args.skip_existing and args.in_place:
        msg = "--skip-existing cannot be used with --in-place (the output is the input)"
        raise UsageError(msg)
    if getattr(args, "preview", None) and len(args.inputs) != 1:
        msg = "--preview needs exactly one input file"
        raise UsageError(msg)
    try:
        return batch.plan(
            args.inputs,
            output=args.output,
            out_dir=args.out_dir,
            in_place=args.in_place,
            suffix=args.suffix,
            fmt=args.format,
            recursive=args.recursive,
        )
    except batch.PlanError as exc:
        raise UsageError(str(exc)) from None


class ProgressLine:
    """Progress on stderr. On a terminal: one status line (overall bar, files done, the current
    step or tile). Elsewhere (a log, a pipe): a plain line every LOG_SECONDS, so that a thorough
    run of a minute is not silent while a fast one prints nothing extra."""

    LOG_SECONDS = 10.0

    def __init__(self, total: int, enabled: bool, tty: bool = True) -> None:
        self.total = total
        self.enabled = enabled
        self.tty = tty
        self.done = 0
        self.partial: dict[int, float] = {}
        self.lock = threading.Lock()
        self.last = 0.0
        self.last_log = time.monotonic()
        self.width = max(60, shutil.get_terminal_size((101, 20)).columns - 1)

    def update(self, slot: int, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.partial[slot] = fraction
            now = time.monotonic()
            overall = (self.done + sum(self.partial.values())) / self.total
            if not self.tty:
                if now - self.last_log >= self.LOG_SECONDS:
                    self.last_log = now
                    print(f"{overall:4.0%} {message}", file=sys.stderr, flush=True)
                return
            if now - self.last < 0.1 and fraction < 1.0:
                return
            self.last = now
            bar = "#" * int(overall * 30)
            head = f"[{bar:<30}] {self.done}/{self.total} files  "
            room = self.width - len(head)
            if len(message) > room:  # keep the end: the step and tile, not the folder
                message = "..." + message[-(room - 3) :]
            sys.stderr.write("\r" + (head + message).ljust(self.width))
            sys.stderr.flush()

    def file_done(self, slot: int) -> None:
        with self.lock:
            self.partial.pop(slot, None)
            self.done += 1

    def clear(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()

    def println(self, text: str, stream: Any) -> None:
        with self.lock:
            if self.enabled and self.tty:
                sys.stderr.write("\r" + " " * self.width + "\r")
            print(text, file=stream, flush=True)


UNSUPPORTED_SHOWN = 20  # unsupported files named in the text summary (--json lists them all)


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


def _safe_text(stream: Any) -> None:
    """Print file names that are not valid UTF-8 (or not in the terminal's encoding) escaped,
    instead of failing with UnicodeEncodeError."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(Exception):
            reconfigure(errors="fixative.escape")


def _remove_stale_temporaries(jobs: list[batch.Job]) -> list[Path]:
    """Temporary files left in the output folders by a killed run (see fixative.atomic)."""
    from . import atomic

    removed: list[Path] = []
    for folder in dict.fromkeys(job.dst.parent for job in jobs):
        removed += atomic.remove_stale(folder if str(folder) else Path("."))
    return removed


def cmd_protect(args: argparse.Namespace) -> int:
    from .declarations import settings_from_args
    from .errors import ImageWriteError, OutputExistsError
    from .files import output_problem, protect_file
    from .model import get_model

    plan = plan_outputs(args)
    jobs = plan.jobs
    if args.steps is not None and args.mode != THOROUGH:
        msg = f"--steps applies to --mode {THOROUGH} only (the fast mode takes no steps)"
        raise UsageError(msg)
    threads = args.threads
    if threads is None and args.jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
    try:
        settings = ProtectSettings(
            strength=args.strength,
            mode=args.mode,
            steps=args.steps,
            view=args.view,
            device=args.device,
            threads=threads,
            model_path=args.model,
            declarations=settings_from_args(args),
        )
    except FixativeError as exc:  # e.g. a --web-statement that is not a URL
        raise UsageError(str(exc)) from exc
    _safe_text(sys.stdout)
    _safe_text(sys.stderr)
    if jobs:
        get_model(settings.model_path, settings.device, settings.threads)  # fail once, early
        if settings.mode == THOROUGH:
            for row in graph_status():  # a missing or damaged graph would fail every file
                if "error" in row:
                    raise ModelError(row["error"])
    show = not (args.quiet or args.json)
    removed = _remove_stale_temporaries(jobs)
    if removed and show:
        print(
            f"removed {len(removed)} temporary file(s) left by an interrupted run",
            file=sys.stderr,
        )
    bar = ProgressLine(max(1, len(jobs)), enabled=show, tty=sys.stderr.isatty())
    results: list[dict[str, Any]] = [{} for _ in jobs]
    start = time.perf_counter()

    def skipped(slot: int, why: str) -> None:
        src, dst = jobs[slot].src, jobs[slot].dst
        results[slot] = {"src": str(src), "dst": str(dst), "status": "skipped", "reason": why}
        if show:
            bar.println(f"{src} -> {dst}: skipped ({why})", sys.stdout)

    def one(slot: int) -> None:
        job = jobs[slot]
        src, dst = job.src, job.dst
        name = src.name
        overwrite = args.overwrite or args.in_place
        try:
            if args.skip_existing and os.path.lexists(dst):
                problem = output_problem(src, dst)
                if problem is None:
                    skipped(slot, "the output is already there")
                    return
                if not args.overwrite:
                    msg = (
                        f"{dst}: the output exists but is not complete ({problem}); "
                        "use --skip-existing --overwrite to redo it"
                    )
                    raise ImageWriteError(msg)
            if job.make_folder:
                try:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    reason = exc.strerror or str(exc)
                    msg = f"{dst}: cannot make the folder {dst.parent} ({reason})"
                    raise ImageWriteError(msg) from exc
            report = protect_file(
                src,
                dst,
                settings,
                progress=lambda f, msg: bar.update(slot, f, f"{name}: {msg}"),
                overwrite=overwrite,
                fmt=args.format,
                quality=args.quality,
            )
        except OutputExistsError as exc:
            if args.skip_existing and output_problem(src, dst) is None:
                skipped(slot, "written meanwhile by another run")  # two runs, one folder
            else:
                failed_with(slot, str(exc))
        except Exception as exc:  # one bad file must not stop the others
            text = str(exc) if isinstance(exc, FixativeError) else f"{src}: unexpected {exc!r}"
            failed_with(slot, text)
        else:
            results[slot] = {**report.to_dict(), "status": "protected"}
            if show:
                bar.println(f"{src} -> {dst}: {report.summary()}", sys.stdout)
            if args.preview:
                try:
                    results[slot]["preview"] = _write_preview(src, dst, args.preview, settings)
                except Exception as exc:  # the protected file stands; only the preview failed
                    text = str(exc) if isinstance(exc, FixativeError) else repr(exc)
                    failed_with(slot, f"{args.preview}: preview not written ({text})")
                    return
                if show:
                    bar.println(f"what the AI sees: {args.preview}", sys.stdout)
        finally:
            bar.file_done(slot)

    def failed_with(slot: int, text: str) -> None:
        src, dst = jobs[slot].src, jobs[slot].dst
        results[slot] = {"src": str(src), "dst": str(dst), "status": "failed", "error": text}
        if not args.json:
            bar.println(f"error: {text}", sys.stderr)

    if not args.json:
        for _folder, text in plan.unreadable:
            print(f"error: {text}", file=sys.stderr)
    if args.jobs > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(one, range(len(jobs))))
    else:
        for slot in range(len(jobs)):
            one(slot)
    bar.clear()
    protected = sum(1 for r in results if r["status"] == "protected")
    done = sum(1 for r in results if r["status"] == "skipped")
    failed = len(jobs) - protected - done + len(plan.unreadable)  # files and unlisted folders
    seconds = time.perf_counter() - start
    if args.json:
        summary = {
            "ok": protected + done,
            "protected": protected,
            "skipped": done,
            "failed": failed,
            "seconds": seconds,
            "unsupported": [str(p) for p in plan.unsupported],
            "unreadable_folders": [{"folder": str(f), "error": t} for f, t in plan.unreadable],
            "removed_temporary_files": [str(p) for p in removed],
        }
        json.dump({**summary, "files": results}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not args.quiet:
        parts = [f"protected {protected} of {len(jobs)} file(s)"]
        if done:
            parts.append(f"{done} already done")
        if failed:
            parts.append(f"{failed} failed")
        head = parts[0] + (f" ({', '.join(parts[1:])})" if parts[1:] else "")
        print(f"{head} in {seconds:.1f} s")
        if plan.unsupported:
            shown = ", ".join(str(p) for p in plan.unsupported[:UNSUPPORTED_SHOWN])
            more = len(plan.unsupported) - UNSUPPORTED_SHOWN
            tail = f" and {more} more (--json lists them all)" if more > 0 else ""
            print(
                f"not protected, not a PNG, JPEG, TIFF or WebP file: "
                f"{len(plan.unsupported)} file(s): {shown}{tail}"
            )
    return 1 if failed else 0


# --- info ---


def _version_of(module: str) -> str:
    from importlib import import_module

    try:
        return str(import_module(module).__version__)
    except ImportError:
        return "not installed"


def graph_status() -> list[dict[str, Any]]:
    """The auxiliary graphs of models/manifest.json: role, file, sha256, present, verified."""
    from . import graphs

    rows: list[dict[str, Any]] = []
    for role in graphs.INTERFACES:
        row: dict[str, Any] = {"role": role}
        try:
            path, pinned = graphs.graph_path(role)
            row.update(file=path.name, path=str(path), sha256=pinned, present=path.is_file())
            row["sha256_verified"] = False
            graphs.verify(role)
            row["sha256_verified"] = bool(pinned)
        except ModelError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows


def cmd_info(args: argparse.Namespace) -> int:
    from . import model as model_mod

    info: dict[str, Any] = {
        "fixative": __version__,
        "python": sys.version.split()[0],
        "numpy": _version_of("numpy"),
        "pillow": _version_of("PIL"),
        "onnxruntime": _version_of("onnxruntime"),
    }
    status = 0
    try:
        spec = model_mod.load_spec(args.model)
        info["model"] = {
            "path": spec.path,
            "model_id": spec.model_id,
            "sha256": spec.sha256,
            "sha256_verified": spec.shipped,
            "epsilon": spec.epsilon,
            "receptive_field": spec.receptive_field,
            "tile_overlap": spec.tile_overlap,
            "target_encoder": spec.target_encoder,
        }
    except FixativeError as exc:
        info["model"] = {"error": str(exc)}
        status = 1
    try:
        available = model_mod.available_providers()
        info["providers"] = available
        info["device"] = args.device
        info["chosen_provider"] = model_mod.choose_providers(args.device, available)[0]
        if "error" not in info["model"]:
            # What a session really runs on (onnxruntime may fall back, e.g. without a driver).
            session = model_mod.get_model(args.model, args.device)
            info["chosen_provider"] = session.provider
    except FixativeError as exc:
        info["providers_error"] = str(exc)
        status = 1
    defaults = ProtectSettings()
    info["protect_defaults"] = {
        "mode": defaults.mode,
        "modes": list(MODES),
        "steps": DEFAULT_STEPS,
        "max_steps": MAX_STEPS,
        "view": defaults.view,
        "view_side": vw.DEFAULT_SIDE,
    }
    info["graphs"] = graph_status()
    if any("error" in g for g in info["graphs"]):
        status = 1  # thorough mode (the default) and `check --original` need them
    if args.json:
        print(json.dumps(info, indent=2))
        return status
    for key in ("fixative", "python", "numpy", "pillow", "onnxruntime"):
        print(f"{key + ':':<14}{info[key]}")
    m = info["model"]
    if "error" in m:
        print(f"{'model:':<14}ERROR {m['error']}")
    else:
        verified = "verified against manifest" if m["sha256_verified"] else "not in a manifest"
        eps = ", ".join(f"{k} {v * 255:.1f}/255" for k, v in m["epsilon"].items())
        print(f"{'model:':<14}{m['model_id']} ({m['path']})")
        print(f"{'sha256:':<14}{m['sha256']} ({verified})")
        print(f"{'strengths:':<14}{eps}")
    if "providers" in info:
        print(f"{'providers:':<14}{', '.join(info['providers'])}")
        print(f"{'device:':<14}{args.device} -> {info['chosen_provider']}")
    else:
        print(f"{'providers:':<14}ERROR {info['providers_error']}")
    d = info["protect_defaults"]
    print(f"{'mode:':<14}{d['mode']} (of {', '.join(d['modes'])}), {d['steps']} steps")
    side = d["view_side"]
    print(
        f"{'view:':<14}{d['view']} (about {side}x{side} = {side * side / 1e6:.1f} MP; "
        "or native, or N)"
    )
    print("graphs:")
    for g in info["graphs"]:
        if "file" not in g:
            print(f"  {g['role']:<14}ERROR {g['error']}")
            continue
        state = (
            "verified against manifest"
            if g["sha256_verified"]
            else ("ERROR " + g["error"] if "error" in g else "not pinned by the manifest")
        )
        print(f"  {g['role']:<14}{g['file']:<26}{g['sha256'][:12]}  {state}")
    return status


if __name__ == "__main__":
    sys.exit(main())
