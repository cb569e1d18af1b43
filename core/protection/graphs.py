"""The auxiliary ONNX graphs shipped beside the generator: TAEF2's encoder, its input gradient,
its decoder and the texture mask (models/README.md, "Auxiliary graphs"); and, for measuring and
previewing only, the encoder and decoder of each other model family (`families`).

Each is listed with its sha256 under "graphs" in models/manifest.json and checked at load, like
the generator. Sessions are created once per (role, device, threads) and reused. torch is never
needed: thorough mode, `fixative check` and the preview run on onnxruntime alone.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelError
from . import families
from .model import MANIFEST, make_session, read_manifest, shipped_dir, shrinking_run_options

if TYPE_CHECKING:
    import numpy as np

# role -> (input names, output names), the interface each graph must have.
INTERFACES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "encoder": (("image",), ("latent",)),
    "decoder": (("latent",), ("image",)),
    "encoder_grad": (("image", "target"), ("grad", "latent")),
    "texture_mask": (("image",), ("mask",)),
    "view_grad": (
        ("image", "target", "target_image", "weights"),
        ("grad", "latent", "reconstruction"),
    ),
}
for _family in families.FAMILIES:  # every family's encoder and decoder, by the table
    INTERFACES.setdefault(_family.encoder, INTERFACES["encoder"])
    INTERFACES.setdefault(_family.decoder, INTERFACES["decoder"])
LATENT_FACTOR = 8  # every family's latents are 1/8 of the image's sides


@dataclass(frozen=True)
class GraphSpec:
    role: str
    path: str
    sha256: str
    metadata: dict[str, str]


class Graph:
    """One checked auxiliary graph with its session; `run` returns the outputs in order."""

    def __init__(
        self, role: str, path: Path, device: str, threads: int | None, *, arena: bool = False
    ) -> None:
        data = _read_checked(role, path)
        # `arena`: ORT's memory arena, shrunk back after every run. Measured on fast's untiled
        # 0.26 MP gradient: the first run takes 1.6 s instead of 2.2 s, and the memory still
        # goes back to the system after each run (365 MB held, not the 2.2 GB of an unshrunk
        # arena), which a painting app hosting the core needs. On thorough's tiles it saved 6 %
        # for 0.7 GB more peak (2.2 GB at 8K), so tiled work keeps it off
        # (docs/evaluation-fast.md).
        self.session = make_session(data, str(path), device, threads, arena=arena)
        self.run_options = shrinking_run_options() if arena else None
        self.provider = self.session.get_providers()[0]
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.spec = GraphSpec(role, str(path), hashlib.sha256(data).hexdigest(), meta)
        inputs, outputs = INTERFACES[role]
        got_in = tuple(a.name for a in self.session.get_inputs())
        got_out = tuple(a.name for a in self.session.get_outputs())
        if got_in != inputs or got_out != outputs or meta.get("fixative.role") != role:
            msg = (
                f"{path}: not a Fixative '{role}' graph (inputs {got_in}, outputs {got_out}, "
                f"role {meta.get('fixative.role')!r}; expected {inputs} -> {outputs})"
            )
            raise ModelError(msg)

    def run(self, **feeds: np.ndarray) -> list[np.ndarray]:
        try:
            return self.session.run(None, feeds, self.run_options)
        except Exception as exc:  # onnxruntime's own exception types
            shapes = {k: v.shape for k, v in feeds.items()}
            msg = f"{self.spec.path}: the {self.spec.role} graph failed on {shapes} ({exc})"
            raise ModelError(msg) from exc


def graph_path(role: str, folder: Path | None = None) -> tuple[Path, str]:
    """(file, pinned sha256) of the graph for `role`, from the shipped manifest."""
    if role not in INTERFACES:
        msg = f"unknown graph role {role!r}"
        raise ModelError(msg)
    folder = folder or shipped_dir()
    manifest = read_manifest(folder / MANIFEST)
    entry = manifest.get("graphs", {}).get(role)
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        msg = (
            f"{folder / MANIFEST}: lists no '{role}' graph; thorough mode, the preview and "
            "`fixative check --against` need the graphs shipped with Fixative (reinstall it)"
        )
        raise ModelError(msg)
    return folder / entry["file"], str(entry.get("sha256", "")).lower()


def _read_checked(role: str, path: Path) -> bytes:
    folder = path.parent
    _, pinned = graph_path(role, folder) if (folder / MANIFEST).is_file() else (path, "")
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot read the {role} graph ({exc.strerror or exc})"
        raise ModelError(msg) from exc
    sha = hashlib.sha256(data).hexdigest()
    if pinned and sha != pinned:
        msg = (
            f"{path}: the {role} graph is damaged or was modified (sha256 {sha[:12]}..., "
            f"manifest says {pinned[:12]}...); reinstall Fixative"
        )
        raise ModelError(msg)
    return data


def verify(role: str) -> str:
    """The sha256 of the shipped graph for `role`, checked against the manifest without starting
    a session (`fixative info`); ModelError when it is missing, unreadable or different."""
    path, _ = graph_path(role)
    return hashlib.sha256(_read_checked(role, path)).hexdigest()


_CACHE: dict[tuple[Any, ...], Graph] = {}
_LOCK = threading.Lock()


def get_graph(
    role: str, device: str = "auto", threads: int | None = None, *, arena: bool = False
) -> Graph:
    """The shipped graph for `role` with a session, created once per (role, device, threads,
    arena) and kept for the process (see `Graph` for `arena`)."""
    path, _ = graph_path(role)
    key = (role, str(path.resolve()), device, threads, arena)
    with _LOCK:
        graph = _CACHE.get(key)
        if graph is None:
            graph = Graph(role, path, device, threads, arena=arena)
            _CACHE[key] = graph
        return graph


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def _crop8(image: np.ndarray) -> np.ndarray:
    """RGB float32 (1, 3, H8, W8) of an (H, W, C) image, its sides cut to multiples of 8."""
    import numpy as np

    h, w = image.shape[0], image.shape[1]
    h8, w8 = h - h % LATENT_FACTOR, w - w % LATENT_FACTOR
    if h8 < LATENT_FACTOR or w8 < LATENT_FACTOR:
        msg = f"image of {w}x{h} is too small to encode (needs at least 8x8)"
        raise ModelError(msg)
    return np.ascontiguousarray(image[:h8, :w8, :3].transpose(2, 0, 1)[None], dtype=np.float32)


def encode(
    image: np.ndarray,
    device: str = "cpu",
    threads: int | None = None,
    family: families.Family = families.TARGET,
) -> np.ndarray:
    """The family's latent (1, C, H/8, W/8) of a float RGB (H, W, 3) image in [0, 1] (TAEF2's
    by default), its sides cut to multiples of 8."""
    return get_graph(family.encoder, device, threads).run(image=_crop8(image))[0]


def decode(
    latent: np.ndarray,
    device: str = "cpu",
    threads: int | None = None,
    family: families.Family = families.TARGET,
) -> np.ndarray:
    """The picture the family's decoder makes of `latent`: float32 RGB (H, W, 3) in [0, 1]."""
    import numpy as np

    (image,) = get_graph(family.decoder, device, threads).run(latent=latent)
    return np.clip(image[0].transpose(1, 2, 0), 0.0, 1.0)


def relative_distance(latent: np.ndarray, reference: np.ndarray) -> float:
    """‖latent − reference‖ / ‖reference‖."""
    import numpy as np

    a, b = latent.astype(np.float64), reference.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12))


def latent_distortion(
    original: np.ndarray, protected: np.ndarray, device: str = "cpu", threads: int | None = None
) -> float:
    """‖E(p) − E(o)‖ / ‖E(o)‖ for float32 RGB (H, W, 3) in [0, 1], cropped to multiples of 8."""
    return relative_distance(encode(protected, device, threads), encode(original, device, threads))


def status() -> list[dict[str, Any]]:
    """The auxiliary graphs of models/manifest.json: role, file, sha256, present, verified."""
    rows: list[dict[str, Any]] = []
    for role in INTERFACES:
        row: dict[str, Any] = {"role": role}
        try:
            path, pinned = graph_path(role)
            row.update(file=path.name, path=str(path), sha256=pinned, present=path.is_file())
            row["sha256_verified"] = False
            verify(role)
            row["sha256_verified"] = bool(pinned)
        except ModelError as exc:
            row["error"] = str(exc)
        rows.append(row)
    return rows
