"""`fixative batch`: protect an archive in shards, resumable, on this machine or on Ray.

Inputs are files, folders (with -r, their sub-folders) or `@LIST` files naming one input per
line. The planned files are cut into shards (`--shard-size`), each run as one unit with its own
manifest in `OUT/.fixative-batch/` (`fixative.jobs.shards`); run the same command again after a
crash or a kill and only unfinished work is redone. Exit codes: 0 all done (protected now or
earlier), 1 some files failed (the others were still processed), 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..jobs import batch as planner
from ..jobs import engines, shards
from ..protection import graphs
from ..protection.settings import STEPPED_MODES
from .common import UsageError, positive, print_unsupported, remove_stale_temporaries, safe_text
from .protect import add_declaration_arguments, add_settings_arguments, settings_from_args

FAILED_SHOWN = 20  # failed files named in the text summary (the manifests hold them all)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be from 0 to 64, not {text}")
    return value


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "batch",
        help="protect many files in resumable shards, here or on a Ray cluster",
        description="Protect many files in resumable shards (manifests in "
        f"OUT/{shards.STATE_DIR}/), on this machine or on a Ray cluster.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="PNG, JPEG, TIFF or WebP files, folders of them, or @LIST (a text file naming "
        "one input per line)",
    )
    p.add_argument("--out-dir", metavar="DIR", required=True, help="folder for the outputs")
    p.add_argument(
        "-r", "--recursive", action="store_true", help="take sub-folders too (layout kept)"
    )
    p.add_argument("--suffix", default=None, help="added to each output's name")
    p.add_argument(
        "--engine",
        choices=engines.ENGINES,
        default="local",
        help="; ".join(f"{k} = {v}" for k, v in engines.ENGINE_HELP.items())
        + " (default: %(default)s)",
    )
    p.add_argument(
        "--workers",
        "--jobs",
        type=positive,
        default=1,
        help="shards processed at once: threads (local) or Ray workers (default: %(default)s)",
    )
    p.add_argument("--address", metavar="ADDR", help="join this Ray cluster (--engine ray)")
    p.add_argument(
        "--gpus-per-worker",
        type=_fraction,
        default=0.0,
        metavar="G",
        help="GPUs each Ray worker reserves; workers with one run the models on CUDA "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--shard-size",
        type=positive,
        default=None,
        metavar="N",
        help="files per shard, the unit that is redone after a crash (default: enough for "
        f"64 shards, at most {shards.DEFAULT_SHARD_SIZE}; a resumed batch keeps its own)",
    )
    add_settings_arguments(p)
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace outputs that were there before, and forget an earlier batch's manifests",
    )
    p.add_argument(
        "--no-declare", action="store_true", help="do not write the no-AI-training declarations"
    )
    add_declaration_arguments(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("-q", "--quiet", action="store_true", help="print errors and the summary")
    out.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    return p


def expand_inputs(inputs: list[str]) -> list[str]:
    """The inputs with each @LIST replaced by the paths it names (blank lines and # skipped;
    relative paths are relative to the list's folder)."""
    expanded: list[str] = []
    for arg in inputs:
        if not arg.startswith("@"):
            expanded.append(arg)
            continue
        listing = Path(arg[1:])
        try:
            lines = listing.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"{listing}: cannot read the list of inputs ({exc})"
            raise UsageError(msg) from None
        for line in lines:
            name = line.strip()
            if name and not name.startswith("#"):
                path = Path(name)
                expanded.append(str(path if path.is_absolute() else listing.parent / path))
    return expanded


class Tally:
    """Counts and progress, fed with each shard's outcome as it arrives."""

    def __init__(self, total_files: int, total_shards: int, show: bool, errors: bool) -> None:
        self.total_files, self.total_shards = total_files, total_shards
        self.show, self.errors = show, errors
        self.done = self.skipped = self.shards = 0
        self.failed: list[tuple[str, str]] = []
        self.workers: set[tuple[str, int]] = set()
        self.start = time.perf_counter()

    def __call__(self, outcome: shards.Outcome) -> None:
        self.shards += 1
        self.done += len(outcome.done)
        self.skipped += len(outcome.skipped)
        self.failed += outcome.failed
        if outcome.worker:
            self.workers.add((str(outcome.worker.get("host")), int(outcome.worker.get("pid", 0))))
        if self.errors:
            for _src, text in outcome.failed:
                print(f"error: {text}", file=sys.stderr, flush=True)
        if self.show:
            files = self.done + self.skipped + len(self.failed)
            rate = self.done / max(1e-9, time.perf_counter() - self.start) * 60
            print(
                f"shard {self.shards}/{self.total_shards}: {files}/{self.total_files} files "
                f"({self.done} protected, {self.skipped} skipped, {len(self.failed)} failed; "
                f"{rate:.1f} per minute)",
                file=sys.stderr,
                flush=True,
            )


def run(args: argparse.Namespace) -> int:
    from ..protection.model import load_spec

    inputs = expand_inputs(args.inputs)
    if not inputs:
        raise UsageError("no inputs (the lists named are empty)")
    out_dir = Path(args.out_dir)
    if args.address and args.engine != "ray":
        raise UsageError("--address needs --engine ray")
    if args.gpus_per_worker and args.engine != "ray":
        raise UsageError("--gpus-per-worker needs --engine ray")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out-dir {out_dir}: cannot make the folder ({exc})") from None
    try:
        plan = planner.plan(
            inputs,
            out_dir=str(out_dir),
            suffix=args.suffix,
            fmt=args.format,
            recursive=args.recursive,
        )
    except planner.PlanError as exc:
        raise UsageError(str(exc)) from None
    settings = settings_from_args(args, args.threads)
    safe_text(sys.stdout)
    safe_text(sys.stderr)
    spec_model = load_spec(settings.model_path)  # a bad model fails once, here
    if settings.mode in STEPPED_MODES and plan.jobs:
        for row in graphs.status():
            if "error" in row:
                raise ModelError(row["error"])
    spec = shards.ShardSpec(
        settings=settings.to_dict(),
        model_sha256=spec_model.sha256,
        state_dir=os.path.abspath(out_dir / shards.STATE_DIR),
        fmt=args.format,
        quality=args.quality,
        overwrite=args.overwrite,
    )
    # Absolute paths: a worker on another node (or in another folder) reads and writes them.
    items = [
        shards.Item(os.path.abspath(j.src), os.path.abspath(j.dst), j.make_folder)
        for j in plan.jobs
    ]
    try:
        resuming, size = shards.open_state(
            out_dir, spec, fresh=args.overwrite, shard_size=args.shard_size, files=len(items)
        )
    except shards.BatchStateError as exc:
        raise UsageError(str(exc)) from None
    cut = shards.plan_shards(items, size)
    removed = remove_stale_temporaries(plan.jobs)
    show = not (args.quiet or args.json)
    tally = Tally(len(items), len(cut), show, errors=not args.json)
    if not args.json:
        for _folder, text in plan.unreadable:
            print(f"error: {text}", file=sys.stderr)
        if show and resuming:
            print(f"resuming the batch in {out_dir}", file=sys.stderr)
    # Ray prints its workers' news (a worker that died) on stdout: keep stdout for the summary.
    with contextlib.redirect_stdout(sys.stderr):
        engines.run(
            args.engine,
            cut,
            spec,
            workers=args.workers,
            resuming=resuming,
            on_outcome=tally,
            address=args.address,
            gpus=args.gpus_per_worker,
        )
    seconds = time.perf_counter() - tally.start
    failed = len(tally.failed) + len(plan.unreadable)
    summary = {
        "done": tally.done,
        "skipped": tally.skipped,
        "failed": failed,
        "files": len(items),
        "shards": len(cut),
        "shard_size": size,
        "engine": args.engine,
        "workers": args.workers,
        "worker_processes": len(tally.workers),
        "seconds": seconds,
        "per_minute": tally.done / seconds * 60 if seconds > 0 else 0.0,
        "manifests": spec.state_dir,
        "failed_files": [{"src": s, "error": e} for s, e in tally.failed],
        "unsupported": [str(p) for p in plan.unsupported],
        "unreadable_folders": [{"folder": str(f), "error": t} for f, t in plan.unreadable],
        "removed_temporary_files": [str(p) for p in removed],
    }
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(
            f"batch: {tally.done} done, {tally.skipped} skipped, {failed} failed "
            f"of {len(items)} file(s) in {seconds:.1f} s (manifests: {spec.state_dir})"
        )
        if tally.failed:
            names = ", ".join(s for s, _e in tally.failed[:FAILED_SHOWN])
            more = len(tally.failed) - FAILED_SHOWN
            print(f"failed: {names}" + (f" and {more} more" if more > 0 else ""))
        print_unsupported(plan.unsupported)
    return 1 if failed else 0
