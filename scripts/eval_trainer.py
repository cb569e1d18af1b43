"""The trainer's-view protocol of `scripts/evaluate.py --protocol trainer` (issue 15 item 3).

No model reads a published picture at its native size: trainers downscale it first. Each
evaluation image, at its full size and as a 4K version (3840×2160), is protected with the default
view (`view="auto"`, about 1 MP) and with `view="native"`, in each `--modes` mode; the protected
file (PNG round-trip, uint8) is then read the way trainers read it -- about 1 MP and 0.26 MP
(resolution 1024 and 512: the image's aspect kept, area about R², sides multiples of 8) with three
resamplers -- and measured there against the clean image read the same way:

- latent distortion ‖E(read(x′)) − E(read(x))‖ / ‖E(read(x))‖ with the shipped ONNX TAEF2 encoder;
- AI-view PSNR between D(E(read(x′))) and D(E(read(x))) (shipped ONNX decoder; lower = the AI's
  reconstruction is further from the original's), also after colour matching, and its luma
  SSIM (`fixative.protection.measures`, the definitions `fixative check` reports);
- the same for uniform noise whose native PSNR equals the protected file's (per file,
  `fixative.protection.measures.matched_noise`).

A read never enlarges: an image whose area is at most R² is read at its own size (its sides cut to
multiples of 8), as kohya-ss does with `bucket_no_upscale`; such reads are flagged `own_size`.

Resamplers (Pillow 8-bit RGB, as the trainers' loaders read files):
- `box`: `Image.BOX`, the area average that OpenCV's INTER_AREA computes on downscales (kohya-ss);
- `bilinear`: `Image.BILINEAR`, antialiased on downscale (Pillow widens the kernel by the scale),
  as torchvision's antialiased bilinear (diffusers' FLUX.2 scripts, OneTrainer);
- `bicubic`: `Image.BICUBIC`, as ai-toolkit.

Every finished (image, size, mode, view) cell is written at once to a JSON file per image under
`--cache` (default runs/eval-trainer/), in a folder named by a digest of the model, the shipped
graphs, the engine's source and the settings, so a killed run resumes where it stopped and a
changed engine starts afresh. The 4K versions are cached there as PNGs too.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from dataset import CLIP_PREFIX, eval_files, load_rgb
from fixative.protection.measures import AIView
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO / "runs" / "eval-trainer"
BIG_SIZE = (3840, 2160)  # width, height
RESOLUTIONS = (1024, 512)
RESAMPLERS = {
    "box": (Image.BOX, "Pillow BOX: area average, as OpenCV INTER_AREA (kohya-ss)"),
    "bilinear": (
        Image.BILINEAR,
        "Pillow BILINEAR, antialiased on downscale (diffusers FLUX.2 scripts, OneTrainer)",
    ),
    "bicubic": (Image.BICUBIC, "Pillow BICUBIC, antialiased on downscale (ai-toolkit)"),
}
CANVASES = {
    "lanczos": (
        "each image enlarged with Lanczos (aspect kept) to cover the canvas, centre-cropped: "
        "the artwork itself at 4K, so a trainer's ~1 MP read shows what the original shows"
    ),
    "mosaic": (
        "each image tiled at its own size (mirrored copies) over the canvas: native-scale "
        "detail, but a trainer's read shows many small copies"
    ),
}
# The engine files whose source decides the protected pixels (part of the cache digest).
ENGINE_FILES = (
    "protection/protect.py",
    "protection/refine.py",
    "protection/view.py",
    "image/pixels.py",
    "protection/graphs.py",
    "protection/model.py",
    "protection/settings.py",
)
SIZE_LABELS = {"full": "full size", "4k": "4K"}


# --- images -------------------------------------------------------------------------------


def load_u8(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB (transparency composited onto white, as `dataset.load_rgb`)."""
    return np.rint(load_rgb(path) * 255).astype(np.uint8)


