"""Digests of what every write path gives on a few generated files: a refactor's before/after.

    python scripts/output_digests.py OUT                  # write OUT/digests.json
    python scripts/output_digests.py OUT --against OLD    # ... and compare with an earlier run

Covers `protect_file` (PNG, 16-bit PNG, greyscale PNG, JPEG with its quality, LZW TIFF, lossless
WebP, each written as every format that can take it, fast and one thorough step),
`write_image` with metadata, the host glue's `execute` (JPEG flattened onto white) and the CLI.
Run it on the same machine before and after a change: onnxruntime's float results, and so the
bytes, may differ between CPUs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "plugins" / "common"))  # the host glue, as the plug-ins vendor it


def _sources(folder: Path) -> None:
    import fixative.image.png16 as png16

    base = np.asarray(Image.open(REPO / "samples" / "tiger.png").convert("RGBA"))[:200, :240]
    base = base.copy()
    base[..., 3] = np.where(np.arange(240)[None, :] < 30, 0, 255)
    Image.fromarray(base).save(folder / "a.png")
    Image.fromarray(base[..., :3]).save(folder / "b.jpg", quality=83)
    Image.fromarray(base[..., :3]).save(folder / "c.tif", compression="tiff_lzw")
    Image.fromarray(base).save(folder / "d.webp", lossless=True)
    Image.fromarray(base[..., :3]).convert("L").save(folder / "e.png")
    deep = base.astype(np.uint16) * 257
    (folder / "f.png").write_bytes(png16.encode(deep, png16.PngMeta(None, None, None, {}, None)))


def digests(out: Path) -> dict[str, str]:
    import fixative
    from fixative_host.raw import RawImage
    from fixative_host.runner import ExportJob, execute

    src = out / "src"
    src.mkdir(parents=True, exist_ok=True)
    _sources(src)
    fast = fixative.ProtectSettings(mode="fast")
    written: list[Path] = []
    for f in sorted(src.iterdir()):
        for fmt in ("png", "tiff", "webp", "jpeg"):
            if fmt == "jpeg" and f.name in ("a.png", "d.webp", "f.png"):  # alpha: refused
                continue
            dst = out / f"file-{f.stem}.{fmt}"
            fixative.protect_file(f, dst, fast, overwrite=True, fmt=fmt)
            written.append(dst)
    dst = out / "file-thorough.png"
    thorough = fixative.ProtectSettings(mode="thorough", steps=1)
    fixative.protect_file(src / "a.png", dst, thorough, overwrite=True)
    written.append(dst)
    for quality in (None, 70):
        dst = out / f"file-b-q{quality}.jpg"
        fixative.protect_file(src / "b.jpg", dst, fast, overwrite=True, quality=quality)
        written.append(dst)
    base = fixative.read_image(src / "a.png").pixels
    for fmt in ("png", "jpeg", "tiff", "webp"):
        dst = out / f"array.{fmt}"
        pixels = base[..., :3].copy() if fmt == "jpeg" else base
        fixative.write_image(
            dst, pixels, fmt=fmt, settings=fast, dpi=(72, 72), text={"Title": "x"}, overwrite=True
        )
        written.append(dst)
        dst = out / f"host.{fmt}"
        raw = RawImage(base.tobytes(), base.shape[1], base.shape[0], 4, "u8")
        lossy = fmt in ("jpeg", "webp")
        job = ExportJob(str(dst), fmt, fast.to_dict(), 80 if lossy else None, fmt != "jpeg")
        execute(raw, job, None, None)
        written.append(dst)
    dst = out / "cli.png"
    cli = [sys.executable, "-m", "fixative", "protect", str(src / "a.png"), "-o", str(dst)]
    subprocess.run([*cli, "--mode", "fast", "--overwrite", "-q"], check=True)
    written.append(dst)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in written}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for the outputs and digests.json")
    ap.add_argument("--against", type=Path, metavar="OLD", help="an earlier run's folder")
    args = ap.parse_args(argv)
    found = digests(args.out)
    (args.out / "digests.json").write_text(json.dumps(found, indent=1) + "\n")
    print(f"{len(found)} outputs -> {args.out / 'digests.json'}")
    if args.against is None:
        return 0
    old = json.loads((args.against / "digests.json").read_text())
    differ = sorted(k for k in old.keys() | found.keys() if old.get(k) != found.get(k))
    print(f"identical: {len(found) - len(differ)}, differ: {', '.join(differ) or 'none'}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
