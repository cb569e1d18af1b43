"""TAEF2, the evaluation and training target: a tiny autoencoder distilled from the FLUX.2 VAE;
and the same author's TAESDXL and TAEF1 (SDXL's and FLUX.1's), which are TAEF2's layout without
its deepest-stage channel-mixing branch, exported for measuring only.

Written from the state dicts' keys and shapes (upstream: madebyollin/taesd, MIT). Images in [0, 1],
latents with 32 (TAEF2), 16 (TAEF1) or 4 (TAESDXL) channels at 1/8 resolution
(`fixative.protection.families`). Training-only code: it needs torch and is never imported by
the core.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

LATENT_CHANNELS = 32


def _conv(n_in: int, n_out: int, *, bias: bool = True, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class Block(nn.Module):
    """Residual block; the deepest stage adds a GroupNorm'd 1x1 branch first (key prefix `pool`)."""

    def __init__(self, n: int, *, pooled: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(n, n), nn.ReLU(), _conv(n, n), nn.ReLU(), _conv(n, n))
        self.pool = (
            nn.Sequential(
                nn.Conv2d(n, 4 * n, 1, bias=False),
                nn.GroupNorm(4, 4 * n),
                nn.ReLU(),
                nn.Conv2d(4 * n, n, 1, bias=False),
            )
            if pooled
            else None
        )
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


class Clamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


def make_encoder(latent_channels: int = LATENT_CHANNELS, *, pooled: bool = True) -> nn.Sequential:
    """The encoder; `pooled=False` is TAESDXL's and TAEF1's layout (no channel-mixing branch)."""
    return nn.Sequential(
        _conv(3, 64),
        Block(64),
        _conv(64, 64, stride=2, bias=False),
        Block(64),
        Block(64),
        Block(64),
        _conv(64, 64, stride=2, bias=False),
        Block(64),
        Block(64),
        Block(64),
        _conv(64, 64, stride=2, bias=False),
        Block(64, pooled=pooled),
        Block(64, pooled=pooled),
        Block(64, pooled=pooled),
        _conv(64, latent_channels),
    )


def make_decoder(latent_channels: int = LATENT_CHANNELS, *, pooled: bool = True) -> nn.Sequential:
    return nn.Sequential(
        Clamp(),
        _conv(latent_channels, 64),
        nn.ReLU(),
        Block(64, pooled=pooled),
        Block(64, pooled=pooled),
        Block(64, pooled=pooled),
        nn.Upsample(scale_factor=2),
        _conv(64, 64, bias=False),
        Block(64),
        Block(64),
        Block(64),
        nn.Upsample(scale_factor=2),
        _conv(64, 64, bias=False),
        Block(64),
        Block(64),
        Block(64),
        nn.Upsample(scale_factor=2),
        _conv(64, 64, bias=False),
        Block(64),
        _conv(64, 3),
    )


REPO = Path(__file__).resolve().parent.parent
# The project's one copy of the weights: the ONNX graphs in models/ (scripts/export_taef2.py).
ENCODER_ONNX = REPO / "models" / "taef2-encoder.onnx"
DECODER_ONNX = REPO / "models" / "taef2-decoder.onnx"


def _frozen(module: nn.Module, state: dict[str, torch.Tensor]) -> nn.Module:
    module.load_state_dict(state, strict=True)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def _state_from_onnx(path: Path, module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's state dict read back from an exported graph's initializers (by name)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    missing = [k for k in module.state_dict() if k not in weights]
    if missing:
        msg = f"{path}: no initializer for {missing[:3]}... (not a TAEF2 export?)"
        raise ValueError(msg)
    return {k: torch.from_numpy(weights[k].copy()) for k in module.state_dict()}


def _load(make: Callable[[], nn.Module], path: Path) -> nn.Module:
    module = make()
    if path.suffix == ".onnx":
        return _frozen(module, _state_from_onnx(path, module))
    return _frozen(module, torch.load(path, map_location="cpu", weights_only=True))


def load_encoder(path: str | Path = ENCODER_ONNX) -> nn.Module:
    """The TAEF2 encoder, frozen, in eval mode: [N,3,H,W] in [0,1] -> [N,32,H/8,W/8].

    By default from the shipped `models/taef2-encoder.onnx`; a `.pth` state dict also works.
    """
    return _load(make_encoder, Path(path))


def load_decoder(path: str | Path = DECODER_ONNX) -> nn.Module:
    """The TAEF2 decoder, frozen: [N,32,h,w] latents -> [N,3,8h,8w], roughly in [0,1]."""
    return _load(make_decoder, Path(path))


def load_encoder_pth(path: str | Path) -> nn.Module:
    return _load(make_encoder, Path(path))


def load_decoder_pth(path: str | Path) -> nn.Module:
    return _load(make_decoder, Path(path))


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file as float32 (8 bytes of header length, a JSON header,
    raw little-endian data; bf16 widened by shifting into a float32's high half)."""
    import json

    import numpy as np

    data = Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    body = memoryview(data)[8 + n :]
    kinds = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}
    out: dict[str, torch.Tensor] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = np.frombuffer(body[start:end], dtype=kinds[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32))
    return out


def load_family(family_id: str, part: str, weights: str | Path | None = None) -> nn.Module:
    """A family's encoder or decoder (`part`), frozen: from its shipped ONNX graph by default
    (models/manifest.json names it), or from the upstream weights file `weights`
    (TAEF2's .pth, TAESDXL's and TAEF1's .safetensors)."""
    from fixative.protection import families
    from fixative.protection.graphs import graph_path

    family = families.get(family_id)
    make = make_encoder if part == "encoder" else make_decoder
    pooled = family.id == "flux2"  # only TAEF2 has the deepest-stage channel-mixing branch

    def module() -> nn.Module:
        return make(family.latent_channels, pooled=pooled)

    if weights is None:
        path, _ = graph_path(family.encoder if part == "encoder" else family.decoder)
        return _frozen(module(), _state_from_onnx(path, module()))
    weights = Path(weights)
    if weights.suffix == ".safetensors":
        return _frozen(module(), read_safetensors(weights))
    return _load(module, weights)


def weights_dir() -> Path:
    """Where the upstream .pth files are, for re-exporting the graphs only (training side):
    the fetcher's cache, else the development copy beside the repository."""
    from fetch_models import CACHE_DIR  # local import: scripts/ is on sys.path when run as a script

    for candidate in (CACHE_DIR, REPO.parent / "shared" / "models" / "taef2"):
        if (candidate / "taef2_encoder.pth").is_file():
            return candidate
    msg = "TAEF2 weights not found: run `python scripts/fetch_models.py` (see its --from)"
    raise FileNotFoundError(msg)
