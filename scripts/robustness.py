#!/usr/bin/env python3
"""What publishing and cheap purification do to the protection: a robustness table.

    python scripts/robustness.py [--modes fast,thorough] [--transforms all|NAME,...]
                                 [--limit N] [--image FILE ...] [--crop 256]
                                 [--md FILE] [--json FILE] [--grid FILE]

Each evaluation image (data/eval/, never trained on; a 256² centre crop, its own view in every
mode) is protected at medium and, for each transform T, measured with the shipped ONNX TAEF2
(`eval_trainer.TAEF2`) and the core's measures (`fixative.protection.measures`):

- **kept**: ‖E(T(x′)) − E(T(x))‖ / ‖E(x′) − E(x)‖, the share of the latent distortion left
  (a transform that draws noise uses the same draw for both);
- **AI view**: the colour-matched reconstruction D(E(T(x′))) against D(E(T(x))), in dB below
  that of uniform noise of the protected image's own PSNR put through the same T (positive =
  the protection still does more than noise).

Transforms (`TRANSFORMS`): none (the reference row); JPEG q90, q75, q50; lossy WebP q80;
downscale 0.5× and 0.25× and back (antialiased bicubic); a trainer's read (10 % crop, then
512 px on the short side); Gaussian noise σ 0.02 and 0.05 (on [0, 1]); σ 0.05 noise then
OpenCV's non-local-means denoiser (a CPU
stand-in for "noisy upscaling", Hönig et al. 2025); AdverseCleaner's filter (64 bilateral passes,
d 5, σ 8/8, then 4 guided-filter passes, radius 4, eps 16: the best-known "remove Glaze"
script); a 3×3 median; a PNG screenshot-like round trip (8-bit sRGB, no metadata). OpenCV comes
from the `eval` extra: `pip install '.[eval]'`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import eval_trainer as et
import numpy as np
from dataset import center_crop, eval_files, load_rgb
from PIL import Image

CROP = 256
NOISE_SEED = 7  # the draw of the noise transforms: the same for clean, protected and baseline


def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img, "RGB")


def _encoded(img: np.ndarray, fmt: str, **options: object) -> np.ndarray:
    buf = io.BytesIO()
    _pil(img).save(buf, fmt, **options)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _down_up(img: np.ndarray, scale: float) -> np.ndarray:
    h, w = img.shape[:2]
    small = _pil(img).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    return np.asarray(small.resize((w, h), Image.BICUBIC))


def _trainer_read(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    dy, dx = round(h * 0.05), round(w * 0.05)  # 10 % off in all: 5 % each side
    crop = _pil(img[dy : h - dy, dx : w - dx])
    s = 512 / min(crop.size)
    return np.asarray(
        crop.resize((round(crop.size[0] * s), round(crop.size[1] * s)), Image.BICUBIC)
    )


def _noise(img: np.ndarray, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(NOISE_SEED)
    noisy = img / 255.0 + rng.normal(0.0, sigma, img.shape)
    return np.clip(np.rint(noisy * 255.0), 0, 255).astype(np.uint8)


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        msg = "robustness: OpenCV is needed for this transform: pip install '.[eval]'"
        raise SystemExit(msg) from exc
    return cv2


def _denoised(img: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    noisy = _noise(img, 0.05)
    return cv2.fastNlMeansDenoisingColored(noisy, None, 10, 10, 7, 21)


def _adverse_cleaner(img: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    y = img.copy()
    for _ in range(64):
        y = cv2.bilateralFilter(y, 5, 8, 8)
    for _ in range(4):
        y = cv2.ximgproc.guidedFilter(img, y, 4, 16)
    return y


def _median(img: np.ndarray) -> np.ndarray:
    from PIL import ImageFilter

    return np.asarray(_pil(img).filter(ImageFilter.MedianFilter(3)))


# name -> (label, transform of a uint8 RGB (H, W, 3) array)
TRANSFORMS: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "none": ("none (the file as written)", lambda a: a),
    "jpeg90": ("JPEG q90", lambda a: _encoded(a, "JPEG", quality=90)),
    "jpeg75": ("JPEG q75", lambda a: _encoded(a, "JPEG", quality=75)),
    "jpeg50": ("JPEG q50", lambda a: _encoded(a, "JPEG", quality=50)),
    "webp80": ("lossy WebP q80", lambda a: _encoded(a, "WEBP", quality=80)),
    "resize05": ("downscale 0.5× and back", lambda a: _down_up(a, 0.5)),
    "resize025": ("downscale 0.25× and back", lambda a: _down_up(a, 0.25)),
    "trainer": ("trainer's read: 10 % crop, 512 px short side", _trainer_read),
    "noise002": ("Gaussian noise σ 0.02", lambda a: _noise(a, 0.02)),
    "noise005": ("Gaussian noise σ 0.05", lambda a: _noise(a, 0.05)),
    "denoise": ("noise σ 0.05 + non-local means (OpenCV)", _denoised),
    "adverse": ("AdverseCleaner: 64 bilateral + 4 guided (OpenCV)", _adverse_cleaner),
    "median3": ("3×3 median", _median),
    "png": ("PNG round trip (8-bit sRGB, no metadata)", lambda a: _encoded(a, "PNG")),
}


def measure(ai: et.TAEF2, clean: np.ndarray, prot: np.ndarray, transform) -> dict[str, float]:
    """Kept share and colour-matched AI-view gap of one protected image under one transform."""
    from fixative.protection.measures import AIView, matched_noise, psnr

    def unit(a: np.ndarray) -> np.ndarray:
        h8, w8 = a.shape[0] // 8 * 8, a.shape[1] // 8 * 8
        return a[:h8, :w8].astype(np.float32) / 255.0

    image_psnr = psnr(prot / 255.0, clean / 255.0)
    noise = np.rint(matched_noise(clean / 255.0, image_psnr, levels=255) * 255).astype(np.uint8)
    z_c, z_p = ai.encode(unit(clean)), ai.encode(unit(prot))
    base = et.rel_distortion(z_p, z_c)
    tc, tp, tn = (transform(a) for a in (clean, prot, noise))
    zt_c, zt_p, zt_n = (ai.encode(unit(a)) for a in (tc, tp, tn))
    ref = ai.decode(zt_c)
    seen, noise_seen = AIView.of(ai.decode(zt_p), ref), AIView.of(ai.decode(zt_n), ref)
    return {
        "kept": et.rel_distortion(zt_p, zt_c) / max(base, 1e-12),
        "aiview_cm_gap": noise_seen.psnr_colour_matched - seen.psnr_colour_matched,
        "ssim": seen.ssim,
        "noise_ssim": noise_seen.ssim,
    }


def run(args: argparse.Namespace) -> dict:
    import fixative

    files = [Path(f) for f in args.image] if args.image else eval_files()
    files = files[: args.limit] if args.limit else files
    names = list(TRANSFORMS) if args.transforms == "all" else args.transforms.split(",")
    unknown = [n for n in names if n not in TRANSFORMS]
    if unknown:
        raise SystemExit(f"robustness: unknown transform(s) {unknown}; known: {list(TRANSFORMS)}")
    ai = et.TAEF2(args.threads)
    rows: dict[str, dict[str, list[dict]]] = {m: {n: [] for n in names} for m in args.modes}
    shown: dict[str, dict] = {}
    for f in files:
        clean = (center_crop(load_rgb(f), args.crop) * 255 + 0.5).astype(np.uint8)
        for mode in args.modes:
            settings = fixative.ProtectSettings(mode=mode, device="cpu", threads=args.threads)
            prot, _ = fixative.protect_array(clean, settings)
            for name in names:
                t = time.perf_counter()
                row = measure(ai, clean, prot, TRANSFORMS[name][1])
                row["seconds"] = time.perf_counter() - t
                rows[mode][name].append(row)
            if f == files[0]:
                shown[mode] = {"clean": clean, "prot": prot}
        print(f"{f.name}: measured", file=sys.stderr, flush=True)
    summary = {
        "images": [f.name for f in files],
        "crop": args.crop,
        "strength": "medium",
        "transforms": {n: TRANSFORMS[n][0] for n in names},
        "modes": {
            mode: {
                name: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
                for name, rs in per.items()
            }
            for mode, per in rows.items()
        },
    }
    if args.grid:
        grid(args.grid, ai, shown, names)
    return summary


def grid(path: Path, ai: et.TAEF2, shown: dict, names: list[str]) -> None:
    """One row per mode: the colour-matched AI view of the first image's protected copy after
    each transform, in the table's order."""
    from fixative.protection.measures import colour_matched

    rows = []
    for cells in shown.values():
        clean, prot = cells["clean"], cells["prot"]
        row = []
        for transform in [TRANSFORMS[n][1] for n in names]:
            tc, tp = transform(clean), transform(prot)
            h8, w8 = min(tc.shape[0], 256) // 8 * 8, min(tc.shape[1], 256) // 8 * 8
            ref = ai.decode(ai.encode(tc[:h8, :w8].astype(np.float32) / 255.0))
            rec = ai.decode(ai.encode(tp[:h8, :w8].astype(np.float32) / 255.0))
            cell = np.full((256, 256, 3), 255, np.uint8)
            cell[:h8, :w8] = np.rint(colour_matched(rec, ref) * 255).astype(np.uint8)
            row.append(cell)
        rows.append(np.concatenate(row, axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, optimize=True)


def markdown(summary: dict, command: str) -> str:
    n = len(summary["images"])
    modes = list(summary["modes"])
    head = " | ".join(f"{m}: kept | {m}: AI view below noise's" for m in modes)
    lines = [
        f"| transform | {head} |",
        "|---" * (1 + 2 * len(modes)) + "|",
    ]
    for name, label in summary["transforms"].items():
        cells = []
        for m in modes:
            r = summary["modes"][m][name]
            cells += [f"{r['kept']:.0%}", f"{r['aiview_cm_gap']:.1f} dB"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{n} evaluation image{'s' * (n != 1)} ({', '.join(summary['images'])}), "
        f"{summary['crop']}² centre crops, medium. Kept: the share of the TAEF2 latent "
        "distortion left after the transform; AI view: the colour-matched reconstruction of "
        "the protected image after the transform, in dB below that of uniform noise of the "
        "same image PSNR after the same transform (negative: noise does more).",
        "",
        f"Command: `{command}`",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--modes", default="fast,thorough")
    p.add_argument("--transforms", default="all", help=f"all or some of: {','.join(TRANSFORMS)}")
    p.add_argument("--limit", type=int, help="only the first N evaluation images")
    p.add_argument("--image", action="append", help="measure this image instead (repeatable)")
    p.add_argument("--crop", type=int, default=CROP)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--md", type=Path)
    p.add_argument("--json", type=Path)
    p.add_argument("--grid", type=Path, help="picture: each transform's colour-matched AI view")
    p.add_argument(
        "--half-blur", type=int, default=0,
        help="counter-measure experiment: thorough's half-size steps read a (2r+1)² box blur "
        "of the view (refine.HALF_BLUR; 0, the shipped value, = off)",
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.half_blur:
        from fixative.protection import refine

        refine.HALF_BLUR = args.half_blur
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    start = time.perf_counter()
    summary = run(args)
    summary["seconds"] = time.perf_counter() - start
    raw = sys.argv[1:] if argv is None else argv
    table = markdown(summary, "python scripts/robustness.py " + " ".join(map(str, raw)))
    print(table)
    if args.md:
        args.md.write_text(table)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=_finite) + "\n")
    return 0


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


if __name__ == "__main__":
    sys.exit(main())
