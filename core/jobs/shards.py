"""One unit of batch work: a shard of (input, output) pairs in; outputs and a manifest out.

A batch (`fixative batch`, `fixative.jobs.engines`) keeps its state beside its outputs, in
`OUT/.fixative-batch/` (hidden, so never taken as input): `job.json` says what the batch was
asked (settings, model, format), and each shard writes `shard-NNNNN.json`, its manifest: each
file's status, settings, the model's sha256, the protection's figures or the error. Manifests
are rewritten atomically after every file, so a run killed at any moment leaves each one either
as it was or one file further, and never half written.

Run again, a batch skips every shard whose manifest is complete, with no failure and all its
outputs there, and inside any other shard keeps the files its manifest already records as
protected (their outputs still there); it redoes the rest, replacing what a killed run may have
left (outputs in the batch's own folder are the batch's once `job.json` is there). Nothing is
lost and nothing is written twice under two names.

Everything here is plain data that crosses to other processes (Ray workers) as it is.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import FixativeError, OutputExistsError, SettingsError
from ..protection.settings import ProtectSettings

STATE_DIR = ".fixative-batch"
JOB_FILE = "job.json"
FORMAT_VERSION = 1
DEFAULT_SHARD_SIZE = 32
# Settings that change how fast, not what: left out of the batch's identity.
_NOT_IDENTITY = ("device", "threads")

# A file's status in a manifest.
PENDING, PROTECTED, FAILED = "pending", "protected", "failed"


class BatchStateError(FixativeError):
    """The output folder holds another batch's state, or state that cannot be read."""


@dataclass(frozen=True)
class Item:
    src: str
    dst: str
    make_folder: bool = False  # dst's folder is a sub-folder of the output folder


@dataclass(frozen=True)
class Shard:
    index: int
    items: tuple[Item, ...]

    @property
    def name(self) -> str:
        return f"shard-{self.index:05d}.json"


@dataclass(frozen=True)
class ShardSpec:
    """What every shard of one batch is asked: the same for all, set once by the driver."""

    settings: dict[str, Any]  # ProtectSettings.to_dict()
    model_sha256: str
    state_dir: str
    fmt: str | None = None
    quality: int | None = None
    overwrite: bool = False  # replace outputs that were there before the batch began

    def protect_settings(self, *, threads: int | None, device: str | None) -> ProtectSettings:
        """The settings a worker protects with: its own threads and device."""
        data = dict(self.settings)
        data["threads"] = threads if data.get("threads") is None else data["threads"]
        if device is not None:
            data["device"] = device
        return ProtectSettings.from_dict(data)

    def identity(self) -> dict[str, Any]:
        """What decides the outputs: a rerun with another identity is another batch."""
        settings = {k: v for k, v in self.settings.items() if k not in _NOT_IDENTITY}
        return {
            "settings": settings,
            "model_sha256": self.model_sha256,
            "format": self.fmt,
            "quality": self.quality,
        }


@dataclass
class Outcome:
    """What one shard did in this run (the manifest holds the lasting record)."""

    index: int
    done: list[str] = field(default_factory=list)  # protected in this run (sources)
    skipped: list[str] = field(default_factory=list)  # protected by an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source, error)
    worker: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return len(self.done) + len(self.skipped) + len(self.failed)


def plan_shards(items: Iterable[Item], size: int) -> list[Shard]:
    """Consecutive runs of `size` items (the planner's order, so a rerun cuts the same shards)."""
    if size < 1:
        msg = f"shard size must be at least 1, not {size}"
        raise SettingsError(msg)
    listed = list(items)
    return [
        Shard(n, tuple(listed[start : start + size]))
        for n, start in enumerate(range(0, len(listed), size))
    ]


# --- state on disk ------------------------------------------------------------------------


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1, sort_keys=True).encode("utf-8") + b"\n"
    atomic.write(path, lambda fh: fh.write(text), overwrite=True)


