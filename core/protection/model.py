"""Loading perturbation models: the contract in models/README.md, enforced at load time.

`load_spec` reads and checks a model file without onnxruntime (so `fixative info` works in a
host that lacks it); `get_model` adds an onnxruntime session, one per (file, device, threads),
reused for the life of the process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError, missing

if TYPE_CHECKING:
    import numpy as np

CONTRACT_VERSION = "2"
# Contract 2 added the auxiliary graphs (encoder, its gradient, decoder, mask: models/README.md);
# a generator's own interface is unchanged since 1, so generator-only models of 1 still load.
ACCEPTED_CONTRACTS = ("1", "2")
MIN_OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "delta"
MANIFEST = "manifest.json"
# Execution providers in order of preference; CPU is always last.
GPU_PROVIDERS = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider")
CPU_PROVIDER = "CPUExecutionProvider"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # fixative/ (core/ in a checkout)


@dataclass(frozen=True)
class ModelSpec:
    """What the core needs to know about a model, read from its ONNX metadata."""

    path: str
    sha256: str
    model_id: str
    epsilon: dict[str, float]
    trained_epsilon: float
    receptive_field: int
    tile_overlap: int
    size_multiple: int
    min_size: int
    target_encoder: str
    training_data_digest: str
    config_digest: str
    opset: int
    shipped: bool = False  # listed in a manifest.json and its sha256 verified
    metadata: dict[str, str] = field(default_factory=dict, repr=False, compare=False)


def default_model_path() -> Path:
    """The model to use when none is given: $FIXATIVE_MODEL, else the shipped manifest's default.

    Looks in `<package>/models/` (installed or vendored copy), then `<package>/../models/`
    (source checkout). `FIXATIVE_MODEL` may name an .onnx file, a manifest.json or its folder.
    """
    env = os.environ.get("FIXATIVE_MODEL")
    if env:
        p = Path(env).expanduser()
        if p.is_dir():
            return _from_manifest(p / MANIFEST)
        if p.suffix.lower() == ".json":
            return _from_manifest(p)
        return p
    candidates = [_PACKAGE_DIR / "models" / MANIFEST, _PACKAGE_DIR.parent / "models" / MANIFEST]
    for manifest in candidates:
        if manifest.is_file():
            return _from_manifest(manifest)
    looked = ", ".join(str(c.parent) for c in candidates)
    msg = (
        f"no shipped model found (looked for {MANIFEST} in {looked}); reinstall Fixative, "
        "or set FIXATIVE_MODEL to an .onnx file"
    )
    raise ModelError(msg)


def _read_manifest(manifest: Path) -> dict[str, Any]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{manifest}: cannot read the model manifest ({exc})"
        raise ModelError(msg) from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        msg = f"{manifest}: not a model manifest (needs a 'models' object)"
        raise ModelError(msg)
    return data


def _from_manifest(manifest: Path) -> Path:
    data = _read_manifest(manifest)
    default = data.get("default")
    if not isinstance(default, str) or default not in data["models"]:
        msg = f"{manifest}: 'default' must name one of the listed models"
        raise ModelError(msg)
    return manifest.parent / default


def _expected_sha256(path: Path) -> str | None:
    """The sha256 a manifest next to `path` records for it, or None for an unlisted model."""
    manifest = path.parent / MANIFEST
    if not manifest.is_file():
        return None
    entry = _read_manifest(manifest)["models"].get(path.name)
    if entry is None:
        return None
    sha = entry.get("sha256") if isinstance(entry, dict) else None
    if not isinstance(sha, str) or not _HEX64.match(sha.lower()):
        msg = f"{manifest}: entry for {path.name} has no valid sha256"
        raise ModelError(msg)
    return sha.lower()


# --- a minimal protobuf reader: ModelProto's top-level opset_import and metadata_props ---


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) for each field of one protobuf message."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field")
            val, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated field")
        out.append((num, wire, val))
    return out


def _parse_header(data: bytes) -> tuple[int | None, dict[str, str], bool]:
    """(default-domain opset, metadata_props, has a graph) of a serialized ModelProto."""
    opset = None
    meta: dict[str, str] = {}
    has_graph = False
    for num, wire, val in _fields(data):
        if num == 7 and wire == 2:
            has_graph = True
        elif num == 8 and wire == 2:  # OperatorSetIdProto {domain = 1, version = 2}
            sub = {n: v for n, _w, v in _fields(val)}
            if sub.get(1, b"") in (b"", b"ai.onnx"):
                opset = int(sub.get(2, 0))
        elif num == 14 and wire == 2:  # StringStringEntryProto {key = 1, value = 2}
            sub = {n: v for n, _w, v in _fields(val)}
            meta[sub.get(1, b"").decode("utf-8")] = sub.get(2, b"").decode("utf-8")
    return opset, meta, has_graph


def _int(meta: dict[str, str], key: str, path: Path, lo: int) -> int:
    try:
        value = int(meta[key])
    except (KeyError, ValueError):
        msg = f"{path}: metadata '{key}' must be an integer, got {meta.get(key)!r}"
        raise ModelError(msg) from None
    if value < lo:
        msg = f"{path}: metadata '{key}' must be >= {lo}, got {value}"
        raise ModelError(msg)
    return value


def _spec_from(path: Path, data: bytes, expected: str | None) -> ModelSpec:
    sha = hashlib.sha256(data).hexdigest()
    if expected is not None and sha != expected:
        msg = (
            f"{path}: the model file is damaged or was modified (sha256 {sha[:12]}..., "
            f"manifest says {expected[:12]}...); reinstall Fixative or re-download the model"
        )
        raise ModelError(msg)
    try:
        opset, meta, has_graph = _parse_header(data)
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"{path}: not a readable ONNX model ({exc})"
        raise ModelError(msg) from exc
    if not has_graph:
        msg = f"{path}: not an ONNX model (no graph found)"
        raise ModelError(msg)
    if opset is None or opset < MIN_OPSET:
        msg = f"{path}: model opset {opset} is too old; the contract needs opset >= {MIN_OPSET}"
        raise ModelError(msg)
    contract = meta.get("fixative.contract")
    if contract not in ACCEPTED_CONTRACTS:
        msg = (
            f"{path}: not a Fixative contract-{CONTRACT_VERSION} model "
            f"(metadata 'fixative.contract' is {contract!r})"
        )
        raise ModelError(msg)
    model_id = meta.get("fixative.model_id", "").strip()
    if not model_id:
        msg = f"{path}: metadata 'fixative.model_id' is missing"
        raise ModelError(msg)
    try:
        eps_raw = json.loads(meta["fixative.epsilon"])
        epsilon = {k: float(eps_raw[k]) for k in ("low", "medium", "high")}
        trained = float(meta["fixative.trained_epsilon"])
    except (KeyError, ValueError, TypeError) as exc:
        msg = (
            f"{path}: metadata 'fixative.epsilon' must be a JSON object with numeric "
            f"'low', 'medium', 'high' and 'fixative.trained_epsilon' a number ({exc!r})"
        )
        raise ModelError(msg) from None
    if not all(0.0 < e <= 1.0 for e in epsilon.values()) or not (
        epsilon["low"] <= epsilon["medium"] <= epsilon["high"]
    ):
        msg = (
            f"{path}: metadata 'fixative.epsilon' must satisfy 0 < low <= medium <= high <= 1, "
            f"got {epsilon}"
        )
        raise ModelError(msg)
    receptive = _int(meta, "fixative.receptive_field", path, 0)
    overlap = _int(meta, "fixative.tile_overlap", path, 0)
    if overlap < receptive:
        msg = (
            f"{path}: metadata 'fixative.tile_overlap' ({overlap}) is below "
            f"'fixative.receptive_field' ({receptive})"
        )
        raise ModelError(msg)
    for key in ("fixative.training_data_digest", "fixative.config_digest"):
        if not _HEX64.match(meta.get(key, "")):
            msg = f"{path}: metadata '{key}' must be a sha256 hex digest, got {meta.get(key)!r}"
            raise ModelError(msg)
    encoder = meta.get("fixative.target_encoder", "")
    if ":" not in encoder:
        msg = (
            f"{path}: metadata 'fixative.target_encoder' must be '<name>:<sha256>', got {encoder!r}"
        )
        raise ModelError(msg)
    return ModelSpec(
        path=str(path),
        sha256=sha,
        model_id=model_id,
        epsilon=epsilon,
        trained_epsilon=trained,
        receptive_field=receptive,
        tile_overlap=overlap,
        size_multiple=_int(meta, "fixative.size_multiple", path, 1),
        min_size=_int(meta, "fixative.min_size", path, 1),
        target_encoder=encoder,
        training_data_digest=meta["fixative.training_data_digest"],
        config_digest=meta["fixative.config_digest"],
        opset=opset,
        shipped=expected is not None,
        metadata=meta,
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        msg = f"{path}: model file not found"
        raise ModelError(msg) from None
    except OSError as exc:
        msg = f"{path}: cannot read the model ({exc.strerror or exc})"
        raise ModelError(msg) from exc


def load_spec(path: str | os.PathLike[str] | None = None) -> ModelSpec:
    """Read and check a model's metadata (and sha256 if shipped); no onnxruntime needed."""
    p = Path(path) if path is not None else default_model_path()
    return _spec_from(p, _read(p), _expected_sha256(p))


