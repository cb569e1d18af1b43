"""Export TAEF2 (encoder, decoder, the encoder's input gradient) and the texture mask to ONNX.

    python scripts/export_taef2.py [--weights DIR]

Writes into `models/` (the graphs the core runs with onnxruntime alone, no torch):

| file | inputs → outputs | used by |
| --- | --- | --- |
| `taef2-encoder.onnx` | `image` → `latent` | thorough mode's target, `fixative check`, preview |
| `taef2-decoder.onnx` | `latent` → `image` | the "what the AI sees" preview, evaluation |
| `taef2-encoder-grad.onnx` | `image`, `target` → `grad`, `latent` | thorough mode's steps |
| `texture-mask.onnx` | `image` → `mask` | thorough mode's per-pixel budget |
| `taef2-mix-grad.onnx` | `image`, `target`, `target_image`, `weights` → `grad`, `latent`, |
|  | `reconstruction` | thorough mode's steps (latent + decoder-space objective) |

The TAEF2 weights (MIT, madebyollin/taesd) are read from `--weights` (default: the fetcher's
cache or the development copy; see scripts/taef2.py), checked against their pinned sha256, and
from then on the encoder and decoder graphs in `models/` are the project's one copy of them:
`scripts/taef2.py` rebuilds the torch modules from their initializers for training and tests.
Each graph is checked against torch (autograd for the gradient) before it is recorded, with its
sha256, in `models/manifest.json` under "graphs".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from fetch_models import PINNED, sha256_of
from generator import GeneratorConfig, texture_mask
from taef2 import LATENT_CHANNELS, load_decoder_pth, load_encoder_pth, weights_dir
from taef2_vjp import EncoderVJP, MixVJP
from torch import nn

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"
CONTRACT = "2"
OPSET = 17
LICENCE = "MIT, Copyright (c) 2023 Ollin Boer Bohan (github.com/madebyollin/taesd); models/taef2.md"
GRAPHS = {
    "encoder": "taef2-encoder.onnx",
    "decoder": "taef2-decoder.onnx",
    "encoder_grad": "taef2-encoder-grad.onnx",
    "texture_mask": "texture-mask.onnx",
    "mix_grad": "taef2-mix-grad.onnx",
}


class _Mask(nn.Module):
    """The generator's own texture mask (scripts/generator.py), with its shipped parameters."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        super().__init__()
        self.floor, self.texture = cfg.mask_floor, cfg.mask_texture

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return texture_mask(image, self.floor, self.texture)


def _save(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    names: tuple[list[str], list[str]],
    dynamic: dict[str, dict[int, str]],
    meta: dict[str, str],
    out: Path,
) -> None:
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
    os.close(fd)
    torch.onnx.export(
        module,
        example,
        tmp,
        input_names=names[0],
        output_names=names[1],
        opset_version=OPSET,
        dynamic_axes=dynamic,
        dynamo=False,
        # Unfolded, every parameter stays an initializer under its state-dict name (GroupNorm's
        # affine weights would otherwise be folded into anonymous constants), so that
        # scripts/taef2.py can rebuild the torch modules from these graphs.
        do_constant_folding=False,
    )
    model = onnx.load(tmp)
    del model.metadata_props[:]
    for key, value in sorted(meta.items()):
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "fixative"
    model.doc_string = f"Fixative auxiliary graph '{meta['fixative.role']}'; see models/README.md"
    onnx.checker.check_model(model)
    onnx.save(model, tmp)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; host applications run as other users
    os.replace(tmp, out)


def _meta(role: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "fixative.contract": CONTRACT,
        "fixative.role": role,
        "fixative.model_id": Path(GRAPHS[role]).stem,
        "fixative.size_multiple": "8",
        "fixative.source_weights": ", ".join(f"{k}:{v}" for k, v in sorted(PINNED.items())),
        "fixative.licence": LICENCE,
        **(extra or {}),
    }


def _hw(*names: str) -> dict[str, dict[int, str]]:
    return {n: {0: "n", 2: "h", 3: "w"} for n in names}


def export_all(weights: Path, mask_cfg: GeneratorConfig) -> dict[str, Path]:
    enc = load_encoder_pth(weights / "taef2_encoder.pth")
    dec = load_decoder_pth(weights / "taef2_decoder.pth")
    x = torch.rand(1, 3, 64, 64)
    z = torch.randn(1, LATENT_CHANNELS, 8, 8)
    paths = {role: MODELS / name for role, name in GRAPHS.items()}
    names, dyn = (["image"], ["latent"]), _hw("image", "latent")
    _save(enc, (x,), names, dyn, _meta("encoder"), paths["encoder"])
    names, dyn = (["latent"], ["image"]), _hw("latent", "image")
    _save(dec, (z,), names, dyn, _meta("decoder"), paths["decoder"])
    _save(
        EncoderVJP(enc),
        (x, z),
        (["image", "target"], ["grad", "latent"]),
        _hw("image", "target", "grad", "latent"),
        _meta("encoder_grad", {"fixative.objective": "0.5 * sum((E(image) - target)^2)"}),
        paths["encoder_grad"],
    )
    _save(
        MixVJP(enc, dec),
        (x, z, torch.rand(1, 3, 64, 64), torch.tensor([1.0, 1.0])),
        (["image", "target", "target_image", "weights"], ["grad", "latent", "reconstruction"]),
        _hw("image", "target", "target_image", "grad", "latent", "reconstruction"),
        _meta(
            "mix_grad",
            {
                "fixative.objective": (
                    "weights[0] * 0.5 * sum((E(image) - target)^2)"
                    " + weights[1] * 0.5 * sum((D(E(image)) - target_image)^2)"
                )
            },
        ),
        paths["mix_grad"],
    )
    mask_params = {"floor": mask_cfg.mask_floor, "texture": mask_cfg.mask_texture}
    _save(
        _Mask(mask_cfg),
        (x,),
        (["image"], ["mask"]),
        _hw("image", "mask"),
        _meta("texture_mask", {"fixative.mask": json.dumps(mask_params)}),
        paths["texture_mask"],
    )
    return paths


