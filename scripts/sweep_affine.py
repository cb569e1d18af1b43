#!/usr/bin/env python3
"""Sweep the weight W of the refinement's colour-matched decoder term (`refine.AFFINE_WEIGHT`).

    python scripts/sweep_affine.py [--weights 200,400,1000] [--limit N]

For each W, the crops protocol of `scripts/evaluate.py` (the evaluation images, 256² centre
crops, medium, no PGD) measures fast and thorough with their own schedules (generator start,
step sizes, half-size steps), each against uniform noise of the same image PSNR: latent
distortion × noise's, the AI view below noise's after colour matching and plain, image PSNR,
and the share kept after JPEG q75 and a 0.5× resize. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys

import evaluate
from fixative.protection import refine


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--weights", default="200,400,1000", help="values of W, comma-separated")
    p.add_argument("--limit", type=int, help="only the first N evaluation images")
    args = p.parse_args(argv)
    print(
        "| W | mode | latent × noise | colour-matched AI view below noise's | plain "
        "| image PSNR | kept JPEG q75 | kept 0.5× resize |"
    )
    print("|---" * 8 + "|")
    for weight in (float(w) for w in args.weights.split(",")):
        refine.AFFINE_WEIGHT = weight
        parser = argparse.ArgumentParser()
        evaluate.add_protocol_args(parser)
        crops_args = ["--no-pgd", "--speed-size", "256", "--modes", "generator,fast,thorough"]
        if args.limit:
            crops_args += ["--limit", str(args.limit)]
        summary, _ = evaluate.crops(
            parser.parse_args(crops_args), ["generator", "fast", "thorough"]
        )
        for mode in ("fast", "thorough"):
            s, m = summary[mode], summary["methods"][mode]
            print(
                f"| {weight:g} | {mode} | {s['ratio_noise_eqpsnr']:.2f}× "
                f"| {s['aiview_cm_gap_noise']:.1f} dB | {s['aiview_gap_noise']:.1f} dB "
                f"| {m['psnr']:.1f} dB | {m['kept_jpeg75']:.2f} | {m['kept_resize05']:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
