"""`fixative protect`: protect files and folders, one line (or one JSON report) per file.

Exit codes: 0 all done, 1 some inputs failed (the others were still processed), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..declarations.xmp import AI_USE_VALUES, DATA_MINING_VALUES, DeclarationSettings
from ..errors import FixativeError, ModelError
from ..image import formats
from ..jobs import batch
from ..protection import graphs
from ..protection import view as vw
from ..protection.settings import (
    DEVICE_HELP,
    DEVICES,
    MAX_STEPS,
    MODE_HELP,
    MODE_TABLE,
    MODES,
    STEPPED_MODES,
    STRENGTH_HELP,
    STRENGTHS,
    ProtectSettings,
)
from .common import (
    UsageError,
    positive,
    print_unsupported,
    quality,
    remove_stale_temporaries,
    safe_text,
    steps,
    view,
)


def _choices(table: dict[str, str]) -> str:
    return "; ".join(f"{k} = {v}" for k, v in table.items()) + " (default: %(default)s)"


def add_parser(sub: Any) -> argparse.ArgumentParser:
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
        help=f"added to each output's name when no -o is given (default: {formats.OUTPUT_SUFFIX})",
    )
    add_settings_arguments(p)
    p.add_argument("--jobs", type=positive, default=1, help="files processed at once")
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
    add_declaration_arguments(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    out.add_argument("--json", action="store_true", help="print one JSON report on stdout")

    return p


def add_settings_arguments(p: argparse.ArgumentParser) -> None:
    """--strength, --mode, --steps, --view, --device, --threads, --model, --format, --quality:
    how files are protected, the same for `protect` and `batch`."""
    defaults = ProtectSettings()  # the CLI's defaults are the library's
    p.add_argument(
        "--strength", choices=STRENGTHS, default=defaults.strength, help=_choices(STRENGTH_HELP)
    )
    p.add_argument("--mode", choices=MODES, default=defaults.mode, help=_choices(MODE_HELP))
    p.add_argument(
        "--steps",
        type=steps,
        default=defaults.steps,
        metavar="N",
        help=(
            f"gradient steps of the {' and '.join(STEPPED_MODES)} modes, 1-{MAX_STEPS} (default: "
            + ", ".join(f"{MODE_TABLE[m].steps} {m}" for m in STEPPED_MODES)
            + ")"
        ),
    )
    p.add_argument(
        "--view",
        type=view,
        default=defaults.view,
        metavar="auto|native|N",
        help="the size the AI reads your picture at: "
        + "; ".join(f"{v} = {h}" for v, (_label, h) in vw.VIEW_HELP.items())
        + "; or a number N for about NxN pixels (default: %(default)s)",
    )
    p.add_argument("--device", choices=DEVICES, default=defaults.device, help=_choices(DEVICE_HELP))
    p.add_argument("--threads", type=positive, default=None, help="CPU threads for the model")
    p.add_argument("--model", metavar="ONNX", help="model file (default: the shipped model)")
    p.add_argument(
        "--format",
        choices=[*formats.KEYS, *(a.lower() for a in formats.ALIASES)],
        default=None,
        help="output format (default: the one the output's extension names, else the input's)",
    )
    p.add_argument("--quality", type=quality, default=None, help="JPEG/WebP quality 1-100")


def add_declaration_arguments(parser: argparse.ArgumentParser) -> None:
    """--data-mining, --creator, --c2pa, ...: the fields of `DeclarationSettings`."""
    g = parser.add_argument_group("declarations (see docs/declarations.md)")
    g.add_argument(
        "--data-mining",
        choices=DATA_MINING_VALUES,
        default=DeclarationSettings.data_mining,
        metavar="VALUE",
        help="IPTC Data Mining value (default: %(default)s; also DMI-PROHIBITED, "
        "DMI-PROHIBITED-AIMLTRAINING, DMI-ALLOWED, ...)",
    )
    g.add_argument("--other-constraints", metavar="TEXT", help="plus:OtherConstraints text")
    g.add_argument("--creator", metavar="NAME", help="dc:creator (also names the C2PA signer)")
    g.add_argument("--copyright", metavar="TEXT", help="dc:rights copyright notice")
    g.add_argument("--web-statement", metavar="URL", help="xmpRights:WebStatement rights URL")
    g.add_argument(
        "--tdm-policy",
        metavar="URL",
        help="TDMRep tdm:policy: URL of your text-and-data-mining licence terms",
    )
    g.add_argument(
        "--c2pa", action="store_true", help="also embed a signed C2PA manifest (fixative[c2pa])"
    )
    g.add_argument("--c2pa-cert", metavar="PEM", help="your C2PA certificate chain (PEM)")
    g.add_argument("--c2pa-key", metavar="PEM", help="the private key of --c2pa-cert (PEM)")
    g.add_argument(
        "--ai-inference",
        choices=AI_USE_VALUES,
        default=DeclarationSettings.ai_inference,
        help="CAWG ai_inference use in the C2PA manifest (default: %(default)s)",
    )


def _declarations(args: argparse.Namespace) -> DeclarationSettings:
    return DeclarationSettings(
        enabled=not args.no_declare,
        data_mining=args.data_mining,
        other_constraints=args.other_constraints,
        creator=args.creator,
        copyright=args.copyright,
        web_statement=args.web_statement,
        tdm_policy=args.tdm_policy,
        c2pa=bool(args.c2pa or args.c2pa_cert),
        c2pa_cert=args.c2pa_cert,
        c2pa_key=args.c2pa_key,
        ai_inference=args.ai_inference,
    )


def settings_from_args(args: argparse.Namespace, threads: int | None) -> ProtectSettings:
    """The ProtectSettings of `add_settings_arguments` and the declarations, or UsageError."""
    if args.steps is not None and args.mode not in STEPPED_MODES:
        msg = (
            f"--steps applies to --mode {' or '.join(STEPPED_MODES)} only "
            f"(--mode {args.mode} takes no steps)"
        )
        raise UsageError(msg)
    try:
        return ProtectSettings(
            strength=args.strength,
            mode=args.mode,
            steps=args.steps,
            view=args.view,
            device=args.device,
            threads=threads,
            model_path=args.model,
            declarations=_declarations(args),
        )
    except FixativeError as exc:  # e.g. a --web-statement that is not a URL
        raise UsageError(str(exc)) from exc


def _write_preview(src: Path, dst: Path, path: str, settings: ProtectSettings) -> str:
    """Write the preview sheet of `src` and its protected `dst` to `path` (PNG unless named)."""
    from ..image.reading import read_image
    from ..image.writing import write_image
    from ..protection.preview import sheet

    original, protected = read_image(src).pixels, read_image(dst).pixels
    panels = sheet(original, protected, device=settings.device, threads=settings.threads)
    fmt = formats.for_path(path)
    write_image(path, panels, fmt=fmt.name if fmt else "PNG", settings=settings, overwrite=True)
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


def run(args: argparse.Namespace) -> int:
    from ..errors import ImageWriteError, OutputExistsError
    from ..image.reading import output_problem
    from ..jobs import files
    from ..protection.model import get_model

    plan = plan_outputs(args)
    jobs = plan.jobs
    threads = args.threads
    if threads is None and args.jobs > 1:
        threads = max(1, (os.cpu_count() or 1) // args.jobs)
    settings = settings_from_args(args, threads)
    safe_text(sys.stdout)
    safe_text(sys.stderr)
    if jobs:
        get_model(settings.model_path, settings.device, settings.threads)  # fail once, early
        if settings.mode in STEPPED_MODES:
            for row in graphs.status():  # a missing or damaged graph would fail every file
                if "error" in row:
                    raise ModelError(row["error"])
    show = not (args.quiet or args.json)
    removed = remove_stale_temporaries(jobs)
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
            report = files.protect_file(
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
                failed_with(slot, f"{exc} (use --overwrite to replace it)")
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
        print_unsupported(plan.unsupported)
    return 1 if failed else 0
