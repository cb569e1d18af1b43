"""Measure protection on the evaluation split: the generator vs PGD-100 vs uniform noise.

    python scripts/evaluate.py --model models/fixative-g2.onnx --md docs/evaluation.md \
        --grid docs/images/eval-grid.png --json docs/evaluation.json

All perturbed images are quantised to 8 bits, as a written file would be. Latent distortion is
||E(x') - E(x)|| / ||E(x)|| on TAEF2; the "AI view" is PSNR(D(E(x')), D(E(x))) (lower = more
disrupted). After JPEG q75 and a 0.5x down/up resize the distortion is measured on top of the
transform's own: ||E(T(x')) - E(T(x))|| / ||E(T(x))||. PGD results are cached in `--cache`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dataset import CLIP_PREFIX, center_crop, eval_files, load_rgb
from eot import jpeg_real, resize
from fetch_models import fetch
from metrics import psnr, relative_distortion, sign_agreement, ssim
from pgd import pgd, target_pattern
from taef2 import load_decoder, load_encoder

REPO = Path(__file__).resolve().parent.parent

EPSILON = 8 / 255
CROP = 256


def quantise(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x.clamp(0, 1) * 255) / 255


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()


class Perturber:
    """Something that maps images to unit perturbations; timed the same way whatever runs it."""

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def seconds_per_megapixel(self, size: int = 1024, repeats: int = 3) -> float:
        x = torch.rand(1, 3, size, size)
        self.unit(x)
        t = time.perf_counter()
        for _ in range(repeats):
            self.unit(x)
        return (time.perf_counter() - t) / repeats / (size * size / 1e6)


class OnnxGenerator(Perturber):
    def __init__(self, path: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        (delta,) = self.session.run(["delta"], {"image": x.numpy().astype(np.float32)})
        return torch.from_numpy(delta)


class TorchGenerator(Perturber):
    """A training checkpoint, measured before export (quick comparisons between runs)."""

    def __init__(self, run: Path) -> None:
        from generator import Generator, GeneratorConfig

        state = torch.load(run / "ckpt.pt", map_location="cpu", weights_only=False)
        self.net = Generator(GeneratorConfig(**state["config"]["generator"])).eval()
        self.net.load_state_dict(state["model"])

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.net(x)


def cached_pgd(
    cache: Path, name: str, encoder, x, eps: float, steps: int, targeted: bool
) -> tuple[torch.Tensor, float]:
    key = cache / f"{Path(name).stem}_{'t' if targeted else 'u'}_{eps * 255:.3f}_{steps}.pt"
    if key.exists():
        saved = torch.load(key, weights_only=True)
        return saved["x"], float(saved["seconds"])
    target = None
    if targeted:
        with torch.no_grad():
            target = encoder(target_pattern(tuple(x.shape)))
    t = time.perf_counter()
    x_adv = pgd(encoder, x, eps, steps=steps, target=target)
    seconds = time.perf_counter() - t
    cache.mkdir(parents=True, exist_ok=True)
    torch.save({"x": x_adv, "seconds": torch.tensor(seconds)}, key)
    return x_adv, seconds


def measure(encoder, decoder, x: torch.Tensor, x_adv: torch.Tensor) -> dict[str, float]:
    with torch.no_grad():
        z, z_adv = encoder(x), encoder(x_adv)
        dist = float(relative_distortion(z_adv, z))
        h, w = x.shape[-2:]

        def down_up(t: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.interpolate(
                resize(t, 0.5), size=(h, w), mode="bilinear", align_corners=False
            )

        after = {}
        for label, f in (("jpeg75", lambda t: jpeg_real(t, 75)), ("resize05", down_up)):
            after[label] = float(relative_distortion(encoder(f(x_adv)), encoder(f(x))))
        return {
            "distortion": dist,
            "aiview_psnr": float(psnr(decoder(z_adv).clamp(0, 1), decoder(z).clamp(0, 1))),
            "psnr": float(psnr(x_adv, x)),
            "ssim": float(ssim(x_adv, x)),
            "jpeg75": after["jpeg75"],
            "resize05": after["resize05"],
            "kept_jpeg75": after["jpeg75"] / max(dist, 1e-9),
            "kept_resize05": after["resize05"] / max(dist, 1e-9),
        }


def uniform_noise(x: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + (torch.rand(x.shape, generator=g) * 2 - 1) * eps).clamp(0, 1)


def mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def grid(
    path: Path, triples: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], decoder
) -> None:
    """Rows: original | protected | perturbation x10 | AI view of original | of protected."""
    rows = []
    with torch.no_grad():
        for x, x_adv, z_pair in triples:
            rec, rec_adv = (decoder(z).clamp(0, 1) for z in z_pair)
            cells = [x, x_adv, (0.5 + 10 * (x_adv - x)).clamp(0, 1), rec, rec_adv]
            rows.append(torch.cat([c[0] for c in cells], dim=2))
    img = torch.cat(rows, dim=1).permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(path, optimize=True)


METHOD_LABELS = {
    "generator": "Fixative generator",
    "pgd100": "PGD-100 untargeted",
    "pgd100_targeted": "PGD-100 targeted (checkerboard)",
    "noise": "uniform noise",
    "pgd100_eqpsnr": "PGD-100 at the generator's PSNR",
    "noise_eqpsnr": "uniform noise at the generator's PSNR",
    "universal": "generator's mean δ on every image",
}


def markdown(summary: dict) -> str:
    cols = [
        ("distortion", "latent dist."),
        ("aiview_psnr", "AI-view PSNR"),
        ("psnr", "PSNR"),
        ("ssim", "SSIM"),
        ("ssim_clip", "SSIM clip-art"),
        ("kept_jpeg75", "kept after JPEG q75"),
        ("kept_resize05", "kept after 0.5× resize"),
    ]
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key, row in summary["methods"].items():
        cells = []
        for c, _ in cols:
            v = row.get(c)
            cells.append("–" if v is None else (f"{v:.1f} dB" if "psnr" in c else f"{v:.3f}"))
        lines.append(f"| {METHOD_LABELS[key]} | " + " | ".join(cells) + " |")
    s = summary
    lines += [
        "",
        f"- Budget ε = {s['epsilon'] * 255:.0f}/255 (medium); at equal PSNR, PGD used"
        f" ε = {s['eps_eq_pgd'] * 255:.2f}/255, noise ε = {s['eps_eq_noise'] * 255:.2f}/255.",
        f"- {s['n_images']} unseen evaluation images ({s['n_clip']} clip-art),"
        f" {CROP}² centre crops.",
        f"- Generator: {s['gen_s_per_mp']:.3f} s per megapixel on CPU (onnxruntime, 2 threads);"
        f" PGD-100: {s['pgd_s_per_image']:.1f} s per {CROP}² image"
        f" = {s['pgd_s_per_mp']:.0f} s per megapixel"
        f" → the generator is **{s['speedup']:.0f}×** faster.",
        "- Image dependence: mean sign agreement of δ between evaluation images"
        f" {s['sign_agreement']:.3f}"
        f" (0.5 = unrelated, 1 = one universal pattern); the mean δ applied to every image keeps"
        f" {s['universal_share']:.0%} of the image-specific distortion.",
        f"- Ratios: generator / noise latent distortion {s['ratio_noise']:.2f}×;"
        f" generator / PGD-100 at equal PSNR {s['ratio_pgd_eqpsnr']:.2f}×;"
        f" generator / PGD-100 at equal ε {s['ratio_pgd']:.2f}×.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", type=Path, help="ONNX model (default: the manifest's default)")
    p.add_argument("--run", type=Path, help="measure a training checkpoint instead of --model")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--cache", type=Path, default=Path("runs/eval-cache"))
    p.add_argument("--md", type=Path)
    p.add_argument("--json", type=Path)
    p.add_argument("--grid", type=Path)
    p.add_argument("--limit", type=int, help="only the first N evaluation images (quick runs)")
    p.add_argument(
        "--skip-extra", action="store_true", help="skip targeted and equal-PSNR PGD runs"
    )
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    weights = fetch()
    encoder, decoder = (
        load_encoder(weights / "taef2_encoder.pth"),
        load_decoder(weights / "taef2_decoder.pth"),
    )
    if not args.run and not args.model:
        manifest = json.loads((REPO / "models" / "manifest.json").read_text())
        args.model = REPO / "models" / manifest["default"]
    gen = TorchGenerator(args.run) if args.run else OnnxGenerator(args.model)
    evals = eval_files()  # data/eval/, in the repository
    evals = evals[: args.limit] if args.limit else evals

    images = {f.name: to_tensor(center_crop(load_rgb(f), CROP)) for f in evals}
    results: dict[str, list[dict]] = {k: [] for k in METHOD_LABELS}
    clip_ssim: dict[str, list[float]] = {k: [] for k in METHOD_LABELS}
    units, adv, pgd_seconds = {}, {}, []
    for name, x in images.items():
        units[name] = gen.unit(x)
        adv[name] = {
            "generator": quantise(x + EPSILON * units[name]),
            "noise": quantise(uniform_noise(x, EPSILON, 0)),
        }
        adv[name]["pgd100"], secs = cached_pgd(
            args.cache, name, encoder, x, EPSILON, args.steps, False
        )
        adv[name]["pgd100"] = quantise(adv[name]["pgd100"])
        pgd_seconds.append(secs)
        if not args.skip_extra:
            xt, _ = cached_pgd(args.cache, name, encoder, x, EPSILON, args.steps, True)
            adv[name]["pgd100_targeted"] = quantise(xt)
        print(f"{name}: done ε-budget methods", flush=True)

    # Equal PSNR: rescale PGD's and noise's budget to the generator's mean image PSNR.
    def mean_psnr(method: str) -> float:
        return float(np.mean([float(psnr(adv[n][method], images[n])) for n in images]))

    gen_psnr = mean_psnr("generator")
    eps_eq_pgd = EPSILON * 10 ** ((mean_psnr("pgd100") - gen_psnr) / 20)
    eps_eq_noise = EPSILON * 10 ** ((mean_psnr("noise") - gen_psnr) / 20)
    mean_unit = torch.stack([units[n] for n in images]).mean(0)
    for name, x in images.items():
        adv[name]["noise_eqpsnr"] = quantise(uniform_noise(x, eps_eq_noise, 0))
        if not args.skip_extra:
            xe, _ = cached_pgd(args.cache, name, encoder, x, eps_eq_pgd, args.steps, False)
            adv[name]["pgd100_eqpsnr"] = quantise(xe)
        adv[name]["universal"] = quantise(x + EPSILON * mean_unit)
        for method, x_adv in adv[name].items():
            row = measure(encoder, decoder, x, x_adv)
            results[method].append(row)
            if name.startswith(CLIP_PREFIX):
                clip_ssim[method].append(row["ssim"])
        print(f"{name}: measured", flush=True)

    methods = {}
    for key, rows in results.items():
        if rows:
            methods[key] = mean_rows(rows)
            if clip_ssim[key]:
                methods[key]["ssim_clip"] = float(np.mean(clip_ssim[key]))
    names = list(images)
    agreement = float(
        np.mean([sign_agreement(units[a], units[b]) for a, b in combinations(names, 2)])
    )
    gen_s_per_mp = gen.seconds_per_megapixel()
    pgd_s = float(np.mean(pgd_seconds))
    pgd_s_per_mp = pgd_s / (CROP * CROP / 1e6)
    eq = methods.get("pgd100_eqpsnr", methods["pgd100"])
    summary = {
        "model": str(args.run or args.model),
        "epsilon": EPSILON,
        "n_images": len(names),
        "n_clip": sum(n.startswith(CLIP_PREFIX) for n in names),
        "images": names,
        "methods": methods,
        "eps_eq_pgd": eps_eq_pgd,
        "eps_eq_noise": eps_eq_noise,
        "sign_agreement": agreement,
        "universal_share": methods["universal"]["distortion"] / methods["generator"]["distortion"],
        "gen_s_per_mp": gen_s_per_mp,
        "pgd_s_per_image": pgd_s,
        "pgd_s_per_mp": pgd_s_per_mp,
        "speedup": pgd_s_per_mp / gen_s_per_mp,
        "ratio_noise": methods["generator"]["distortion"] / methods["noise"]["distortion"],
        "ratio_pgd": methods["generator"]["distortion"] / methods["pgd100"]["distortion"],
        "ratio_pgd_eqpsnr": methods["generator"]["distortion"] / eq["distortion"],
    }
    table = markdown(summary)
    print(table)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if args.grid:
        picks = [
            n for n in names if n in ("clip_tiger.png", "clip_park.png", "gnome_wood-d.png")
        ] or names[:3]
        with torch.no_grad():
            triples = [
                (images[n], adv[n]["generator"], (encoder(images[n]), encoder(adv[n]["generator"])))
                for n in picks
            ]
        grid(args.grid, triples, decoder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