# --- sessions ---


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise missing("onnxruntime", "protect images") from exc
    return onnxruntime


def available_providers() -> list[str]:
    return list(_ort().get_available_providers())


def choose_providers(device: str, available: list[str] | None = None) -> list[str]:
    """Execution providers for `device` ('auto', 'cpu' or 'gpu'), best first."""
    avail = available_providers() if available is None else available
    gpus = [p for p in GPU_PROVIDERS if p in avail]
    if device == "cpu":
        return [CPU_PROVIDER]
    if device == "gpu":
        if not gpus:
            msg = (
                "device 'gpu' was asked for but this onnxruntime has no GPU execution provider "
                f"(available: {', '.join(avail)}); replace onnxruntime with onnxruntime-gpu "
                "(NVIDIA CUDA) or onnxruntime-directml (Windows), or use device 'auto' or 'cpu'"
            )
            raise ModelError(msg)
        return [*gpus, CPU_PROVIDER]
    if device == "auto":
        return [*gpus, CPU_PROVIDER]
    msg = f"device {device!r} is not one of: auto, cpu, gpu"
    raise ModelError(msg)


def make_session(
    data: bytes, path: str, device: str, threads: int | None, *, arena: bool = True
) -> Any:
    """An onnxruntime session with Fixative's options, on the best provider for `device`.

    `arena=False` returns each run's memory to the system afterwards: thorough mode alternates
    several large graphs, whose separate arenas would otherwise all stay at their peaks.
    """
    ort = _ort()
    opts = ort.SessionOptions()
    opts.enable_cpu_mem_arena = arena
    opts.log_severity_level = 3
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = threads or 0
    opts.use_deterministic_compute = True
    # No busy-waiting between ops: inside a painting app, or next to other jobs, spinning
    # threads steal CPU for no gain (measured: no slower on a loaded 2-core machine).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = choose_providers(device)
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own non-exported exception types
        msg = f"{path}: onnxruntime cannot load the model ({exc})"
        raise ModelError(msg) from exc


