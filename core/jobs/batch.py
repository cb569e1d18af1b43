"""What `fixative protect` will do: inputs (files and folders) turned into (input, output) jobs.

Folders are scanned for the supported extensions (one level, or the whole tree with
`recursive`, whose layout is kept under the output folder); hidden names (a leading dot) are
ignored, other files are listed as unsupported. An input reached twice (named twice, or through
two folders, or a link) is protected once. Files that are outputs of this plan, or look like
outputs written next to their inputs by an earlier run (NAME<suffix>.EXT), and an output folder
inside a scanned folder, are never taken as inputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..image import formats

DEFAULT_SUFFIX = formats.OUTPUT_SUFFIX


class PlanError(ValueError):
    """The inputs and output options make no sense together (a usage error)."""


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path
    make_folder: bool = False  # dst's folder is a sub-folder of --out-dir, made when needed


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)  # in folders, not PNG/JPEG/TIFF/WebP
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # folders not listed


@dataclass(frozen=True)
class _Found:
    path: Path
    rel: Path | None  # folder relative to the scanned folder; None for a file named as input


def _key(path: Path) -> str:
    """One name for one file, whichever way it was reached."""
    return os.path.normcase(os.path.realpath(path))


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _listing_error(folder: Path, exc: OSError) -> str:
    reason = "permission denied" if isinstance(exc, PermissionError) else exc.strerror or str(exc)
    return f"{folder}: cannot list the folder ({reason})"


def scan(root: Path, *, recursive: bool, skip: str | None, plan: Plan) -> list[_Found]:
    """The supported images in `root` (sorted); others go to `plan.unsupported`.

    `skip` is the key of a folder not to enter (the output folder).
    """
    found: list[_Found] = []

    def classify(path: Path, rel: Path) -> None:
        if formats.for_path(path) is None:
            plan.unsupported.append(path)
        else:
            found.append(_Found(path, rel))

    if not recursive:
        try:
            entries = sorted(os.scandir(root), key=lambda e: e.name)
        except OSError as exc:
            plan.unreadable.append((root, _listing_error(root, exc)))
            return found
        for entry in entries:
            if _hidden(entry.name):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                classify(Path(entry.path), Path())
        return found

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else root
        plan.unreadable.append((where, _listing_error(where, exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        folder = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not _hidden(d) and (skip is None or _key(folder / d) != skip)
        )
        rel = folder.relative_to(root)
        for name in sorted(filenames):
            if not _hidden(name):
                classify(folder / name, rel)
    return found


def plan(
    inputs: list[str],
    *,
    output: str | None = None,
    out_dir: str | None = None,
    in_place: bool = False,
    suffix: str | None = None,
    fmt: str | None = None,
    recursive: bool = False,
) -> Plan:
    """The jobs for these inputs and options, or PlanError."""
    spec = formats.get(fmt) if fmt else None
    if (in_place or output) and suffix is not None:
        msg = "--suffix cannot be used with --in-place or -o"
        raise PlanError(msg)
    if in_place and spec is not None:
        msg = "--format cannot be used with --in-place (the file name would lie)"
        raise PlanError(msg)
    if out_dir and not Path(out_dir).is_dir():
        msg = f"--out-dir {out_dir}: no such folder"
        raise PlanError(msg)
    suffix = DEFAULT_SUFFIX if suffix is None else suffix
    result = Plan()
    out_key = _key(Path(out_dir)) if out_dir else None
    found: list[_Found] = []
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            if output:
                msg = f"{path}: -o/--output names one output file; use --out-dir for folders"
                raise PlanError(msg)
            found += scan(path, recursive=recursive, skip=out_key, plan=result)
        else:
            found.append(_Found(path, None))
    unique: dict[str, _Found] = {}
    for item in found:  # the first way an input was reached decides its output
        unique.setdefault(_key(item.path), item)
    if output and len(unique) != 1:
        msg = "-o/--output takes one input; use --out-dir for several"
        raise PlanError(msg)

    def destination(item: _Found) -> Path:
        src = item.path
        if in_place:
            return src
        if output:
            return Path(output)
        if out_dir:
            folder = Path(out_dir) / item.rel if item.rel is not None else Path(out_dir)
        else:
            folder = src.parent
        ext = src.suffix
        if spec is not None and formats.for_path(src) != spec:
            ext = spec.extension
        return folder / f"{src.stem}{suffix}{ext}"

    def looks_like_output(src: Path, dst: Path) -> bool:
        """NAME<suffix>.EXT where outputs are written next to their inputs."""
        if in_place or not suffix or not src.stem.endswith(suffix):
            return False
        return _key(dst.parent) == _key(src.parent)

    planned = [(item, destination(item)) for item in unique.values()]
    outputs = {_key(dst): item for item, dst in planned if not in_place}
    jobs: list[Job] = []
    for item, dst in planned:
        src = item.path
        earlier = outputs.get(_key(src))
        if earlier is item:
            earlier = None  # its own output: refused below
        if item.rel is not None and (earlier is not None or looks_like_output(src, dst)):
            continue  # an output (of this run, or of an earlier one) found in a scanned folder
        if earlier is not None:
            msg = f"{src} is also the output of {earlier.path}; protect them in two runs"
            raise PlanError(msg)
        if not in_place and _key(dst) == _key(src):
            if output:
                msg = f"{src}: -o names the input itself; use --in-place to replace it"
            else:
                msg = f"{src}: the output would replace the input; use --in-place to do that"
            raise PlanError(msg)
        make_folder = bool(out_dir) and bool(item.rel is not None and item.rel.parts)
        jobs.append(Job(src, dst, make_folder))

    seen: dict[str, Path] = {}
    for job in jobs:
        key = _key(job.dst)
        if key in seen:
            msg = f"{seen[key]} and {job.src} would both be written to {job.dst}"
            raise PlanError(msg)
        seen[key] = job.src
    result.jobs = jobs
    return result
