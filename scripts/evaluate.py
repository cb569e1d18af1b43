"""Measure protection on the evaluation images, in two protocols.

Crops (the default, `--protocol crops`): the Fixative generator alone, fast (the generator plus
a gradient step) and thorough (refined with the encoder's gradient; both through
`fixative.protect_array`) vs PGD-100 vs uniform noise, on 256² centre crops at their native
size (a 256² crop is its own view in every mode), also at equal image PSNR:

    python scripts/evaluate.py --no-pgd --md docs/evaluation.md \
        --grid docs/images/eval-grid.png --json docs/evaluation.json

Trainer's view (`--protocol trainer`, scripts/eval_trainer.py): full-size images and 4K versions,
protected with the default view and with `view="native"`, read back the way trainers read files
(about 1 MP and 0.26 MP, three resamplers) and measured there with the shipped ONNX TAEF2:

    python scripts/evaluate.py --protocol trainer --modes fast,thorough \
        --md docs/evaluation-trainer.md --json docs/evaluation-trainer.json

Crops protocol: all perturbed images are quantised to 8 bits, as a written file would be. Latent
distortion is ||E(x') - E(x)|| / ||E(x)|| on TAEF2 (torch, weights read from the shipped ONNX
graphs); the "AI view" is PSNR(D(E(x')), D(E(x))) (lower = more disrupted). After JPEG q75/q85
and a 0.5x down-and-up resize (antialiased bicubic down, bicubic up, each quantised to 8 bits)
the distortion is measured on top of the transform's own, ||E(T(x')) - E(T(x))|| / ||E(T(x))||;
"kept" is that over the untransformed distortion. "At equal PSNR", noise's and PGD's budgets are
rescaled so their mean image PSNR is the Fixative mode's. PGD results are cached in `--cache`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from dataset import CLIP_PREFIX, center_crop, eval_files, load_rgb
from eot import jpeg_real
from fixative.protection import families
from fixative.protection.measures import AIView
from metrics import psnr, relative_distortion, sign_agreement, ssim
from pgd import pgd, target_pattern
from PIL import Image
from taef2 import load_decoder, load_encoder

REPO = Path(__file__).resolve().parent.parent

CROP = 256
PGD_CACHE = REPO / "runs" / "eval-cache"


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
    """The exported generator, run by the core's own `Model` (its checks, its session)."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        from fixative.protection.model import get_model

        self.model = get_model(str(path), "cpu", threads)

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.model.run(x.numpy().astype(np.float32)))


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
    h, w = x.shape[-2:]
    size = "" if (h, w) == (CROP, CROP) else f"_{w}x{h}"  # 256² keeps the older caches' names
    key = cache / f"{Path(name).stem}_{'t' if targeted else 'u'}_{eps * 255:.3f}_{steps}{size}.pt"
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


def down_up_bicubic(t: torch.Tensor, scale: float = 0.5) -> torch.Tensor:
    """A 0.5× resize and back (antialiased bicubic down, bicubic up), 8 bits after each."""
    h, w = t.shape[-2:]
    small = F.interpolate(
        t, size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="bicubic",
        antialias=True, align_corners=False,
    )  # fmt: skip
    small = quantise(small)
    return quantise(F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False))


TRANSFORMS = {
    "jpeg75": lambda t: jpeg_real(t, 75),
    "jpeg85": lambda t: jpeg_real(t, 85),
    "resize05": down_up_bicubic,
}


def reference(encoder, decoder, x: torch.Tensor) -> dict:
    """The clean image's latents (as is and after each transform) and AI view, once per image."""
    with torch.no_grad():
        batch = torch.cat([x, *(f(x) for f in TRANSFORMS.values())])
        z = encoder(batch)
        return {"z": z[:1], "rec": to_hwc(decoder(z[:1]).clamp(0, 1)), "zt": z[1:]}