def shrinking_run_options() -> Any:
    """Run options that hand the CPU memory arena's growth back to the system after each run."""
    options = _ort().RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def shipped_dir() -> Path:
    """The folder of the shipped models: installed or vendored copy, else the source checkout."""
    for folder in (_PACKAGE_DIR / "models", _PACKAGE_DIR.parent / "models"):
        if (folder / MANIFEST).is_file():
            return folder
    msg = f"no shipped models found (looked for {MANIFEST} in {_PACKAGE_DIR}/models and ../models)"
    raise ModelError(msg)


def read_manifest(manifest: Path) -> dict[str, Any]:
    return _read_manifest(manifest)


class Model:
    """A checked model with its onnxruntime session. `run` is safe to call from several threads."""

    def __init__(self, spec: ModelSpec, data: bytes, device: str, threads: int | None) -> None:
        self.spec = spec
        self.session = make_session(data, spec.path, device, threads)
        self.provider = self.session.get_providers()[0]
        self._check_io()
        self._probe()

    def _check_io(self) -> None:
        path = self.spec.path
        for kind, args, name in (
            ("input", self.session.get_inputs(), INPUT_NAME),
            ("output", self.session.get_outputs(), OUTPUT_NAME),
        ):
            if len(args) != 1 or args[0].name != name:
                got = ", ".join(a.name for a in args)
                msg = (
                    f"{path}: the model must have exactly one {kind} named '{name}', it has: {got}"
                )
                raise ModelError(msg)
            arg = args[0]
            if arg.type != "tensor(float)":
                msg = f"{path}: {kind} '{name}' must be float32, it is {arg.type}"
                raise ModelError(msg)
            shape = list(arg.shape)
            dynamic_hw = len(shape) == 4 and not any(isinstance(d, int) for d in shape[2:])
            batch_ok = len(shape) == 4 and (not isinstance(shape[0], int) or shape[0] == 1)
            if not (dynamic_hw and batch_ok and shape[1] == 3):
                msg = (
                    f"{path}: {kind} '{name}' must have shape [N, 3, H, W] with H and W "
                    f"dynamic, it has {shape}"
                )
                raise ModelError(msg)

    def _probe(self) -> None:
        """One small run so a model that computes the wrong shape fails at load, not mid-image."""
        import numpy as np

        m = self.spec.size_multiple
        side = -(-max(self.spec.min_size, m) // m) * m
        x = np.full((1, 3, side, side), 0.5, dtype=np.float32)
        y = self.run(x)
        if not np.all(np.isfinite(y)):
            msg = f"{self.spec.path}: the model's output contains NaN or infinity"
            raise ModelError(msg)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Unit perturbation `delta` for a float32 [N, 3, H, W] batch."""
        try:
            (out,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        except Exception as exc:
            msg = f"{self.spec.path}: the model failed on a {batch.shape} input ({exc})"
            raise ModelError(msg) from exc
        if out.shape != batch.shape or out.dtype != batch.dtype:
            msg = (
                f"{self.spec.path}: output 'delta' has shape {out.shape} {out.dtype}, "
                f"expected {batch.shape} float32 like the input"
            )
            raise ModelError(msg)
        return out


_CACHE: dict[tuple[Any, ...], Model] = {}
_LOCK = threading.Lock()


def get_model(
    path: str | os.PathLike[str] | None = None, device: str = "auto", threads: int | None = None
) -> Model:
    """The checked model with a session, created once per (file, device, threads) and reused.

    The key includes the file's size and mtime so a replaced model file is loaded (and checked)
    afresh rather than served stale from the cache.
    """
    p = Path(path) if path is not None else default_model_path()
    try:
        st = p.stat()
    except OSError:
        _read(p)  # raises the precise "not found" / "cannot read" error
        raise
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, device, threads)
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            data = _read(p)
            spec = _spec_from(p, data, _expected_sha256(p))
            model = Model(spec, data, device, threads)
            _CACHE[key] = model
        return model


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