def parity(paths: dict[str, Path], weights: Path, mask_cfg: GeneratorConfig) -> dict[str, float]:
    """Max relative |onnxruntime − torch| per graph, on random and smooth inputs of a few sizes."""
    import onnxruntime as ort

    enc = load_encoder_pth(weights / "taef2_encoder.pth")
    dec = load_decoder_pth(weights / "taef2_decoder.pth")
    sess = {
        r: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        for r, p in paths.items()
    }
    rng = np.random.default_rng(0)
    worst: dict[str, float] = dict.fromkeys(paths, 0.0)

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        # Norm-relative: a ReLU whose input rounds to the other side of 0 in one implementation
        # moves a few gradient entries by a lot, which a max-relative measure would overstate.
        return float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-12))

    for shape in [(1, 3, 64, 64), (2, 3, 96, 160), (1, 3, 200, 136)]:
        x = rng.random(shape, dtype=np.float32)
        xt = torch.from_numpy(x).requires_grad_(True)
        zt = enc(xt)
        target = zt.detach() + torch.randn_like(zt) * 0.5
        (0.5 * ((zt - target) ** 2).sum()).backward()
        g, lat = sess["encoder_grad"].run(None, {"image": x, "target": target.numpy()})
        worst["encoder_grad"] = max(worst["encoder_grad"], rel(g, xt.grad.numpy()))
        (lat2,) = sess["encoder"].run(None, {"image": x})
        worst["encoder"] = max(worst["encoder"], rel(lat2, zt.detach().numpy()), rel(lat, lat2))
        (img,) = sess["decoder"].run(None, {"latent": lat2})
        with torch.no_grad():
            want = dec(torch.from_numpy(lat2)).numpy()
            mask = texture_mask(torch.from_numpy(x), mask_cfg.mask_floor, mask_cfg.mask_texture)
        worst["decoder"] = max(worst["decoder"], rel(img, want))
        xm = torch.from_numpy(x).requires_grad_(True)
        zm = enc(xm)
        ym = dec(zm)
        y_target = torch.rand_like(ym)
        w = torch.tensor([0.7, 3.0])
        (
            w[0] * 0.5 * ((zm - target) ** 2).sum() + w[1] * 0.5 * ((ym - y_target) ** 2).sum()
        ).backward()
        feeds = {
            "image": x,
            "target": target.numpy(),
            "target_image": y_target.numpy(),
            "weights": w.numpy(),
        }
        gm, _, recon = sess["mix_grad"].run(None, feeds)
        worst["mix_grad"] = max(
            worst["mix_grad"], rel(gm, xm.grad.numpy()), rel(recon, ym.detach().numpy())
        )
        (m,) = sess["texture_mask"].run(None, {"image": x})
        worst["texture_mask"] = max(worst["texture_mask"], rel(m, mask.numpy()))
    return worst


# Norm-relative. Typically ~1e-6; up to ~4e-4 where one ReLU input rounds across 0 differently
# in the two implementations (torch autograd and its own hand-written VJP differ as much there).
PARITY_TOLERANCE = 2e-3
# Through the decoder too (20 ReLU layers, up to full size) float32 rounding moves the gradient by
# up to ~4e-3 (torch autograd against itself in float64: the hand-written VJP is exact, 5e-16).
TOLERANCE = {"mix_grad": 1e-2}


def update_manifest(paths: dict[str, Path]) -> None:
    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["graphs"] = {
        role: {"file": p.name, "sha256": sha256_of(p)} for role, p in sorted(paths.items())
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--weights", type=Path, help="folder with taef2_encoder.pth, taef2_decoder.pth")
    p.add_argument(
        "--mask-from",
        type=Path,
        default=MODELS / "fixative-g2.onnx",
        help="generator whose texture-mask parameters the mask graph takes",
    )
    args = p.parse_args(argv)
    weights = args.weights or weights_dir()
    for name, digest in PINNED.items():
        if sha256_of(weights / name) != digest:
            print(f"{weights / name}: sha256 does not match the pinned {digest}", file=sys.stderr)
            return 1
    gen_meta = {m.key: m.value for m in onnx.load(str(args.mask_from)).metadata_props}
    arch = json.loads(gen_meta["fixative.architecture"])
    mask_cfg = GeneratorConfig(**arch)
    torch.set_num_threads(2)
    paths = export_all(weights, mask_cfg)
    errors = parity(paths, weights, mask_cfg)
    bad = {r: e for r, e in errors.items() if e > TOLERANCE.get(r, PARITY_TOLERANCE)}
    if bad:
        for path in paths.values():
            path.unlink()
        print(f"parity check failed: {bad}", file=sys.stderr)
        return 1
    update_manifest(paths)
    for role, path in paths.items():
        print(f"{path.name}: sha256 {sha256_of(path)}, parity {errors[role]:.1e} ({role})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
