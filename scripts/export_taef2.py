"""Export TAEF2 (encoder, decoder, the encoder's input gradient) and the texture mask to ONNX.

    python scripts/export_taef2.py [--weights DIR] [--only ROLE[,ROLE]]

Writes into `models/` (the graphs the core runs with onnxruntime alone, no torch):

| file | inputs → outputs | used by |
| --- | --- | --- |
| `taef2-encoder.onnx` | `image` → `latent` | thorough mode's target, `fixative check`, preview |
| `taef2-decoder.onnx` | `latent` → `image` | the "what the AI sees" preview, evaluation |
| `taef2-encoder-grad.onnx` | `image`, `target` → `grad`, `latent` | thorough's half-size steps |
| `texture-mask.onnx` | `image` → `mask` | the refinement's per-pixel budget |
| `taef2-view-grad.onnx` | `image`, `target`, `target_image`, `weights` → `grad`, `latent`, |
|  | `reconstruction`; `weights` of 3: latent, decoder, decoder after the best colour |
|  | correction | thorough and fast mode's full steps (structure, not colour) |

And each other model family's encoder and decoder (`fixative.protection.families`), for
measuring and the preview only: `taesdxl-encoder.onnx` / `taesdxl-decoder.onnx` (roles
`sdxl_encoder`, `sdxl_decoder`) and `taef1-encoder.onnx` / `taef1-decoder.onnx` (`flux1_…`),
weights cast from bf16 to float32, read from `--family-weights` (default: the development copy,
`../shared/models/<autoencoder>/`), pinned in `fetch_models.FAMILY_PINNED`.

`--only ROLE[,ROLE]` re-exports just those graphs and leaves the others' files and pins as they
are (a new graph must not change the bytes of the shipped ones).

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
from fetch_models import FAMILY_PINNED, PINNED, sha256_of
from fixative.protection import families
from generator import GeneratorConfig, texture_mask
from taef2 import LATENT_CHANNELS, load_decoder_pth, load_encoder_pth, load_family, weights_dir
from taef2_vjp import EncoderVJP, ViewVJP, _affine_fit
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
    "view_grad": "taef2-view-grad.onnx",
}
# role -> (family, "encoder" | "decoder") for the families measured but not aimed at.
FAMILY_ROLES = {
    getattr(f, part): (f, part)
    for f in families.FAMILIES
    if not f.target
    for part in ("encoder", "decoder")
}
FAMILY_LICENCE = "MIT, Ollin Boer Bohan (madebyollin/taesd); models/taesdxl-taef1.md"
GRAPHS.update(
    {role: f"{f.autoencoder.lower()}-{part}.onnx" for role, (f, part) in FAMILY_ROLES.items()}
)


def family_weights(family: families.Family, part: str, folder: Path | None) -> Path:
    """The upstream weights file of a family's encoder or decoder."""
    name = f"{family.autoencoder.lower()}_{part}.safetensors"
    base = folder or REPO.parent / "shared" / "models" / family.autoencoder.lower()
    return base / name


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
    if role in FAMILY_ROLES:
        family, part = FAMILY_ROLES[role]
        name = family_weights(family, part, None).name
        sources = f"{name}:{FAMILY_PINNED[name]}"
        extra = {"fixative.family": family.id, **(extra or {})}
    else:
        sources = ", ".join(f"{k}:{v}" for k, v in sorted(PINNED.items()))
    return {
        "fixative.contract": CONTRACT,
        "fixative.role": role,
        "fixative.model_id": Path(GRAPHS[role]).stem,
        "fixative.size_multiple": "8",
        "fixative.source_weights": sources,
        "fixative.licence": LICENCE,
        **(extra or {}),
    }


def _hw(*names: str) -> dict[str, dict[int, str]]:
    return {n: {0: "n", 2: "h", 3: "w"} for n in names}


def export_families(roles: tuple[str, ...], folder: Path | None) -> dict[str, Path]:
    """Export the other families' encoders and decoders named in `roles`."""
    paths: dict[str, Path] = {}
    for role in roles:
        family, part = FAMILY_ROLES[role]
        module = load_family(family.id, part, family_weights(family, part, folder))
        if part == "encoder":
            spec = (module, (torch.rand(1, 3, 64, 64),), (["image"], ["latent"]))
            dyn = _hw("image", "latent")
        else:
            spec = (
                module,
                (torch.randn(1, family.latent_channels, 8, 8),),
                (["latent"], ["image"]),
            )
            dyn = _hw("latent", "image")
        paths[role] = MODELS / GRAPHS[role]
        _save(*spec, dyn, _meta(role), paths[role])
    return paths