def read_json(path: Path) -> dict[str, Any] | None:
    """A state file, or None when there is none; BatchStateError when it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot read the batch state ({exc}); remove it to start the batch afresh"
        raise BatchStateError(msg) from exc
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        msg = f"{path}: not a batch state file of this version; remove it to start afresh"
        raise BatchStateError(msg)
    return data


def auto_shard_size(files: int) -> int:
    """Files per shard when none is asked: at least 64 shards, so that many workers share a
    batch, and at most DEFAULT_SHARD_SIZE files lost to a kill in each."""
    return max(1, min(DEFAULT_SHARD_SIZE, -(-files // 64)))


def open_state(
    out_dir: Path, spec: ShardSpec, *, fresh: bool, shard_size: int | None, files: int
) -> tuple[bool, int]:
    """Make or check `OUT/.fixative-batch/job.json`: (resuming an earlier run, shard size).

    `fresh` (the command's --overwrite) forgets earlier manifests. Another batch's state (other
    settings, model or format) is refused, so that two batches never mix in one folder. A
    resumed batch keeps the shard size it began with unless another is asked, so that it cuts
    the same shards.
    """
    state = out_dir / STATE_DIR
    job_path = state / JOB_FILE
    job = None if fresh else read_json(job_path)
    if job is not None and job.get("identity") != _plain(spec.identity()):
        msg = (
            f"{out_dir} holds a batch made with other settings, model or format "
            f"({job_path}); use another --out-dir, or --overwrite to redo it with these"
        )
        raise BatchStateError(msg)
    state.mkdir(parents=True, exist_ok=True)
    if fresh:
        for old in state.glob("shard-*.json"):
            old.unlink()
    earlier = job.get("shard_size") if job is not None else None
    size = shard_size or (earlier if isinstance(earlier, int) and earlier > 0 else None)
    size = size or auto_shard_size(files)
    if job is None or size != earlier:
        record = {"format_version": FORMAT_VERSION, "identity": spec.identity()}
        created = job.get("created") if job is not None else time.time()
        _write_json(job_path, {**record, "created": created, "shard_size": size})
    return job is not None, size


def _plain(data: Any) -> Any:
    """`data` as JSON gives it back (tuples as lists), to compare with what was read."""
    return json.loads(json.dumps(data))


def manifest_path(spec: ShardSpec, shard: Shard) -> Path:
    return Path(spec.state_dir) / shard.name


def is_finished(spec: ShardSpec, shard: Shard) -> bool:
    """The shard's manifest is complete for exactly these files, none failed, outputs there."""
    data = read_json(manifest_path(spec, shard))
    if not data or not data.get("complete") or not _same_items(data, shard):
        return False
    return all(f["status"] == PROTECTED and os.path.lexists(f["dst"]) for f in data["files"])


def _same_items(data: dict[str, Any], shard: Shard) -> bool:
    files = data.get("files")
    if not isinstance(files, list) or len(files) != len(shard.items):
        return False
    return all(
        isinstance(f, dict) and f.get("src") == i.src and f.get("dst") == i.dst
        for f, i in zip(files, shard.items, strict=True)
    )


# --- one shard ----------------------------------------------------------------------------


def protect_item(
    item: Item, settings: ProtectSettings, overwrite: bool, spec: ShardSpec
) -> dict[str, Any]:
    """Protect one file; the report's figures as a dict (raises FixativeError on failure)."""
    from .files import protect_file

    dst = Path(item.dst)
    if item.make_folder:
        dst.parent.mkdir(parents=True, exist_ok=True)
    report = protect_file(
        item.src, dst, settings, overwrite=overwrite, fmt=spec.fmt, quality=spec.quality
    )
    return report.to_dict()


def run_shard(
    shard: Shard,
    spec: ShardSpec,
    settings: ProtectSettings,
    *,
    resuming: bool,
    worker: dict[str, Any] | None = None,
    on_file: Callable[[], None] | None = None,
) -> Outcome:
    """Protect a shard's files one by one, keeping its manifest up to date; never raises for
    one file (its error goes into the manifest and the outcome).

    `resuming`: the batch ran here before, so an output with no record of its own is what a
    killed run left, and is replaced; on a first run an output already there is refused
    unless `spec.overwrite`.
    """
    path = manifest_path(spec, shard)
    earlier = read_json(path) if resuming else None
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    if earlier is not None:
        for f in earlier.get("files", []):
            if f.get("status") == PROTECTED and os.path.lexists(f.get("dst", "")):
                kept[(f["src"], f["dst"])] = f
    worker = {**(worker or {}), "pid": os.getpid(), "host": socket.gethostname()}
    records = [
        kept.get((i.src, i.dst)) or {"src": i.src, "dst": i.dst, "status": PENDING}
        for i in shard.items
    ]
    manifest = {
        "format_version": FORMAT_VERSION,
        "shard": shard.index,
        "complete": False,
        "settings": settings.to_dict(),
        "model_sha256": spec.model_sha256,
        "format": spec.fmt,
        "quality": spec.quality,
        "worker": worker,
        "files": records,
    }
    _write_json(path, manifest)  # before any output: this shard's outputs are now the batch's
    outcome = Outcome(shard.index, worker=worker)
    for n, item in enumerate(shard.items):
        if records[n]["status"] == PROTECTED:
            outcome.skipped.append(item.src)
            continue
        start = time.perf_counter()
        try:
            figures = protect_item(item, settings, spec.overwrite or resuming, spec)
        except OutputExistsError as exc:  # there before the batch: not the batch's to replace
            text = f"{exc} (use --overwrite to replace it)"
            records[n] = {"src": item.src, "dst": item.dst, "status": FAILED, "error": text}
            outcome.failed.append((item.src, text))
        except Exception as exc:  # one bad file must not stop the shard
            text = str(exc) if isinstance(exc, FixativeError) else f"{item.src}: unexpected {exc!r}"
            records[n] = {"src": item.src, "dst": item.dst, "status": FAILED, "error": text}
            outcome.failed.append((item.src, text))
        else:
            records[n] = {
                "src": item.src,
                "dst": item.dst,
                "status": PROTECTED,
                "figures": figures,
                "seconds": round(time.perf_counter() - start, 3),
            }
            outcome.done.append(item.src)
        _write_json(path, manifest)
        if on_file is not None:
            on_file()
    manifest["complete"] = True
    _write_json(path, manifest)
    return outcome
