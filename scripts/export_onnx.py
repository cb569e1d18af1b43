"""Export a trained generator checkpoint to ONNX under the model contract (models/README.md).

    python scripts/export_onnx.py --run runs/g2 --name fixative-g2

Writes `models/<name>.onnx` (opset 17, dynamic N/H/W, contract metadata), checks that onnxruntime's
output equals torch's within 1e-4 on random input, and records the file's sha256 in
`models/manifest.json` (the shipped model becomes the default unless `--no-default`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from fetch_models import PINNED
from generator import Generator, GeneratorConfig, receptive_field

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "models"
CONTRACT = "1"
STRENGTHS = {"low": 4 / 255, "medium": 8 / 255, "high": 12 / 255}
SIZE_MULTIPLE = 8
MIN_SIZE = 32
PARITY_TOLERANCE = 1e-4


def tile_overlap(rf: int) -> int:
    return -(-rf // SIZE_MULTIPLE) * SIZE_MULTIPLE  # round up to the size multiple


def load_generator(run: Path) -> tuple[Generator, dict, dict]:
    state = torch.load(run / "ckpt.pt", map_location="cpu", weights_only=False)
    cfg = state["config"]
    gen = Generator(GeneratorConfig(**cfg["generator"]))
    gen.load_state_dict(state["model"])
    gen.eval()
    digests = json.loads((run / "digests.json").read_text())
    return gen, cfg, {**digests, "step": state["step"]}


def metadata(name: str, cfg: dict, digests: dict) -> dict[str, str]:
    rf = receptive_field(GeneratorConfig(**cfg["generator"]))
    return {
        "fixative.contract": CONTRACT,
        "fixative.model_id": name,
        "fixative.epsilon": json.dumps(STRENGTHS),
        "fixative.trained_epsilon": repr(cfg["epsilon"]),
        "fixative.receptive_field": str(rf),
        "fixative.tile_overlap": str(tile_overlap(rf)),
        "fixative.size_multiple": str(SIZE_MULTIPLE),
        "fixative.min_size": str(MIN_SIZE),
        "fixative.target_encoder": f"taef2:{PINNED['taef2_encoder.pth']}",
        "fixative.training_data_digest": digests["data"],
        "fixative.config_digest": digests["config"],
        "fixative.training_steps": str(digests["step"]),
        "fixative.architecture": json.dumps(cfg["generator"], sort_keys=True),
    }


def export(gen: Generator, meta: dict[str, str], out: Path) -> None:
    example = torch.rand(1, 3, 64, 64)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
    os.close(fd)
    torch.onnx.export(
        gen,
        (example,),
        tmp_name,
        input_names=["image"],
        output_names=["delta"],
        opset_version=17,
        dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}, "delta": {0: "n", 2: "h", 3: "w"}},
        dynamo=False,
    )
    model = onnx.load(tmp_name)
    del model.metadata_props[:]
    for key, value in sorted(meta.items()):
        model.metadata_props.add(key=key, value=value)
    model.producer_name = "fixative"
    model.doc_string = "Fixative perturbation generator; contract: models/README.md"
    onnx.checker.check_model(model)
    onnx.save(model, tmp_name)
    os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the model is read by other users (host apps)
    os.replace(tmp_name, out)


def parity(gen: Generator, path: Path, seed: int = 0) -> tuple[float, float]:
    """Max |onnxruntime - torch| over random inputs of a few sizes, and for scale the max
    |torch float32 - torch float64| of the same network on the same inputs."""
    import copy

    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    exact = copy.deepcopy(gen).double()
    rng = np.random.default_rng(seed)
    worst, own = 0.0, 0.0
    for shape in [(1, 3, 64, 64), (2, 3, 96, 160), (1, 3, 256, 200)]:
        x = rng.random(shape, dtype=np.float32)
        (got,) = session.run(["delta"], {"image": x})
        with torch.no_grad():
            want = gen(torch.from_numpy(x)).numpy()
            ref = exact(torch.from_numpy(x).double()).numpy()
        worst = max(worst, float(np.abs(got - want).max()))
        own = max(own, float(np.abs(want - ref).max()))
    return worst, own


def parity_ok(onnx_vs_torch: float, torch_rounding: float) -> bool:
    """Within 1e-4, or within torch's own float32 rounding of the same network.

    A generator whose tanh is driven into saturation (pre-activations ~1e3) rounds to ~1e-4 at its
    zero crossings in any float32 implementation, torch's own included (|float32 - float64|);
    there the export can be no closer than that.
    """
    return onnx_vs_torch <= max(PARITY_TOLERANCE, 1.5 * torch_rounding)


def generator_from_onnx(path: Path) -> Generator:
    """The torch generator rebuilt from an exported file's metadata and weights (parity checks)."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    gen = Generator(GeneratorConfig(**json.loads(meta["fixative.architecture"])))
    weights = {
        t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer
    }
    state = {k: weights[k] for k in gen.state_dict()}
    gen.load_state_dict(state)
    return gen.eval()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def update_manifest(out: Path, model_id: str, default: bool) -> dict:
    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": {}}
    manifest["models"][out.name] = {"model_id": model_id, "sha256": sha256_of(out)}
    if default or "default" not in manifest:
        manifest["default"] = out.name
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--name", required=True, help="model id, e.g. fixative-g2")
    p.add_argument("--no-default", action="store_true")
    args = p.parse_args(argv)
    gen, cfg, digests = load_generator(args.run)
    out = MODELS / f"{args.name}.onnx"
    export(gen, metadata(args.name, cfg, digests), out)
    err, rounding = parity(gen, out)
    if not parity_ok(err, rounding):
        out.unlink()
        print(
            f"parity check failed: max |onnxruntime - torch| = {err:.2e}"
            f" (torch float32 vs float64: {rounding:.2e})",
            file=sys.stderr,
        )
        return 1
    update_manifest(out, args.name, not args.no_default)
    print(
        f"{out}  sha256 {sha256_of(out)}  parity {err:.2e} (torch float32 vs float64"
        f" {rounding:.2e})  step {digests['step']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