def family_parity(paths: dict[str, Path], folder: Path | None) -> dict[str, float]:
    """Norm-relative |onnxruntime − torch| of each family graph on random inputs."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    worst: dict[str, float] = {}
    for role, path in paths.items():
        family, part = FAMILY_ROLES[role]
        module = load_family(family.id, part, family_weights(family, part, folder))
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        worst[role] = 0.0
        for h, w in [(64, 64), (96, 160), (200, 136)]:
            if part == "encoder":
                x = rng.random((1, 3, h, w), dtype=np.float32)
                (got,) = sess.run(None, {"image": x})
            else:
                x = rng.standard_normal((1, family.latent_channels, h // 8, w // 8))
                x = x.astype(np.float32)
                (got,) = sess.run(None, {"latent": x})
            with torch.no_grad():
                want = module(torch.from_numpy(x)).numpy()
            err = float(np.linalg.norm(got - want) / max(float(np.linalg.norm(want)), 1e-12))
            worst[role] = max(worst[role], err)
    return worst


def export_all(
    weights: Path, mask_cfg: GeneratorConfig, roles: tuple[str, ...] = tuple(GRAPHS)
) -> dict[str, Path]:
    roles = tuple(r for r in roles if r not in FAMILY_ROLES)
    enc = load_encoder_pth(weights / "taef2_encoder.pth")
    dec = load_decoder_pth(weights / "taef2_decoder.pth")
    x = torch.rand(1, 3, 64, 64)
    z = torch.randn(1, LATENT_CHANNELS, 8, 8)
    paths = {role: MODELS / GRAPHS[role] for role in roles}
    grad_io = (["image", "target", "target_image", "weights"], ["grad", "latent", "reconstruction"])
    grad_dyn = _hw("image", "target", "target_image", "grad", "latent", "reconstruction")
    mask_params = {"floor": mask_cfg.mask_floor, "texture": mask_cfg.mask_texture}
    specs = {
        "encoder": lambda: (enc, (x,), (["image"], ["latent"]), _hw("image", "latent"), {}),
        "decoder": lambda: (dec, (z,), (["latent"], ["image"]), _hw("latent", "image"), {}),
        "encoder_grad": lambda: (
            EncoderVJP(enc),
            (x, z),
            (["image", "target"], ["grad", "latent"]),
            _hw("image", "target", "grad", "latent"),
            {"fixative.objective": "0.5 * sum((E(image) - target)^2)"},
        ),
        "view_grad": lambda: (
            ViewVJP(enc, dec),
            (x, z, torch.rand(1, 3, 64, 64), torch.tensor([1.0, 1.0, 1.0])),
            grad_io,
            grad_dyn,
            {
                "fixative.objective": (
                    "weights[0] * 0.5 * sum((E(image) - target)^2)"
                    " + weights[1] * 0.5 * sum((D(E(image)) - target_image)^2)"
                    " + weights[2] * 0.5 * sum((a * D(E(image)) + b - target_image)^2),"
                    " a, b: per image and channel, the least-squares fit of target_image"
                )
            },
        ),
        "texture_mask": lambda: (
            _Mask(mask_cfg),
            (x,),
            (["image"], ["mask"]),
            _hw("image", "mask"),
            {"fixative.mask": json.dumps(mask_params)},
        ),
    }
    for role in roles:
        module, example, names, dyn, extra = specs[role]()
        _save(module, example, names, dyn, _meta(role, extra), paths[role])
    return paths


def parity(paths: dict[str, Path], weights: Path, mask_cfg: GeneratorConfig) -> dict[str, float]:
    """Max relative |onnxruntime − torch| per graph, on random and smooth inputs of a few sizes."""
    import onnxruntime as ort

    enc = load_encoder_pth(weights / "taef2_encoder.pth")
    dec = load_decoder_pth(weights / "taef2_decoder.pth")
    files = {
        r: MODELS / name
        for r, name in GRAPHS.items()
        if r not in FAMILY_ROLES and (MODELS / name).is_file()
    }
    files.update(paths)
    sess = {
        r: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        for r, p in files.items()
    }
    rng = np.random.default_rng(0)
    worst: dict[str, float] = dict.fromkeys(files, 0.0)

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
        feeds = {"image": x, "target": target.numpy()}
        if "view_grad" in sess:
            # Autograd through the fit itself (a, b as functions of y): the graph's envelope
            # gradient must agree with it.
            xv = torch.from_numpy(x).requires_grad_(True)
            zv = enc(xv)
            yv = dec(zv)
            y_target = torch.rand_like(yv)
            a, b = _affine_fit(yv, y_target)
            wv = torch.tensor([0.7, 3.0, 40.0])
            (
                wv[0] * 0.5 * ((zv - target) ** 2).sum()
                + wv[1] * 0.5 * ((yv - y_target) ** 2).sum()
                + wv[2] * 0.5 * ((a * yv + b - y_target) ** 2).sum()
            ).backward()
            gv, _, recon = sess["view_grad"].run(
                None, {**feeds, "target_image": y_target.numpy(), "weights": wv.numpy()}
            )
            worst["view_grad"] = max(
                worst["view_grad"], rel(gv, xv.grad.numpy()), rel(recon, yv.detach().numpy())
            )
        (m,) = sess["texture_mask"].run(None, {"image": x})
        worst["texture_mask"] = max(worst["texture_mask"], rel(m, mask.numpy()))
    return worst


# Norm-relative. Typically ~1e-6; up to ~4e-4 where one ReLU input rounds across 0 differently
# in the two implementations (torch autograd and its own hand-written VJP differ as much there).
PARITY_TOLERANCE = 2e-3
# Through the decoder too (20 ReLU layers, up to full size) float32 rounding moves the gradient by
# up to ~4e-3 (torch autograd against itself in float64: the hand-written VJP is exact, 5e-16).
TOLERANCE = {"view_grad": 1e-2}


def update_manifest(paths: dict[str, Path]) -> None:
    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    graphs = manifest.get("graphs", {})
    for role, p in paths.items():
        graphs[role] = {"file": p.name, "sha256": sha256_of(p)}
        if role in FAMILY_ROLES:  # not the project's own export target: say whose and on what terms
            graphs[role]["licence"] = FAMILY_LICENCE
    manifest["graphs"] = dict(sorted(graphs.items()))
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
    p.add_argument(
        "--family-weights",
        type=Path,
        help="one folder with the other families' .safetensors (default: each family's "
        "development copy, ../shared/models/<autoencoder>/)",
    )
    p.add_argument("--only", help="comma-separated roles to re-export (default: all)")
    args = p.parse_args(argv)
    roles = tuple(r.strip() for r in args.only.split(",")) if args.only else tuple(GRAPHS)
    if unknown := [r for r in roles if r not in GRAPHS]:
        p.error(f"--only: unknown role(s) {unknown}; known: {', '.join(GRAPHS)}")
    fam_roles = tuple(r for r in roles if r in FAMILY_ROLES)
    for role in fam_roles:
        family, part = FAMILY_ROLES[role]
        path = family_weights(family, part, args.family_weights)
        if not path.is_file() or sha256_of(path) != FAMILY_PINNED[path.name]:
            print(f"{path}: missing, or sha256 not the pinned one", file=sys.stderr)
            return 1
    torch.set_num_threads(2)
    paths = export_families(fam_roles, args.family_weights)
    errors = family_parity(paths, args.family_weights)
    roles = tuple(r for r in roles if r not in FAMILY_ROLES)
    if roles:
        weights = args.weights or weights_dir()
        for name, digest in PINNED.items():
            if sha256_of(weights / name) != digest:
                print(
                    f"{weights / name}: sha256 does not match the pinned {digest}", file=sys.stderr
                )
                return 1
        gen_meta = {m.key: m.value for m in onnx.load(str(args.mask_from)).metadata_props}
        arch = json.loads(gen_meta["fixative.architecture"])
        mask_cfg = GeneratorConfig(**arch)
        taef2_paths = export_all(weights, mask_cfg, roles)
        errors.update(parity(taef2_paths, weights, mask_cfg))
        paths.update(taef2_paths)
    bad = {r: e for r, e in errors.items() if r in paths and e > TOLERANCE.get(r, PARITY_TOLERANCE)}
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