def build_big(img: np.ndarray, size: tuple[int, int], canvas: str) -> np.ndarray:
    """The image as a `size` (width, height) picture, built as `CANVASES[canvas]` says."""
    w, h = size
    ih, iw = img.shape[:2]
    if canvas == "lanczos":
        s = max(w / iw, h / ih)
        cw, ch = max(w, round(iw * s)), max(h, round(ih * s))
        big = Image.fromarray(img).resize((cw, ch), Image.LANCZOS)
        left, top = (cw - w) // 2, (ch - h) // 2
        return np.asarray(big.crop((left, top, left + w, top + h)))
    if canvas == "mosaic":
        cell = np.concatenate([img, img[:, ::-1]], axis=1)
        cell = np.concatenate([cell, cell[::-1]], axis=0)
        reps = (-(-h // cell.shape[0]), -(-w // cell.shape[1]), 1)
        return np.ascontiguousarray(np.tile(cell, reps)[:h, :w])
    msg = f"unknown canvas {canvas!r} (one of {', '.join(CANVASES)})"
    raise ValueError(msg)


def cached_big(cache: Path, name: str, img: np.ndarray, size: tuple[int, int], canvas: str):
    path = cache / f"canvas-{canvas}-{size[0]}x{size[1]}" / f"{Path(name).stem}.png"
    if path.is_file():
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
        if arr.shape[:2] == (size[1], size[0]):
            return arr
    arr = build_big(img, size, canvas)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda f: Image.fromarray(arr).save(f, "PNG"))
    return arr


def png_roundtrip(img: np.ndarray) -> np.ndarray:
    """What a reader of the written PNG gets (uint8 RGB)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG", compress_level=1)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"))


# --- reads as trainers do them ------------------------------------------------------------


def read_size(height: int, width: int, resolution: int, multiple: int = 8) -> tuple[int, int, bool]:
    """(height, width, own_size): the trainer's read at `resolution` (area about resolution²,
    aspect kept, sides multiples of `multiple`); never larger than the image itself."""
    if height * width <= resolution * resolution:
        return height // multiple * multiple, width // multiple * multiple, True
    s = resolution / math.sqrt(height * width)
    rh = max(multiple, round(height * s / multiple) * multiple)
    rw = max(multiple, round(width * s / multiple) * multiple)
    if rh >= height or rw >= width:
        return height // multiple * multiple, width // multiple * multiple, True
    return rh, rw, False


def trainer_read(img: np.ndarray, height: int, width: int, resampler: str, own: bool) -> np.ndarray:
    """float32 HxWx3 in [0, 1]: `img` (uint8) resized by Pillow in 8 bits, as loaders do; an
    own-size read only cuts the sides' remainders modulo 8."""
    if own:
        out = img[:height, :width]
    else:
        out = np.asarray(Image.fromarray(img).resize((width, height), RESAMPLERS[resampler][0]))
    return out.astype(np.float32) / 255.0