def to_hwc(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) float64 array, the layout of
    `fixative.protection.measures`."""
    return t[0].permute(1, 2, 0).double().numpy()


def measure(encoder, decoder, x: torch.Tensor, x_adv: torch.Tensor, ref: dict) -> dict:
    """The metrics of one perturbed image; `ref` is `reference(encoder, decoder, x)`. The image
    and its transformed copies go through the encoder as one batch."""
    with torch.no_grad():
        batch = torch.cat([x_adv, *(f(x_adv) for f in TRANSFORMS.values())])
        z_all = encoder(batch)
        z_adv = z_all[:1]
        dist = float(relative_distortion(z_adv, ref["z"]))
        seen = AIView.of(to_hwc(decoder(z_adv).clamp(0, 1)), ref["rec"])  # the core's measures
        row = {
            "distortion": dist,
            "aiview_psnr": seen.psnr,
            "aiview_cm_psnr": seen.psnr_colour_matched,
            "aiview_ssim": seen.ssim,
            "psnr": float(psnr(x_adv, x)),
            "ssim": float(ssim(x_adv, x)),
            "max_diff8": float(torch.round((x_adv - x).abs().max() * 255)),
        }
        after = relative_distortion(z_all[1:], ref["zt"])
        for k, label in enumerate(TRANSFORMS):
            row[label] = float(after[k])
            row[f"kept_{label}"] = float(after[k]) / max(dist, 1e-9)
        return row


def uniform_noise(x: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + (torch.rand(x.shape, generator=g) * 2 - 1) * eps).clamp(0, 1)


def mean_rows(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def grid(path: Path, rows_in: list[tuple[list[torch.Tensor], list[torch.Tensor]]], decoder) -> None:
    """One row per image: the images (original | fast | thorough), then the AI's view of each:
    D(E(·)) for the same latents (AI view of original | of fast | of thorough), then the AI views
    of the protected images colour-matched to the original's (what a colour correction leaves)."""
    from fixative.protection.measures import colour_matched

    rows = []
    with torch.no_grad():
        for images, latents in rows_in:
            views = [decoder(z).clamp(0, 1) for z in latents]
            ref = to_hwc(views[0])
            matched = [
                torch.from_numpy(colour_matched(to_hwc(v), ref)).float().permute(2, 0, 1)[None]
                for v in views[1:]
            ]
            rows.append(torch.cat([c[0] for c in [*images, *views, *matched]], dim=2))
    img = torch.cat(rows, dim=1).permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(path, optimize=True)


METHOD_LABELS = {
    "generator": "Fixative generator alone (--mode generator)",
    "fast": "Fixative fast",
    "thorough": "Fixative thorough",
    "pgd100": "PGD-100 untargeted",
    "pgd100_targeted": "PGD-100 targeted (checkerboard)",
    "noise": "uniform noise",
    "pgd100_eqpsnr": "PGD-100 at the generator's PSNR",
    "noise_eqpsnr": "uniform noise at the generator's PSNR",
    "noise_eq_fast": "uniform noise at fast's PSNR",
    "pgd100_eq_thorough": "PGD-100 at thorough's PSNR",
    "noise_eq_thorough": "uniform noise at thorough's PSNR",
    "universal": "generator's mean δ on every image",
}
# The noise row at the same mean image PSNR as each method (for "×noise" and the AI-view gap).
EQUAL_NOISE = {
    "generator": "noise_eqpsnr",
    "pgd100_eqpsnr": "noise_eqpsnr",
    "noise_eqpsnr": "noise_eqpsnr",
    "fast": "noise_eq_fast",
    "noise_eq_fast": "noise_eq_fast",
    "thorough": "noise_eq_thorough",
    "pgd100_eq_thorough": "noise_eq_thorough",
    "noise_eq_thorough": "noise_eq_thorough",
}
# Issue 16's targets for thorough mode at the default strength (model card, not timed tests).
TARGETS = (
    ("ratio_noise_eqpsnr", "latent distortion ≥ 3× noise's at equal PSNR (floor 2.5×)", 3.0),
    ("aiview_gap_noise", "AI-view PSNR ≥ 8 dB below noise's", 8.0),
    ("aiview_cm_gap_noise", "the same after colour matching (issue 28, the sceptic's)", 8.0),
    ("psnr", "image PSNR ≥ 40 dB", 40.0),
    ("ssim_clip", "SSIM on clip-art ≥ 0.95", 0.95),
    ("kept_resize05", "≥ 60 % kept after a 0.5× resize", 0.6),
    ("kept_jpeg75", "≥ 50 % kept after JPEG q75", 0.5),
)
# Issue 34's targets for fast mode (the generator plus a gradient step), medium strength.
FAST_TARGETS = (
    ("aiview_cm_gap_noise", "colour-matched AI view ≥ 6 dB below noise's", 6.0),
    ("ratio_noise_eqpsnr", "latent distortion ≥ 1.6× noise's at equal PSNR", 1.6),
    ("psnr", "image PSNR ≥ 42 dB", 42.0),
    ("kept_jpeg75", "≥ 70 % kept after JPEG q75", 0.7),
    ("kept_resize05", "≥ 70 % kept after a 0.5× resize", 0.7),
)


