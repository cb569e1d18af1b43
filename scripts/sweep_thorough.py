#!/usr/bin/env python3
"""Sweep thorough mode's knobs on unseen crops: how its defaults in core/protection/refine.py were
chosen.

    python scripts/sweep_thorough.py 3:2:50 4:3:50 8:2:0     # STEPS:HALF_EVERY:DECODER_WEIGHT

Each variant protects 384² centre crops of four evaluation images (data/eval) at medium and
prints, averaged: TAEF2 latent distortion relative to uniform noise of the same image PSNR, the
share kept after a 0.5× read and after a 0.5× down-and-up resize, image PSNR, and the AI view
(PSNR of D(E(protected)) against D(E(original))) beside noise's. Runs on onnxruntime alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
IMAGES = ("clip_tiger.png", "gnome_dune-l.png", "clip_park.png", "gnome_wood-d.png")
CROP = 384


def _crops() -> dict[str, np.ndarray]:
    out = {}
    for name in IMAGES:
        a = np.asarray(Image.open(REPO / "data" / "eval" / name).convert("RGB"))
        h, w = a.shape[:2]
        s = min(h, w, CROP)
        y, x = (h - s) // 2, (w - s) // 2
        out[name] = np.ascontiguousarray(a[y : y + s, x : x + s])
    return out


def _noise_like(x: np.ndarray, psnr: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = rng.uniform(-1, 1, x.shape).astype(np.float32)
    n *= np.sqrt(10 ** (-psnr / 10) / np.mean(n**2))
    return np.clip(x + n, 0, 1)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


def _resized(a: np.ndarray, size: tuple[int, int], back: tuple[int, int] | None = None):
    im = Image.fromarray(a).resize(size, Image.BICUBIC)
    if back is not None:
        im = im.resize(back, Image.BICUBIC)
    return np.asarray(im).astype(np.float32) / 255


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("variants", nargs="+", help="STEPS:HALF_EVERY:DECODER_WEIGHT")
    args = p.parse_args(argv)
    import fixative
    from fixative.protection import refine
    from fixative.protection.graphs import get_graph, latent_distortion

    enc, dec = get_graph("encoder", "cpu"), get_graph("decoder", "cpu")

    def ai(a: np.ndarray) -> np.ndarray:
        b = np.ascontiguousarray(a.transpose(2, 0, 1)[None])
        return np.clip(dec.run(latent=enc.run(image=b)[0])[0], 0, 1)

    crops = _crops()
    for spec in args.variants:
        steps, half, weight = spec.split(":")
        refine.HALF_EVERY, refine.DECODER_WEIGHT = int(half), float(weight)
        rows, start = [], time.perf_counter()
        for img in crops.values():
            settings = fixative.ProtectSettings(mode="thorough", steps=int(steps), device="cpu")
            out, rep = fixative.protect_array(img, settings)
            x, y = img.astype(np.float32) / 255, out.astype(np.float32) / 255
            noise = _noise_like(x, rep.psnr)
            d = latent_distortion(x, y)
            full = (img.shape[1], img.shape[0])
            half_size = (full[0] // 2, full[1] // 2)
            d_half = latent_distortion(_resized(img, half_size), _resized(out, half_size))
            d_du = latent_distortion(_resized(img, half_size, full), _resized(out, half_size, full))
            clean = ai(x)
            rows.append(
                (
                    d / latent_distortion(x, noise),
                    d_half / d,
                    d_du / d,
                    rep.psnr,
                    _psnr(ai(y), clean),
                    _psnr(ai(noise), clean),
                )
            )
        r = np.array(rows).mean(axis=0)
        print(
            f"{spec}: {r[0]:.2f}x noise, kept {r[1]:.2f} (0.5x read) {r[2]:.2f} (down-up), "
            f"PSNR {r[3]:.1f} dB, AI view {r[4]:.1f} dB (noise {r[5]:.1f}), "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