class TAEF2:
    """The shipped ONNX TAEF2 encoder and decoder (no torch)."""

    def __init__(self, threads: int | None) -> None:
        from fixative.protection.graphs import get_graph

        self.encoder = get_graph("encoder", "cpu", threads)
        self.decoder = get_graph("decoder", "cpu", threads)

    def encode(self, x: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
        return self.encoder.run(image=batch)[0]

    def decode(self, z: np.ndarray) -> np.ndarray:
        """(H, W, 3) in [0, 1], the layout of `fixative.protection.measures`."""
        return np.clip(self.decoder.run(latent=z)[0][0].transpose(1, 2, 0), 0.0, 1.0)


def rel_distortion(z: np.ndarray, z_ref: np.ndarray) -> float:
    z, z_ref = z.astype(np.float64), z_ref.astype(np.float64)
    return float(np.linalg.norm(z - z_ref) / max(float(np.linalg.norm(z_ref)), 1e-12))


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two uint8 images, exact (integer squared errors, summed in bands of rows)."""
    total = 0
    for y in range(0, a.shape[0], 256):
        d = a[y : y + 256].astype(np.int32) - b[y : y + 256].astype(np.int32)
        total += int(np.einsum("ijk,ijk->", d, d, dtype=np.int64))
    mse = total / a.size / 255.0**2
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def matched_noise(clean: np.ndarray, target_psnr: float, seed: int) -> np.ndarray:
    """clean (uint8) + uniform noise, quantised to 8 bits, whose PSNR against clean is
    `target_psnr`: the core's baseline (`fixative.protection.measures.matched_noise`), as
    `fixative check` makes it."""
    from fixative.protection.measures import matched_noise as noise_at

    noisy = noise_at(clean.astype(np.float32) / 255.0, target_psnr, levels=255, seed=seed)
    return np.rint(noisy * 255.0).astype(np.uint8)


# --- the cache ----------------------------------------------------------------------------


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def engine_digest(model_sha256: str, settings: dict) -> str:
    """Digest of what decides the protected pixels: model, graphs, engine source, settings."""
    import fixative
    from fixative.protection import graphs

    h = hashlib.sha256(model_sha256.encode())
    for role in sorted(graphs.INTERFACES):
        try:
            h.update(graphs.verify(role).encode())
        except fixative.ModelError:
            h.update(f"{role}: none".encode())  # a graph this engine does not ship
    core = Path(fixative.__file__).resolve().parent
    for name in ENGINE_FILES:
        # The file's own name only, so that moving it between packages keeps earlier caches.
        h.update(Path(name).name.encode() + b"\0" + (core / name).read_bytes())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:16]


class CellCache:
    """One JSON file per image: {cell key: record}; each record written as soon as it is done."""

    def __init__(self, folder: Path, name: str) -> None:
        self.path = folder / f"{Path(name).stem}.json"
        self.cells: dict[str, dict] = {}
        if self.path.is_file():
            try:
                self.cells = json.loads(self.path.read_text())["cells"]
            except (ValueError, KeyError):
                self.cells = {}  # a damaged checkpoint is recomputed, not trusted

    def get(self, key: str) -> dict | None:
        return self.cells.get(key)

    def put(self, key: str, record: dict) -> None:
        self.cells[key] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"cells": self.cells}, indent=1, allow_nan=True).encode()
        _atomic_write(self.path, lambda f: f.write(data))


# --- the protocol -------------------------------------------------------------------------


def read_keys(resolutions, resamplers) -> list[tuple[str, int, str]]:
    return [(f"{r}/{s}", r, s) for r in resolutions for s in resamplers]


class CleanReads:
    """The clean image's reads, latents and AI views, computed once per image and size."""

    def __init__(self, img: np.ndarray, ai: TAEF2, reads) -> None:
        self.img, self.ai, self.reads = img, ai, reads
        self._cache: dict[str, tuple] = {}

    def get(self, key: str, resolution: int, resampler: str):
        if key not in self._cache:
            h, w, own = read_size(*self.img.shape[:2], resolution)
            x = trainer_read(self.img, h, w, resampler, own)
            z = self.ai.encode(x)
            self._cache[key] = (h, w, own, z, self.ai.decode(z))
        return self._cache[key]


def measure_reads(protected: np.ndarray, noise: np.ndarray, clean: CleanReads, reads) -> dict:
    out = {}
    for key, resolution, resampler in reads:
        h, w, own, z0, d0 = clean.get(key, resolution, resampler)
        row = {"width": w, "height": h, "own_size": own}
        for label, img in (("", protected), ("noise_", noise)):
            z = clean.ai.encode(trainer_read(img, h, w, resampler, own))
            row[label + "distortion"] = rel_distortion(z, z0)
            seen = AIView.of(clean.ai.decode(z), d0)
            row[label + "aiview_psnr"] = seen.psnr
            row[label + "aiview_cm_psnr"] = seen.psnr_colour_matched
            row[label + "aiview_ssim"] = seen.ssim
        row["ratio_noise"] = row["distortion"] / max(row["noise_distortion"], 1e-12)
        row["aiview_gap_noise"] = row["noise_aiview_psnr"] - row["aiview_psnr"]
        row["aiview_cm_gap_noise"] = row["noise_aiview_cm_psnr"] - row["aiview_cm_psnr"]
        out[key] = row
    return out


def protect_cell(img, mode, view, args, eps8: float) -> tuple[np.ndarray, dict]:
    import fixative

    settings = fixative.ProtectSettings(
        strength=args.strength,
        mode=mode,
        steps=args.steps if mode == "thorough" else None,
        view=view,
        device="cpu",
        threads=args.threads,
        model_path=str(args.model) if args.model else None,
    )
    prot, report = fixative.protect_array(img, settings)
    prot = png_roundtrip(prot)
    max8 = int(np.abs(prot.astype(np.int16) - img.astype(np.int16)).max())
    info = {
        "mode": mode,
        "view": str(view),
        "steps": report.steps,
        "view_width": report.view_width,
        "view_height": report.view_height,
        "seconds": report.seconds,
        "psnr": psnr_u8(prot, img),
        "max_abs_diff_8bit": max8,
        "epsilon_8bit": eps8,
        "within_budget": max8 <= eps8 + 1e-6,
        "model_id": report.model_id,
    }
    return prot, info


def run(args) -> dict:
    """Run (or resume) the protocol; returns the summary (also the JSON written by --json)."""
    import fixative
    from fixative.protection.model import get_model
    from fixative.protection.view import plan

    model = get_model(str(args.model) if args.model else None, "cpu", args.threads)
    eps = model.spec.epsilon[args.strength]
    eps8 = eps * 255
    files = [Path(f) for f in args.image] if args.image else eval_files()
    files = files[: args.limit] if args.limit else files
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    for s in sizes:
        if s not in SIZE_LABELS:
            msg = f"--sizes: unknown size {s!r} (full, 4k)"
            raise SystemExit(msg)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    resolutions = [int(r) for r in str(args.resolutions).split(",")]
    resamplers = [r.strip() for r in args.resamplers.split(",")]
    for r in resamplers:
        if r not in RESAMPLERS:
            msg = f"--resamplers: unknown {r!r} ({', '.join(RESAMPLERS)})"
            raise SystemExit(msg)
    reads = read_keys(resolutions, resamplers)
    big = tuple(int(v) for v in args.big.lower().split("x"))
    default_view = args.default_view
    settings = {
        "strength": args.strength,
        "steps": args.steps,
        "default_view": default_view,
        "threads": args.threads,
        "canvas": args.canvas,
        "big": list(big),
    }
    digest = engine_digest(model.spec.sha256, settings)
    cache_root = Path(args.cache)
    folder = cache_root / digest
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(
        json.dumps({**settings, "model": model.spec.model_id, "version": fixative.__version__})
        + "\n"
    )
    ai = TAEF2(args.threads)
    if "thorough" in modes:
        from fixative.protection.graphs import get_graph

        for role in ("encoder_grad", "texture_mask"):  # sessions made before any timing
            get_graph(role, "cpu", args.threads)
    computed = 0
    cells = []
    for path in files:
        name = path.name
        cache = CellCache(folder, name)
        full = load_u8(path)
        for size in sizes:
            img = full if size == "full" else cached_big(cache_root, name, full, big, args.canvas)
            h, w = img.shape[:2]
            clean = CleanReads(img, ai, reads)
            auto_plan = plan(h, w, default_view, model.spec.size_multiple)
            for mode in modes:
                for view in (default_view, "native"):
                    key = f"{size}/{mode}/{'native' if view == 'native' else 'default'}"
                    wanted = {k for k, _, _ in reads}
                    rec = cache.get(key)
                    if rec is not None and wanted <= set(rec["reads"]):
                        cells.append(rec)
                        continue
                    if view == "native" and auto_plan.native:
                        # The image is its own view: the default protection is the native one.
                        base = cache.get(f"{size}/{mode}/default")
                        rec = {**base, "view": "native", "same_as_default": True}
                        cache.put(key, rec)
                        cells.append(rec)
                        continue
                    t = time.perf_counter()
                    prot, info = protect_cell(img, mode, view, args, eps8)
                    seed = zlib.crc32(f"{name}/{key}".encode())
                    noise = matched_noise(img, info["psnr"], seed)
                    rec = {
                        "image": name,
                        "clip_art": name.startswith(CLIP_PREFIX),
                        "size": size,
                        "width": w,
                        "height": h,
                        **info,
                        "same_as_default": False,
                        "noise_psnr": psnr_u8(noise, img),
                        "noise_max_abs_diff_8bit": int(
                            np.abs(noise.astype(np.int16) - img.astype(np.int16)).max()
                        ),
                        "reads": measure_reads(prot, noise, clean, reads),
                    }
                    del prot, noise
                    cache.put(key, rec)
                    cells.append(rec)
                    computed += 1
                    r1 = rec["reads"][reads[0][0]]
                    print(
                        f"{name} {size} {mode} {key.rsplit('/', 1)[1]}: view "
                        f"{rec['view_width']}x{rec['view_height']}, PSNR {rec['psnr']:.2f} dB, "
                        f"max |Δ| {rec['max_abs_diff_8bit']}/255, {rec['seconds']:.1f} s; "
                        f"at {reads[0][0]}: dist {r1['distortion']:.3f} "
                        f"(noise {r1['noise_distortion']:.3f}) "
                        f"[{time.perf_counter() - t:.0f} s in all]",
                        flush=True,
                    )
    summary = summarise(cells, reads, sizes, modes)
    summary.update(
        {
            "protocol": "trainer",
            "model": model.spec.model_id,
            "model_sha256": model.spec.sha256,
            "strength": args.strength,
            "epsilon": eps,
            "epsilon_8bit": eps8,
            "default_view": str(default_view),
            "steps": args.steps,
            "threads": args.threads,
            "big": {
                "width": big[0],
                "height": big[1],
                "canvas": args.canvas,
                "how": CANVASES[args.canvas],
            },
            "reads": {
                "resolutions": resolutions,
                "resamplers": {r: RESAMPLERS[r][1] for r in resamplers},
                "rule": "area about R² with the image's aspect, sides multiples of 8; an image "
                "of at most R² is read at its own size (no enlargement)",
            },
            "images": [f.name for f in files],
            "cache": str(folder),
            "computed_cells": computed,
            "cells": cells,
        }
    )
    return summary


def _mean(values) -> float | None:
    values = [v for v in values if v is not None and not math.isinf(v)]
    return float(np.mean(values)) if values else None


def summarise(cells: list[dict], reads, sizes, modes) -> dict:
    by = {(c["size"], c["mode"], c["view"] != "native", c["image"]): c for c in cells}
    groups, per_image, timing = [], [], []
    for size in sizes:
        for mode in modes:
            names = dict.fromkeys(
                c["image"] for c in cells if c["size"] == size and c["mode"] == mode
            )
            pairs = [
                (by[(size, mode, True, n)], by[(size, mode, False, n)])
                for n in names
                if (size, mode, True, n) in by and (size, mode, False, n) in by
            ]
            if not pairs:
                continue
            for key, _, _ in reads:
                d = [p[0]["reads"][key] for p in pairs]
                nat = [p[1]["reads"][key] for p in pairs]
                ratios = [
                    a["distortion"] / max(b["distortion"], 1e-12)
                    for a, b in zip(d, nat, strict=True)
                ]
                groups.append(
                    {
                        "size": size,
                        "mode": mode,
                        "read": key,
                        "n": len(pairs),
                        "own_size": sum(r["own_size"] for r in d),
                        "distortion_default": _mean(r["distortion"] for r in d),
                        "distortion_native": _mean(r["distortion"] for r in nat),
                        "ratio_default_native": _mean(r["distortion"] for r in d)
                        / max(_mean(r["distortion"] for r in nat), 1e-12),
                        "ratio_min": min(ratios),
                        "ratio_max": max(ratios),
                        "ratio_noise_default": _mean(r["ratio_noise"] for r in d),
                        "ratio_noise_native": _mean(r["ratio_noise"] for r in nat),
                        "aiview_default": _mean(r["aiview_psnr"] for r in d),
                        "aiview_native": _mean(r["aiview_psnr"] for r in nat),
                        "aiview_noise_default": _mean(r["noise_aiview_psnr"] for r in d),
                        "aiview_noise_native": _mean(r["noise_aiview_psnr"] for r in nat),
                        "aiview_cm_default": _mean(r["aiview_cm_psnr"] for r in d),
                        "aiview_cm_native": _mean(r["aiview_cm_psnr"] for r in nat),
                        "aiview_cm_noise_default": _mean(r["noise_aiview_cm_psnr"] for r in d),
                        "ssim_default": _mean(r["aiview_ssim"] for r in d),
                        "ssim_noise_default": _mean(r["noise_aiview_ssim"] for r in d),
                    }
                )
            for a, b in pairs:
                row = {"image": a["image"], "size": size, "mode": mode}
                for lab, c in (("default", a), ("native", b)):
                    row[f"psnr_{lab}"] = c["psnr"]
                    row[f"max_{lab}"] = c["max_abs_diff_8bit"]
                    row[f"seconds_{lab}"] = c["seconds"]
                    row[f"view_{lab}"] = f"{c['view_width']}×{c['view_height']}"
                row["same"] = b["same_as_default"]
                for r in sorted({k.split("/")[0] for k, _, _ in reads}, key=int, reverse=True):
                    ks = [k for k, res, _ in reads if str(res) == r]
                    for lab, c in (("default", a), ("native", b)):
                        row[f"dist_{r}_{lab}"] = _mean(c["reads"][k]["distortion"] for k in ks)
                        row[f"xnoise_{r}_{lab}"] = _mean(c["reads"][k]["ratio_noise"] for k in ks)
                        row[f"aiview_{r}_{lab}"] = _mean(c["reads"][k]["aiview_psnr"] for k in ks)
                        row[f"aiview_noise_{r}_{lab}"] = _mean(
                            c["reads"][k]["noise_aiview_psnr"] for k in ks
                        )
                    row[f"ratio_{r}"] = row[f"dist_{r}_default"] / max(
                        row[f"dist_{r}_native"], 1e-12
                    )
                per_image.append(row)
            for lab, idx in (("default", 0), ("native", 1)):
                cs = [p[idx] for p in pairs]
                timing.append(
                    {
                        "size": size,
                        "mode": mode,
                        "view": lab,
                        "n": len(cs),
                        "pixels_mp": _mean(c["width"] * c["height"] / 1e6 for c in cs),
                        "view_mp": _mean(c["view_width"] * c["view_height"] / 1e6 for c in cs),
                        "seconds": _mean(c["seconds"] for c in cs),
                        "seconds_max": max(c["seconds"] for c in cs),
                        "psnr": _mean(c["psnr"] for c in cs),
                        "psnr_clip": _mean(c["psnr"] for c in cs if c["clip_art"]),
                        "max_abs_diff_8bit": max(c["max_abs_diff_8bit"] for c in cs),
                        "within_budget": all(c["within_budget"] for c in cs),
                        "noise_psnr": _mean(c["noise_psnr"] for c in cs),
                    }
                )
    budget_max = max((c["max_abs_diff_8bit"] for c in cells), default=0)
    return {
        "groups": groups,
        "per_image": per_image,
        "timing": timing,
        "budget": {
            "max_abs_diff_8bit": budget_max,
            "within_budget": all(c["within_budget"] for c in cells),
        },
    }


def _f(v, fmt: str = ".3f", unit: str = "") -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return f"{v:{fmt}}{unit}"


def _read_label(key: str) -> str:
    res, resampler = key.split("/")
    return f"{int(res) ** 2 / 1e6:.2f} MP ({res}) {resampler}"


def markdown(s: dict, command: str | None = None) -> str:
    big = s["big"]
    labels = dict(SIZE_LABELS)
    if (big["width"], big["height"]) != BIG_SIZE:
        labels["4k"] = f"{big['width']}×{big['height']}"
    n = len(s["images"])
    lines = [
        "## Trainer's view: default (`view auto`) vs `view native`",
        "",
        f"Model `{s['model']}`, strength {s['strength']} (ε = {s['epsilon_8bit']:.0f}/255), "
        f"thorough steps {s['steps'] or 'default'}; {n} evaluation image{'s' * (n != 1)} "
        f"({', '.join(s['images'])}) at full size and as 4K versions "
        f"({big['width']}×{big['height']}: {big['how']}). Each protected file (PNG, 8 bits) is "
        "read as trainers read it and measured there against the clean image read the same "
        "way (TAEF2 ONNX encoder/decoder). Noise: uniform, per file at the protected file's own "
        "native PSNR. ×noise = latent distortion / noise's at the same read.",
        "",
        f"- Reads: {s['reads']['rule']}.",
    ]
    for name, how in s["reads"]["resamplers"].items():
        lines.append(f"- `{name}`: {how}.")
    b = s["budget"]
    lines += [
        f"- Budget: largest change of any pixel and channel {b['max_abs_diff_8bit']}/255 "
        f"(ε = {s['epsilon_8bit']:.0f}/255): "
        + ("**every pixel within ε**." if b["within_budget"] else "**ε EXCEEDED**."),
    ]
    if command:
        lines += [f"- Command: `{command}`"]
    lines += [
        "",
        "### Means over the images, per read",
        "",
        "| size | mode | read | latent dist. default | native | default / native (min–max) "
        "| ×noise default | ×noise native | AI-view default | native | noise (default's PSNR) "
        "| colour-matched AI-view default | native | noise | AI-view SSIM default | noise |",
        "|---" * 16 + "|",
    ]
    for g in s["groups"]:
        own = f" ({g['own_size']}/{g['n']} own size)" if g["own_size"] else ""
        lines.append(
            f"| {labels[g['size']]} | {g['mode']} | {_read_label(g['read'])}{own} "
            f"| {_f(g['distortion_default'])} | {_f(g['distortion_native'])} "
            f"| {_f(g['ratio_default_native'], '.2f', '×')} ({_f(g['ratio_min'], '.2f')}–"
            f"{_f(g['ratio_max'], '.2f')}) "
            f"| {_f(g['ratio_noise_default'], '.2f', '×')} "
            f"| {_f(g['ratio_noise_native'], '.2f', '×')} "
            f"| {_f(g['aiview_default'], '.1f', ' dB')} | {_f(g['aiview_native'], '.1f', ' dB')} "
            f"| {_f(g['aiview_noise_default'], '.1f', ' dB')} "
            f"| {_f(g['aiview_cm_default'], '.1f', ' dB')} "
            f"| {_f(g['aiview_cm_native'], '.1f', ' dB')} "
            f"| {_f(g['aiview_cm_noise_default'], '.1f', ' dB')} "
            f"| {_f(g['ssim_default'], '.3f')} | {_f(g['ssim_noise_default'], '.3f')} |"
        )
    lines += [
        "",
        "### Change and time per protected file (means over the images)",
        "",
        "| size | mode | view | pixels | view computed at | PSNR | PSNR clip-art | max \\|Δ\\| "
        "| within ε | noise PSNR | seconds per image (max) |",
        "|---" * 11 + "|",
    ]
    for t in s["timing"]:
        lines.append(
            f"| {labels[t['size']]} | {t['mode']} | {t['view']} "
            f"| {_f(t['pixels_mp'], '.2f')} MP "
            f"| {_f(t['view_mp'], '.2f')} MP | {_f(t['psnr'], '.2f', ' dB')} "
            f"| {_f(t['psnr_clip'], '.2f', ' dB')} | {t['max_abs_diff_8bit']}/255 "
            f"| {'yes' if t['within_budget'] else '**no**'} | {_f(t['noise_psnr'], '.2f', ' dB')} "
            f"| {_f(t['seconds'], '.1f')} s ({_f(t['seconds_max'], '.1f')}) |"
        )
    res = sorted({int(g["read"].split("/")[0]) for g in s["groups"]}, reverse=True)
    lines += [
        "",
        "### Per image (each read's value is the mean over the resamplers)",
        "",
        "| size | mode | image | view default | PSNR def. / nat. | max \\|Δ\\| def. / nat. | "
        + " | ".join(
            f"dist. {r} def. / nat. (ratio) | ×noise {r} def. / nat. "
            f"| AI-view {r} def. / nat. / noise"
            for r in res
        )
        + " | seconds def. / nat. |",
        "|---" * (7 + 3 * len(res)) + "|",
    ]
    for p in s["per_image"]:
        cells = [
            labels[p["size"]],
            p["mode"],
            p["image"] + (" (own view)" if p["same"] else ""),
            p["view_default"],
            f"{_f(p['psnr_default'], '.1f')} / {_f(p['psnr_native'], '.1f')}",
            f"{p['max_default']} / {p['max_native']}",
        ]
        for r in res:
            cells += [
                f"{_f(p[f'dist_{r}_default'])} / {_f(p[f'dist_{r}_native'])} "
                f"({_f(p[f'ratio_{r}'], '.2f', '×')})",
                f"{_f(p[f'xnoise_{r}_default'], '.2f')} / {_f(p[f'xnoise_{r}_native'], '.2f')}",
                f"{_f(p[f'aiview_{r}_default'], '.1f')} / {_f(p[f'aiview_{r}_native'], '.1f')} / "
                f"{_f(p[f'aiview_noise_{r}_default'], '.1f')}",
            ]
        cells.append(f"{_f(p['seconds_default'], '.1f')} / {_f(p['seconds_native'], '.1f')}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
