#!/usr/bin/env python3
"""Benchmark: protect 1 MP, 4K and 8K images on CPU against a plain Pillow re-export.

    python scripts/bench.py [--sizes 1mp,4k,8k] [--repeat 1] [--model PATH] [--threads N]
                            [--images DIR]

Each measurement runs in its own subprocess so peak RSS is that of one job alone. "plain" is
Pillow open + decode + PNG save of the same file; "protect" is `fixative.protect_file` (read,
model over all tiles, PNG write with declarations) after the model session is created, which
is reported separately ("load"). Prints a Markdown table for the README. The test images are
tiled from the PNGs of `--images` (default: the evaluation images committed in `data/eval/`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"1mp": (1024, 1024), "4k": (3840, 2160), "8k": (7680, 4320)}
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "eval"


def make_image(path: Path, size: tuple[int, int], images: Path = SAMPLE) -> None:
    """A realistic test image: a grid of different real pictures (1024 px tiles), so compression
    and model costs are those of real artwork rather than noise or flat colour.
    """
    from PIL import Image

    w, h = size
    sources = sorted(images.glob("*.png"))
    if not sources:
        sys.exit(f"bench: no PNG images in {images}")
    canvas = Image.new("RGB", size)
    k = 0
    for y in range(0, h, 1024):
        for x in range(0, w, 1024):
            tile = Image.open(sources[k % len(sources)]).convert("RGB")
            canvas.paste(tile.resize((1024, 1024)) if tile.size != (1024, 1024) else tile, (x, y))
            k += 1
    canvas.save(path)


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def child(kind: str, src: str, dst: str, model: str | None, threads: int | None) -> None:
    if kind == "plain":
        from PIL import Image

        t = time.perf_counter()
        with Image.open(src) as im:
            im.load()
            im.save(dst, "PNG")
        result = {"seconds": time.perf_counter() - t}
    else:
        from fixative import ProtectSettings, protect_file
        from fixative.model import get_model

        settings = ProtectSettings(device="cpu", threads=threads, model_path=model)
        t = time.perf_counter()
        get_model(settings.model_path, settings.device, settings.threads)
        load = time.perf_counter() - t
        t = time.perf_counter()
        report = protect_file(src, dst, settings, overwrite=True)
        result = {
            "seconds": time.perf_counter() - t,
            "load": load,
            "tiles": report.tiles,
            "model_id": report.model_id,
            "psnr": report.psnr,
        }
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def measure(kind: str, src: Path, dst: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, str(src), str(dst)]
    if args.model:
        cmd += ["--model", args.model]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    best = None
    for _ in range(args.repeat):
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"bench: {kind} {src.name} failed:\n{out.stderr}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1mp,4k,8k")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the fastest counts")
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--images", type=Path, default=SAMPLE, help=f"PNGs to tile (default {SAMPLE})"
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "DST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.model, args.threads)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="fixative-bench-") as tmp:
        for name in args.sizes.split(","):
            size = SIZES[name.strip().lower()]
            src = Path(tmp) / f"{name}.png"
            make_image(src, size, args.images)
            plain = measure("plain", src, Path(tmp) / f"{name}-plain.png", args)
            prot = measure("protect", src, Path(tmp) / f"{name}-protected.png", args)
            rows.append((name, size, plain, prot))
            print(
                f"{name}: plain {plain['seconds']:.2f} s, protect {prot['seconds']:.2f} s",
                file=sys.stderr,
            )
    cpu = f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}"
    model_id = rows[0][3]["model_id"]
    print(f"Model `{model_id}`, onnxruntime CPU, {cpu}, Python {platform.python_version()}.\n")
    print(
        "| image | pixels | plain open + PNG save | protect + write | ratio | model load | "
        "peak RSS plain | peak RSS protect |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (w, h), plain, prot in rows:
        print(
            f"| {name} | {w}×{h} ({w * h / 1e6:.1f} MP) | {plain['seconds']:.2f} s | "
            f"{prot['seconds']:.2f} s | {prot['seconds'] / plain['seconds']:.1f}× | "
            f"{prot['load']:.2f} s | {plain['peak_rss_mb']:.0f} MB | {prot['peak_rss_mb']:.0f} MB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