def _cell(c: str, v: float | None) -> str:
    if v is None:
        return "–"
    if "psnr" in c or c in ("aiview_noise", "aiview_cm_noise"):
        return f"{v:.1f} dB"
    if c == "ratio_noise":
        return f"{v:.2f}×"
    if c == "seconds":
        return f"{v:.2f} s" if v < 10 else f"{v:.0f} s"
    if c == "max_diff8":
        return f"{v:.0f}/255"
    return f"{v:.3f}"


def family_figures(images: dict, adv: dict, methods: list[str]) -> dict:
    """What each model family sees of each method, by the one definition `fixative check` uses
    (`fixative.jobs.check.measure_ai`: the shipped ONNX encoders and decoders, the colour-matched
    AI view beside seeded uniform noise at the image's own PSNR, quantised to 8 bits): per
    method and family, the mean dB below noise's and the latent distortion over noise's."""
    from fixative.jobs.check import measure_ai

    def hwc(t: torch.Tensor) -> np.ndarray:
        return t[0].permute(1, 2, 0).double().numpy()

    rows: dict[str, dict[str, list[dict]]] = {
        m: {f.id: [] for f in families.FAMILIES} for m in methods
    }
    for name, x in images.items():
        clean = hwc(x)
        for method in methods:
            got = measure_ai(clean, hwc(adv[name][method]), name, levels=255)["families"]
            for fid, fig in got.items():
                rows[method][fid].append(fig)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for method, per in rows.items():
        out[method] = {}
        for fid, figs in per.items():

            def mean(key: str, figs=figs) -> float:
                return float(np.mean([f[key] for f in figs]))

            out[method][fid] = {
                "db_below_noise": mean("ai_view_colour_matched_db_below_noise"),
                "latent_times_noise": mean("latent_distortion") / mean("noise_latent_distortion"),
                "ai_view_cm_psnr": mean("ai_view_psnr_colour_matched"),
                "noise_ai_view_cm_psnr": mean("noise_ai_view_psnr_colour_matched"),
                "ai_view_ssim": mean("ai_view_ssim"),
                "noise_ai_view_ssim": mean("noise_ai_view_ssim"),
            }
    return out


FAMILY_METHODS = ("generator", "fast", "thorough")


