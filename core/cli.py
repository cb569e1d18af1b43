"""The `fixative` command: protect files, show what is installed, check and site snippets.

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

from . import __version__
from . import view as vw
from .declarations import add_cli_arguments
from .errors import FixativeError, ModelError, SettingsError
from .refine import DEFAULT_STEPS
from .settings import DEVICES, MAX_STEPS, MODE_HELP, MODES, STRENGTHS, THOROUGH, ProtectSettings

# Subcommands implemented in their own modules with `add_parser(subparsers)` + `run(args)`.
_PLUGGED = {"check": "check", "site-snippets": "snippets"}
_EXT = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp"}


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
    p.add_argument("inputs", nargs="+", metavar="IN", help="PNG, JPEG, TIFF or WebP files")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT", help="output file (one input only)")
    where.add_argument("--out-dir", metavar="DIR", help="folder for the outputs")
    where.add_argument("--in-place", action="store_true", help="replace each input (atomically)")
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
        "--no-declare", action="store_true", help="do not write the no-AI-training declarations"
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


def plan_outputs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """(input, output) pairs from the command line, or UsageError."""
    from .files import format_for, normalise_format

    inputs = [Path(p) for p in args.inputs]
    fmt = normalise_format(args.format) if args.format else None
    if args.output and len(inputs) != 1:
        msg = "-o/--output takes one input; use --out-dir for several"
        raise UsageError(msg)
    if (args.in_place or args.output) and args.suffix is not None:
        msg = "--suffix cannot be used with --in-place or -o"
        raise UsageError(msg)
    if args.in_place and fmt is not None:
        msg = "--format cannot be used with --in-place (the file name would lie)"
        raise UsageError(msg)
    suffix = "-protected" if args.suffix is None else args.suffix
    pairs = []
    for src in inputs:
        if args.in_place:
            dst = src
        elif args.output:
            dst = Path(args.output)
            if dst.exists() and src.exists() and os.path.samefile(dst, src):
                msg = f"{src}: -o names the input itself; use --in-place to replace it"
                raise UsageError(msg)
        else:
            folder = Path(args.out_dir) if args.out_dir else src.parent
            ext = src.suffix
            if fmt is not None and format_for(src) != fmt:
                ext = _EXT[fmt]
            dst = folder / f"{src.stem}{suffix}{ext}"
            if dst == src or (dst.exists() and src.exists() and os.path.samefile(dst, src)):
                msg = f"{src}: the output would replace the input; use --in-place to do that"
                raise UsageError(msg)
        pairs.append((src, dst))
    seen: dict[Path, Path] = {}
    for src, dst in pairs:
        key = dst.resolve()
        if key in seen:
            msg = f"{seen[key]} and {src} would both be written to {dst}"
            raise UsageError(msg)
        seen[key] = src
    if args.out_dir and not Path(args.out_dir).is_dir():
        msg = f"--out-dir {args.out_dir}: no such folder"
        raise UsageError(msg)
    return pairs


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


def cmd_protect(args: argparse.Namespace) -> int:
    from .declarations import settings_from_args
    from .files import protect_file
    from .model import get_model

    pairs = plan_outputs(args)
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
    get_model(settings.model_path, settings.device, settings.threads)  # fail once, early
    if settings.mode == THOROUGH:
        for row in graph_status():  # a missing or damaged graph would fail every file
            if "error" in row:
                raise ModelError(row["error"])
    show = not (args.quiet or args.json)
    bar = ProgressLine(len(pairs), enabled=show, tty=sys.stderr.isatty())
    results: list[dict[str, Any]] = [{} for _ in pairs]
    start = time.perf_counter()

    def one(slot: int) -> None:
        src, dst = pairs[slot]
        name = src.name
        try:
            report = protect_file(
                src,
                dst,
                settings,
                progress=lambda f, msg: bar.update(slot, f, f"{name}: {msg}"),
                overwrite=args.overwrite or args.in_place,
                fmt=args.format,
                quality=args.quality,
            )
        except Exception as exc:  # one bad file must not stop the others
            text = str(exc) if isinstance(exc, FixativeError) else f"{src}: unexpected {exc!r}"
            results[slot] = {"src": str(src), "dst": str(dst), "error": text}
            if not args.json:
                bar.println(f"error: {text}", sys.stderr)
        else:
            results[slot] = report.to_dict()
            if show:
                bar.println(f"{src} -> {dst}: {report.summary()}", sys.stdout)
        finally:
            bar.file_done(slot)

    if args.jobs > 1 and len(pairs) > 1:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(one, range(len(pairs))))
    else:
        for slot in range(len(pairs)):
            one(slot)
    bar.clear()
    failed = sum(1 for r in results if "error" in r)
    seconds = time.perf_counter() - start
    if args.json:
        summary = {"ok": len(pairs) - failed, "failed": failed, "seconds": seconds}
        json.dump({**summary, "files": results}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not args.quiet:
        tail = f" ({failed} failed)" if failed else ""
        print(f"protected {len(pairs) - failed} of {len(pairs)} file(s){tail} in {seconds:.1f} s")
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
