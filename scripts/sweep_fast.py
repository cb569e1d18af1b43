#!/usr/bin/env python3
"""Sweep fast mode's settings (gradient steps × view) where the view matters: on 4K files.

    python scripts/sweep_fast.py [--variants 1:512,2:512,1:768,2:768] [--limit N]
                                 [--md FILE] [--json FILE]
    python scripts/sweep_fast.py --crops 2.5:clip,1.5:clip,1.0:clip,1.5:scaled

`--crops SCALE:START,...` instead measures one step's size on the crops protocol
(`scripts/evaluate.py`, 256² crops, which are their own view): the step moves SCALE mask budgets
from the generator's unit clipped to the mask ("clip", thorough's projection) or multiplied by
it ("scaled", `refine.SCALED_START`); it prints the figures issue 34's targets name.

Each evaluation image (data/eval/, never trained on) is enlarged to 3840×2160 (Lanczos, as the
trainer protocol's 4K versions), protected at medium with `--mode fast` and the variant's steps
and view (and with `--mode generator` for reference), written as an 8-bit PNG would be, and read
back as a trainer reads a file: about 1 MP, box filter (`eval_trainer.trainer_read`). There,
against uniform noise of the protected file's own image PSNR
(`fixative.protection.measures.matched_noise`, added at 4K) read the same way, it reports the TAEF2
latent distortion (× noise's), the AI view below noise's (plain and colour-matched,
`fixative.protection.measures`), the image PSNR, the share of the latent distortion kept after JPEG
q75 and after a 0.5× resize of the 4K file, and the seconds of `protect_array` (warm: sessions
already made). Runs on onnxruntime alone.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import eval_trainer as et
import numpy as np
from dataset import eval_files
from PIL import Image

SIZE = et.BIG_SIZE  # (3840, 2160)
READ = 1024  # about 1 MP, as trainers read
RESAMPLER = "box"


def jpeg(img: np.ndarray, quality: int = 75) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def half(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return np.asarray(Image.fromarray(img).resize((w // 2, h // 2), Image.BICUBIC))


def read(img: np.ndarray) -> np.ndarray:
    h, w, own = et.read_size(*img.shape[:2], READ)
    return et.trainer_read(img, h, w, RESAMPLER, own)


def measure(ai: et.TAEF2, clean: np.ndarray, prot: np.ndarray, noise: np.ndarray) -> dict:
    from fixative.protection.measures import AIView, gaps, psnr

    z0 = ai.encode(read(clean))
    d0 = ai.decode(z0)
    row: dict[str, float] = {"psnr": psnr(prot / 255.0, clean / 255.0)}
    seen = {}
    for label, img in (("", prot), ("noise_", noise)):
        z = ai.encode(read(img))
        row[label + "distortion"] = et.rel_distortion(z, z0)
        seen[label] = AIView.of(ai.decode(z), d0)
    row["times_noise"] = row["distortion"] / max(row["noise_distortion"], 1e-12)
    g = gaps(seen[""], seen["noise_"])
    row["aiview_gap"] = g["ai_view_db_below_noise"]
    row["aiview_cm_gap"] = g["ai_view_colour_matched_db_below_noise"]
    for key, transform in (("kept_jpeg75", jpeg), ("kept_resize05", half)):
        tc, tp = transform(clean), transform(prot)
        zt = ai.encode(read(tc))
        row[key] = et.rel_distortion(ai.encode(read(tp)), zt) / max(row["distortion"], 1e-12)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--variants", default="1:512,2:512,1:768,2:768", help="STEPS:VIEW,...")
    p.add_argument("--limit", type=int, help="only the first N evaluation images")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--crops", help="SCALE:clip|scaled,... one step's size on the crops")
    p.add_argument("--md", type=Path)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if args.crops:
        return crops(args.crops.split(","))
    import fixative

    variants = [("generator", None, "auto")]
    for v in args.variants.split(","):
        steps, view = v.split(":")
        variants.append(("fast", int(steps), int(view)))
    files = eval_files()[: args.limit] if args.limit else eval_files()
    ai = et.TAEF2(args.threads)
    rows: dict[str, list[dict]] = {}
    for f in files:
        clean = et.build_big(et.load_u8(f), SIZE, "lanczos")
        for mode, steps, view in variants:
            label = "generator alone" if mode == "generator" else f"{steps} step(s), view {view}"
            settings = fixative.ProtectSettings(
                mode=mode, steps=steps, view=view, device="cpu", threads=args.threads
            )
            fixative.protect_array(clean[:64, :64], settings)  # sessions made before timing
            t = time.perf_counter()
            prot, report = fixative.protect_array(clean, settings)
            seconds = time.perf_counter() - t
            noise = et.matched_noise(clean, et.psnr_u8(prot, clean), seed=0)
            row = measure(ai, clean, prot, noise)
            row.update(seconds=seconds, view=f"{report.view_width}×{report.view_height}")
            rows.setdefault(label, []).append(row)
            print(f"{f.name} {label}: {json.dumps(row)}", flush=True)
    table = summarise(rows, len(files), argv)
    print(table)
    if args.md:
        args.md.write_text(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def crops(variants: list[str]) -> int:
    """One step's size and start on the crops protocol, through the core's mode table."""
    import dataclasses

    import evaluate
    from fixative.protection import refine, settings

    print("| step scale | start | latent × noise | colour-matched AI view below noise's "
          "| plain | image PSNR | kept JPEG q75 | kept 0.5× resize | SSIM clip-art |")  # fmt: skip
    print("|---" * 9 + "|")
    for variant in variants:
        scale, start = variant.split(":")
        settings.MODE_TABLE["fast"] = dataclasses.replace(
            settings.MODE_TABLE["fast"], step_scale=float(scale)
        )
        refine.SCALED_START = start == "scaled"
        p = argparse.ArgumentParser()
        evaluate.add_protocol_args(p)
        args = p.parse_args(["--no-pgd", "--speed-size", "256", "--modes", "generator,fast"])
        s, _ = evaluate.crops(args, ["generator", "fast"])
        f, m = s["fast"], s["methods"]["fast"]
        print(
            f"| {scale} | {start} | {f['ratio_noise_eqpsnr']:.2f}× "
            f"| {f['aiview_cm_gap_noise']:.1f} dB | {f['aiview_gap_noise']:.1f} dB "
            f"| {m['psnr']:.1f} dB | {m['kept_jpeg75']:.2f} | {m['kept_resize05']:.2f} "
            f"| {m['ssim_clip']:.3f} |",
            flush=True,
        )
    return 0


def summarise(rows: dict[str, list[dict]], n: int, argv: list[str] | None) -> str:
    def mean(label: str, key: str) -> float:
        return float(np.mean([r[key] for r in rows[label]]))

    lines = [
        f"| fast at 4K ({n} images, read at ~1 MP, box) | view | latent × noise "
        "| AI view below noise's | colour-matched | image PSNR | kept JPEG q75 "
        "| kept 0.5× resize | seconds |",
        "|---" * 9 + "|",
    ]
    for label in rows:
        lines.append(
            f"| {label} | {rows[label][0]['view']} | {mean(label, 'times_noise'):.2f}× "
            f"| {mean(label, 'aiview_gap'):.1f} dB | {mean(label, 'aiview_cm_gap'):.1f} dB "
            f"| {mean(label, 'psnr'):.1f} dB | {mean(label, 'kept_jpeg75'):.2f} "
            f"| {mean(label, 'kept_resize05'):.2f} | {mean(label, 'seconds'):.1f} |"
        )
    args = sys.argv[1:] if argv is None else argv
    lines += ["", "Command: `python scripts/sweep_fast.py " + " ".join(args) + "`"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