def family_markdown(figures: dict) -> list[str]:
    """The per-family table: dB below noise and × noise, then the absolute colour-matched AI
    views (the noise rows)."""
    fams = families.FAMILIES
    head = "| mode | " + " | ".join(f"{f.name}, {f.autoencoder} dB / ×" for f in fams) + " |"
    lines = ["## What each model family sees", "", head, "|---" * (len(fams) + 1) + "|"]
    for method in (m for m in FAMILY_METHODS if m in figures):
        cells = [
            f"{figures[method][f.id]['db_below_noise']:.1f} / "
            f"{figures[method][f.id]['latent_times_noise']:.2f}"
            for f in fams
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| colour-matched AI view PSNR (SSIM) | "
        + " | ".join(f"{f.short}: protected | {f.short}: noise" for f in fams)
        + " |",
        "|---" * (2 * len(fams) + 1) + "|",
    ]
    for method in (m for m in FAMILY_METHODS if m in figures):
        cells = []
        for f in fams:
            g = figures[method][f.id]
            cells += [
                f"{g['ai_view_cm_psnr']:.1f} dB ({g['ai_view_ssim']:.3f})",
                f"{g['noise_ai_view_cm_psnr']:.1f} dB ({g['noise_ai_view_ssim']:.3f})",
            ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    target = families.TARGET
    others = [f for f in fams if not f.target]
    lines += [
        "",
        f"dB: the colour-matched AI view (the family's reconstruction of the protected crop "
        "against that of the original, after the best per-channel gain and offset) below that "
        "of uniform noise of the same image PSNR, per image, then averaged; ×: the mean latent "
        "distortion over noise's. Measured with `fixative.jobs.check.measure_ai`, the code of "
        "`fixative check --original`. The protection is aimed at "
        f"{target.name} ({target.autoencoder}); "
        + " and ".join(f"{f.name} ({f.autoencoder})" for f in others)
        + f" are measured, not aimed at: within {families.NOISE_LIKE_DB:.0f} dB of noise, a "
        "family sees the protection about as it sees noise of the same visibility.",
        "",
    ]
    return lines


def markdown(summary: dict, command: str | None = None) -> str:
    cols = [
        ("distortion", "latent dist."),
        ("ratio_noise", "× noise at equal PSNR"),
        ("aiview_psnr", "AI-view PSNR"),
        ("aiview_noise", "noise's AI-view PSNR"),
        ("aiview_cm_psnr", "AI-view PSNR colour-matched"),
        ("aiview_cm_noise", "noise's, colour-matched"),
        ("aiview_ssim", "AI-view SSIM"),
        ("aiview_ssim_noise", "noise's AI-view SSIM"),
        ("psnr", "PSNR"),
        ("ssim", "SSIM"),
        ("ssim_clip", "SSIM clip-art"),
        ("ssim_wall", "SSIM wallpapers"),
        ("max_diff8", "max \\|Δ\\|"),
        ("kept_jpeg75", "kept after JPEG q75"),
        ("kept_jpeg85", "kept after JPEG q85"),
        ("kept_resize05", "kept after 0.5× resize"),
        ("seconds", "seconds per image"),
    ]
    lines = family_markdown(summary["families"]) if summary.get("families") else []
    lines += [
        "## Against FLUX.2 (TAEF2), the family aimed at",
        "",
        "| method | " + " | ".join(c[1] for c in cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for key, row in summary["methods"].items():
        cells = [_cell(c, row.get(c)) for c, _ in cols]
        label = METHOD_LABELS[key].replace("PGD-100", f"PGD-{summary['pgd_steps']}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    s = summary
    crop = s["crop"]
    eq = ", ".join(
        f"{label} ε = {s[k] * 255:.2f}/255"
        for k, label in (
            ("eps_eq_pgd", "PGD at the generator's"),
            ("eps_eq_noise", "noise at the generator's"),
            ("eps_eq_noise_fast", "noise at fast's"),
            ("eps_eq_pgd_thorough", "PGD at thorough's"),
            ("eps_eq_noise_thorough", "noise at thorough's"),
        )
        if s.get(k) is not None
    )
    lines += [
        "",
        f"- Budget ε = {s['epsilon'] * 255:.0f}/255 (medium); at equal PSNR: {eq}.",
        f"- {s['n_images']} unseen evaluation images ({s['n_clip']} clip-art),"
        f" {crop}² centre crops, measured at that size"
        + (
            "".join(
                f"; {m} mode with {s[f'{m}_steps']} step{'s' * (s[f'{m}_steps'] != 1)}"
                for m in ("fast", "thorough")
                if s.get(f"{m}_steps")
            )
            + "."
        ),
        "- 0.5× resize: antialiased bicubic down, bicubic back up, 8 bits after each; kept ="
        " distortion after the transform (on top of its own) / before.",
        f"- Generator: {s['gen_s_per_mp']:.3f} s per megapixel on CPU (onnxruntime,"
        f" {s['threads']} threads)"
        + (
            f"; PGD-{s['pgd_steps']}: {s['pgd_s_per_image']:.1f} s per"
            f" {crop}² image = {s['pgd_s_per_mp']:.0f} s per megapixel → fast is"
            f" **{s['speedup']:.0f}×** slower than the generator"
            if s.get("pgd_s_per_image") is not None
            else " (PGD not run: --no-pgd)"
        )
        + "".join(
            f"; {m}: {s[f'{m}_s_per_image']:.2f} s per {crop}² image"
            for m in ("fast", "thorough")
            if s.get(f"{m}_s_per_image") is not None
        )
        + ".",
        "- Image dependence: mean sign agreement of the generator's δ between evaluation images"
        + (f" {s['sign_agreement']:.3f}" if s["sign_agreement"] is not None else " – (one image)")
        + f" (0.5 = unrelated, 1 = one universal pattern); the mean δ applied to every image keeps"
        f" {s['universal_share']:.0%} of the image-specific distortion.",
        f"- Ratios: generator / noise at equal PSNR {s['ratio_noise_eqpsnr']:.2f}×"
        f" (AI view {s['aiview_gap_noise']:.1f} dB below noise's,"
        f" {s['aiview_cm_gap_noise']:.1f} dB after colour matching);"
        + (
            f" generator / PGD at equal PSNR {s['ratio_pgd_eqpsnr']:.2f}×;"
            if s.get("ratio_pgd_eqpsnr") is not None
            else ""
        )
        + f" generator / noise at equal ε {s['ratio_noise']:.2f}×"
        + (f"; generator / PGD at equal ε {s['ratio_pgd']:.2f}×." if s.get("ratio_pgd") else "."),
    ]
    for mode in ("fast", "thorough"):
        t = s.get(mode)
        if not t:
            continue
        pgd_eq = (
            f"; {mode} / PGD at equal PSNR {t['ratio_pgd_eqpsnr']:.2f}×"
            if t.get("ratio_pgd_eqpsnr") is not None
            else ""
        )
        lines.append(
            f"- {mode.capitalize()}: {t['ratio_noise_eqpsnr']:.2f}× noise at equal PSNR"
            f" (AI view {t['aiview_gap_noise']:.1f} dB below noise's,"
            f" {t['aiview_cm_gap_noise']:.1f} dB after colour matching){pgd_eq};"
            f" {t['ratio_generator']:.2f}× the generator's latent distortion."
        )
    for mode, targets, issue in (("fast", FAST_TARGETS, 34), ("thorough", TARGETS, 16)):
        t = s.get(mode)
        if not t:
            continue
        lines += ["", f"Targets for {mode} (issue {issue}):", ""]
        for key, text, bound in targets:
            v = t.get(key) if key in t else s["methods"][mode].get(key)
            ok = v is not None and v >= bound
            shown = "–" if v is None else f"{v:.3f}"
            lines.append(f"- {text}: {shown} — {'met' if ok else '**not met**'}")
    if command:
        lines += ["", f"Command: `{command}`"]
    lines += [
        "",
        "See also: how fast mode's step, view and cost were chosen, "
        "[evaluation-fast.md](evaluation-fast.md); the comparison with PGD, "
        "[evaluation-pgd.md](evaluation-pgd.md); files read as trainers read them, "
        "[evaluation-trainer.md](evaluation-trainer.md).",
    ]
    return "\n".join(lines) + "\n"


def add_protocol_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--protocol", choices=("crops", "trainer"), default="crops",
        help="crops: 256² crops at native size (default); trainer: full-size and 4K files read "
        "back as trainers read them (scripts/eval_trainer.py)",
    )  # fmt: skip
    p.add_argument("--model", type=Path, help="ONNX model (default: the manifest's default)")
    p.add_argument("--run", type=Path, help="crops: measure a training checkpoint (fast only)")
    p.add_argument(
        "--modes", default="generator,fast,thorough",
        help="Fixative modes to measure (crops: the generator is always measured)",
    )  # fmt: skip
    p.add_argument("--steps", type=int, help="thorough mode's steps (default: the library's)")
    p.add_argument("--fast-steps", type=int, help="fast mode's steps (default: the library's)")
    p.add_argument(
        "--fast-view", default="auto", help="crops: fast mode's view (default: the mode's)"
    )
    p.add_argument("--pgd-steps", type=int, default=100, help="crops: PGD iterations")
    p.add_argument(
        "--cache", type=Path,
        help=f"PGD results (crops, default {PGD_CACHE.relative_to(REPO)}) or the per-image "
        "checkpoints and 4K images (trainer, default runs/eval-trainer)",
    )  # fmt: skip
    p.add_argument("--md", type=Path, help="write the Markdown tables here")
    p.add_argument("--json", type=Path, help="write the full results here")
    p.add_argument("--grid", type=Path, help="crops: picture grid PNG")
    p.add_argument("--limit", type=int, help="only the first N evaluation images (quick runs)")
    p.add_argument(
        "--image", type=Path, action="append",
        help="measure this image instead of the evaluation set (repeatable; names starting "
        f"with {CLIP_PREFIX!r} count as clip-art)",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    p.add_argument("--crop", type=int, default=CROP, help="crops: crop side (default 256)")
    p.add_argument(
        "--speed-size", type=int, default=1024,
        help="crops: side of the square the generator's s/MP is timed on (default 1024)",
    )  # fmt: skip
    p.add_argument(
        "--skip-extra", action="store_true", help="crops: skip targeted and equal-PSNR PGD runs"
    )
    p.add_argument(
        "--no-pgd", action="store_true",
        help="crops: no PGD at all (about 80 s per 256² image on 2 cores, uncached)",
    )  # fmt: skip
    t = p.add_argument_group("trainer protocol")
    t.add_argument("--sizes", default="full,4k", help="full and/or 4k (default both)")
    t.add_argument("--big", default="3840x2160", help="the 4K versions' size, WxH")
    t.add_argument(
        "--canvas", choices=("lanczos", "mosaic"), default="lanczos",
        help="how the 4K versions are made: Lanczos enlargement covering the canvas, centre "
        "crop (default), or the image tiled at its own size",
    )  # fmt: skip
    t.add_argument("--resolutions", default="1024,512", help="trainer read resolutions")
    t.add_argument("--resamplers", default="box,bilinear,bicubic")
    t.add_argument(
        "--default-view", default="auto",
        help="the default view compared with native (auto, or a side N for quick tests)",
    )  # fmt: skip
    t.add_argument("--strength", default="medium", choices=("low", "medium", "high"))


# Below this line `--md` keeps what is already in the file: the hand-written sections (the
# sweeps that chose a mode's settings, with their own commands) survive a regeneration.
KEEP_BELOW = "<!-- hand-written below: kept by scripts/evaluate.py --md -->"


def write_outputs(args, summary: dict, table: str) -> None:
    print(table)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        old = args.md.read_text() if args.md.is_file() else ""
        _, marker, kept = old.partition(KEEP_BELOW)
        args.md.write_text(table + ("\n" + marker + kept if marker else ""))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


def command_line(argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return "python scripts/evaluate.py " + " ".join(shlex.quote(str(a)) for a in args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_protocol_args(p)
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in ("generator", "fast", "thorough")]
    if bad or not modes:
        p.error(f"--modes: generator, fast and/or thorough, not {args.modes!r}")
    torch.set_num_threads(args.threads)
    if args.protocol == "trainer":
        if args.run:
            p.error("--run (a torch checkpoint) works with --protocol crops only")
        if args.default_view == "native":
            p.error("--default-view native: the default view is compared *with* native")
        import eval_trainer

        args.cache = args.cache or eval_trainer.DEFAULT_CACHE
        summary = eval_trainer.run(args)
        write_outputs(args, summary, eval_trainer.markdown(summary, command_line(argv)))
        return 0
    summary, _ = crops(args, modes)
    write_outputs(args, summary, markdown(summary, command_line(argv)))
    return 0


def crops(args, modes: list[str]) -> tuple[dict, dict]:
    """The crops protocol; returns (summary, the perturbed crops per image and method)."""
    cache = args.cache or PGD_CACHE
    crop = args.crop
    encoder, decoder = load_encoder(), load_decoder()  # the shipped ONNX graphs' weights
    if not args.run and not args.model:
        manifest = json.loads((REPO / "models" / "manifest.json").read_text())
        args.model = REPO / "models" / manifest["default"]
    from fixative.protection.model import get_model

    # The budget is the model's (its metadata): the shipped one's when a checkpoint is measured.
    eps = get_model(args.model, "cpu", args.threads).spec.epsilon["medium"]
    gen = TorchGenerator(args.run) if args.run else OnnxGenerator(args.model, args.threads)
    stepped = [m for m in ("fast", "thorough") if m in modes]  # protect_array's stepped modes
    if stepped and args.run:
        print("evaluate: --run measures the generator only (fast and thorough need ONNX)")
        stepped = []
    thorough = "thorough" in stepped
    evals = [Path(f) for f in args.image] if args.image else eval_files()  # data/eval/
    evals = evals[: args.limit] if args.limit else evals

    images = {f.name: to_tensor(center_crop(load_rgb(f), crop)) for f in evals}
    units, adv, pgd_seconds, fast_seconds = {}, {}, [], []
    mode_seconds: dict[str, list[float]] = {m: [] for m in stepped}
    mode_steps: dict[str, int] = {}
    gen.unit(next(iter(images.values())))  # warm-up: the first call's set-up is not timed
    if stepped:
        from fixative.protection.graphs import get_graph

        for role in ("encoder_grad", "encoder", "texture_mask"):  # sessions made before timing
            get_graph(role, "cpu", args.threads)
    for name, x in images.items():
        t = time.perf_counter()
        units[name] = gen.unit(x)
        adv[name] = {"generator": quantise(x + eps * units[name])}
        fast_seconds.append(time.perf_counter() - t)
        for mode in stepped:
            import fixative

            settings = fixative.ProtectSettings(
                mode=mode, steps=args.steps if mode == "thorough" else args.fast_steps,
                view=args.fast_view if mode == "fast" else "auto", device="cpu",
                threads=args.threads, model_path=str(args.model),
            )  # fmt: skip
            u8 = (x[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
            prot, report = fixative.protect_array(u8, settings)
            adv[name][mode] = to_tensor(prot.astype(np.float32) / 255)
            mode_seconds[mode].append(report.seconds)
            mode_steps[mode] = report.steps
        adv[name]["noise"] = quantise(uniform_noise(x, eps, 0))
        if args.no_pgd:
            print(f"{name}: done ε-budget methods", flush=True)
            continue
        adv[name]["pgd100"], secs = cached_pgd(cache, name, encoder, x, eps, args.pgd_steps, False)
        adv[name]["pgd100"] = quantise(adv[name]["pgd100"])
        pgd_seconds.append(secs)
        if not args.skip_extra:
            xt, _ = cached_pgd(cache, name, encoder, x, eps, args.pgd_steps, True)
            adv[name]["pgd100_targeted"] = quantise(xt)
        print(f"{name}: done ε-budget methods", flush=True)

    # Equal PSNR: rescale PGD's and noise's budget to each Fixative mode's mean image PSNR.
    def mean_psnr(method: str) -> float:
        return float(np.mean([float(psnr(adv[n][method], images[n])) for n in images]))

    def eq_eps(method: str, reference: str) -> float:
        return eps * 10 ** ((mean_psnr(method) - mean_psnr(reference)) / 20)

    eps_eq = {"eps_eq_noise": eq_eps("noise", "generator")}
    if not args.no_pgd:
        eps_eq["eps_eq_pgd"] = eq_eps("pgd100", "generator")
    for mode in stepped:
        eps_eq[f"eps_eq_noise_{mode}"] = eq_eps("noise", mode)
    if thorough and not args.no_pgd:
        eps_eq["eps_eq_pgd_thorough"] = eq_eps("pgd100", "thorough")
    mean_unit = torch.stack([units[n] for n in images]).mean(0)
    results: dict[str, list[dict]] = {k: [] for k in METHOD_LABELS}
    clip_flags: list[bool] = []
    for name, x in images.items():
        a = adv[name]
        a["noise_eqpsnr"] = quantise(uniform_noise(x, eps_eq["eps_eq_noise"], 0))
        for mode in stepped:
            a[f"noise_eq_{mode}"] = quantise(uniform_noise(x, eps_eq[f"eps_eq_noise_{mode}"], 0))
        if not args.skip_extra and not args.no_pgd:
            for key, e in (
                ("pgd100_eqpsnr", "eps_eq_pgd"),
                ("pgd100_eq_thorough", "eps_eq_pgd_thorough"),
            ):
                if e in eps_eq:
                    xe, _ = cached_pgd(cache, name, encoder, x, eps_eq[e], args.pgd_steps, False)
                    a[key] = quantise(xe)
        a["universal"] = quantise(x + eps * mean_unit)
        ref = reference(encoder, decoder, x)
        for method, x_adv in a.items():
            results[method].append(measure(encoder, decoder, x, x_adv, ref))
        clip_flags.append(name.startswith(CLIP_PREFIX))
        print(f"{name}: measured", flush=True)

    seconds = {"generator": float(np.mean(fast_seconds))}
    if pgd_seconds:
        seconds["pgd100"] = float(np.mean(pgd_seconds))
    for mode in stepped:
        seconds[mode] = float(np.mean(mode_seconds[mode]))
    methods = {}
    for key, rows in results.items():
        if not rows:
            continue
        m = mean_rows(rows)
        for label, want in (("ssim_clip", True), ("ssim_wall", False)):
            vals = [r["ssim"] for r, c in zip(rows, clip_flags, strict=True) if c == want]
            m[label] = float(np.mean(vals)) if vals else None
        m["seconds"] = seconds.get(key)
        methods[key] = m
    for key, noise_key in EQUAL_NOISE.items():
        if key in methods and noise_key in methods:
            methods[key]["ratio_noise"] = (
                methods[key]["distortion"] / methods[noise_key]["distortion"]
            )
            methods[key]["aiview_noise"] = methods[noise_key]["aiview_psnr"]
            methods[key]["aiview_cm_noise"] = methods[noise_key]["aiview_cm_psnr"]
            methods[key]["aiview_ssim_noise"] = methods[noise_key]["aiview_ssim"]
    names = list(images)
    pairs = list(combinations(names, 2))
    agreement = (
        float(np.mean([sign_agreement(units[a], units[b]) for a, b in pairs])) if pairs else None
    )
    gen_s_per_mp = gen.seconds_per_megapixel(args.speed_size)
    pgd_s = seconds.get("pgd100")
    pgd_s_per_mp = None if pgd_s is None else pgd_s / (crop * crop / 1e6)
    pgd = methods.get("pgd100")
    fast = methods["generator"]
    eq = methods.get("pgd100_eqpsnr")
    summary = {
        "protocol": "crops",
        "model": str(args.run or args.model),
        "epsilon": eps,
        "crop": crop,
        "threads": args.threads,
        "pgd_steps": args.pgd_steps,
        "thorough_steps": mode_steps.get("thorough"),
        "fast_steps": mode_steps.get("fast"),
        "n_images": len(names),
        "n_clip": sum(clip_flags),
        "images": names,
        "methods": methods,
        **eps_eq,
        "sign_agreement": agreement,
        "universal_share": methods["universal"]["distortion"] / fast["distortion"],
        "gen_s_per_mp": gen_s_per_mp,
        "gen_s_per_image": seconds["generator"],
        "pgd_s_per_image": pgd_s,
        "pgd_s_per_mp": pgd_s_per_mp,
        "speedup": None if pgd_s_per_mp is None else pgd_s_per_mp / gen_s_per_mp,
        "ratio_noise": fast["distortion"] / methods["noise"]["distortion"],
        "ratio_noise_eqpsnr": fast["ratio_noise"],
        "aiview_gap_noise": fast["aiview_noise"] - fast["aiview_psnr"],
        "aiview_cm_gap_noise": fast["aiview_cm_noise"] - fast["aiview_cm_psnr"],
        "ratio_pgd": fast["distortion"] / pgd["distortion"] if pgd else None,
        "ratio_pgd_eqpsnr": fast["distortion"] / eq["distortion"] if eq else None,
        "max_diff8": max(
            m["max_diff8"] for k, m in methods.items() if k in ("generator", *stepped)
        ),
    }
    summary["families"] = family_figures(images, adv, ["generator", *stepped])
    for mode in stepped:
        m = methods[mode]
        summary[f"{mode}_s_per_image"] = seconds[mode]
        summary[f"{mode}_s_per_mp"] = seconds[mode] / (crop * crop / 1e6)
        summary[mode] = {
            "steps": mode_steps[mode],
            "ratio_noise_eqpsnr": m["ratio_noise"],
            "aiview_gap_noise": m["aiview_noise"] - m["aiview_psnr"],
            "aiview_cm_gap_noise": m["aiview_cm_noise"] - m["aiview_cm_psnr"],
            "ratio_pgd_eqpsnr": (
                m["distortion"] / methods[f"pgd100_eq_{mode}"]["distortion"]
                if f"pgd100_eq_{mode}" in methods
                else None
            ),
            "ratio_generator": m["distortion"] / fast["distortion"],
        }
    if args.grid:
        picks = [
            n for n in names if n in ("clip_tiger.png", "clip_park.png", "gnome_wood-d.png")
        ] or names[:3]
        shown = ["generator", *stepped]
        with torch.no_grad():
            rows = []
            for n in picks:
                cells = [images[n]] + [adv[n][k] for k in shown]
                rows.append((cells, [encoder(c) for c in cells]))
        grid(args.grid, rows, decoder)
        summary["grid"] = {
            "file": str(args.grid),
            "images": picks,
            "columns": [
                "original",
                *shown,
                "AI view of original",
                *(f"AI view of {k}" for k in shown),
                *(f"AI view of {k}, colour-matched to the original's" for k in shown),
            ],
        }
    return summary, adv


if __name__ == "__main__":
    sys.exit(main())
