#!/usr/bin/env python3
"""How the view's enlargement filter and the texture mask's placement were chosen
(core/protection/view.py).

    python scripts/sweep_view.py [--mode fast]

Protects two 4K mosaics of evaluation images (data/eval, four 1920x1080 Lanczos enlargements
each) at medium with: native-size protection; the default view with each enlargement filter
(bicubic, bilinear, Lanczos) and the mask re-applied at native size; and bicubic with the view's
own mask. Each protected file is read back as trainers read it (1360x768 bicubic and box,
680x384 bilinear) and the TAEF2 latent distortion against the clean file read the same way is
printed, with the image PSNR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
MOSAICS = (
    ("clip_tiger.png", "clip_park.png", "gnome_wood-d.png", "gnome_dune-l.png"),
    ("clip_sunflower.png", "clip_set_gatti.png", "debian_homeworld.png", "clip_caterpillar.png"),
)
READS = (((1360, 768), Image.BICUBIC), ((1360, 768), Image.BOX), ((680, 384), Image.BILINEAR))


def mosaic(names: tuple[str, ...]) -> np.ndarray:
    canvas = Image.new("RGB", (3840, 2160))
    for i, name in enumerate(names):
        with Image.open(REPO / "data" / "eval" / name) as im:
            cell = im.convert("RGB").resize((1920, 1080), Image.LANCZOS)
        canvas.paste(cell, ((i % 2) * 1920, (i // 2) * 1080))
    return np.asarray(canvas)


def read(a: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a).resize(size, resample)).astype(np.float32) / 255


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--mode", default="fast", choices=("fast", "thorough"))
    args = p.parse_args(argv)
    import fixative
    from fixative.protection import protect
    from fixative.protection import view as vw
    from fixative.protection.graphs import latent_distortion

    images = [mosaic(m) for m in MOSAICS]
    variants = [
        ("native size", "native", "bicubic", True),
        ("view, bicubic, mask at native size (default)", "auto", "bicubic", True),
        ("view, bilinear, mask at native size", "auto", "bilinear", True),
        ("view, Lanczos, mask at native size", "auto", "lanczos", True),
        ("view, bicubic, the view's mask", "auto", "bicubic", False),
    ]
    for label, view, up, native_mask in variants:
        vw.UP_FILTER, protect.NATIVE_MASK = up, native_mask
        settings = fixative.ProtectSettings(mode=args.mode, view=view, device="cpu")
        rows = []
        for img in images:
            out, rep = fixative.protect_array(img, settings)
            dist = [latent_distortion(read(img, s, f), read(out, s, f)) for s, f in READS]
            rows.append([*dist, rep.psnr])
        r = np.array(rows).mean(axis=0)
        print(
            f"{label}: latent distortion {r[0]:.3f} / {r[1]:.3f} / {r[2]:.3f} "
            f"(1360x768 bicubic / box, 680x384 bilinear), PSNR {r[3]:.1f} dB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
