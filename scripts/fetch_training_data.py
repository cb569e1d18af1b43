"""Fetch extra training images for the perturbation generator from Debian packages.

    python scripts/fetch_training_data.py                   # into dataset.EXTRA_DIR
    python scripts/fetch_training_data.py --out DIR --per-package 100

Each package is fetched with `apt-get download` and unpacked with `dpkg -x` in a temporary
folder. Its raster images whose shorter side is at least 256 px (also after resizing) are
composited onto white, resized to a long side of at most 1024 px (Lanczos) and saved as
`<package>__<path>.png`, deduplicated by the sha256 of their RGB pixel bytes, with a
`manifest.txt` of `name sha256 package original-path` lines. openclipart-png is sampled
(seeded, weighted towards larger images).

The evaluation images (dataset.EVAL_IMAGES) are never kept: no file named like an evaluation
image's source or a variant of it (light/dark, other sizes, numbered copies, any file of the same
desktop-base theme), and no image within NEAR_DUP of one at 64x64 in grey.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from dataset import EVAL_DIR, EVAL_IMAGES, EXTRA_DIR, MANIFEST
from PIL import Image

PACKAGES = (
    "gnome-backgrounds",
    "desktop-base",
    "openclipart-png",
    "krita-data",
    "gimp-data",
    "blender-data",
)
SAMPLED = "openclipart-png"  # ~7000 images: a seeded sample, not the first N
RASTER = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
MIN_SIDE = 256
MAX_SIDE = 1024
MAX_SOURCE_PIXELS = 4096 * 4096  # larger sources (a few clip-art posters) cost too much to decode
SEED = 20240601

# Where each evaluation image came from (data/eval/SOURCES.md): package, path.
EVAL_SOURCES: dict[str, tuple[str, str]] = {
    "clip_tiger.png": (
        "openclipart-png",
        "/usr/share/openclipart/png/animals/mammals/big_cats/tigre04_architetto_franc_01.png",
    ),
    "clip_sunflower.png": (
        "openclipart-png",
        "/usr/share/openclipart/png/plants/sun_flower_ganson.png",
    ),
    "clip_park.png": (
        "openclipart-png",
        "/usr/share/openclipart/png/recreation/park_nicu_buculei_01.png",
    ),
    "clip_set_gatti.png": ("openclipart-png", "/usr/share/openclipart/png/unsorted/set_gatti.png"),
    "clip_caterpillar.png": (
        "openclipart-png",
        "/usr/share/openclipart/png/unsorted/caterpillar.png",
    ),
    "gnome_wood-d.png": ("gnome-backgrounds", "/usr/share/backgrounds/gnome/wood-d.webp"),
    "gnome_dune-l.png": ("gnome-backgrounds", "/usr/share/backgrounds/gnome/dune-l.svg"),
    "debian_homeworld.png": (
        "desktop-base",
        "/usr/share/desktop-base/homeworld-theme/wallpaper/contents/images/1920x1080.svg",
    ),
}
assert set(EVAL_SOURCES) == set(EVAL_IMAGES), "EVAL_SOURCES out of step with dataset.EVAL_IMAGES"

# Near-duplicate check: mean absolute difference of 64x64 grey thumbnails, on a 0-1 scale.
# Measured on these packages: a theme's grub/login/plymouth screens are 0.009-0.036 from its
# wallpaper (homeworld's 0.015-0.027); nothing else kept comes closer than 0.072 to an
# evaluation image.
THUMB = 64
NEAR_DUP = 0.05

# Variant suffixes stripped (repeatedly) from a lower-case stem: light/dark, a resolution, a
# number ("_01"), a trailing separator.
_VARIANT_SUFFIX = re.compile(r"(?:[-_. ](?:d|l|dark|light|day|night|nologo|\d+x\d+|\d+)|[-_. ])$")
_WORD = re.compile(r"[a-z]+")


def variant_key(stem: str) -> str:
    """The stem without variant suffixes: 'wood-d' -> 'wood', 'park_nicu_buculei_01' ->
    'park_nicu_buculei', '1920x1080' -> '' (nothing left: a name that identifies nothing)."""
    key = stem.lower()
    while True:
        stripped = _VARIANT_SUFFIX.sub("", key)
        if stripped == key:
            break
        key = stripped
    return "" if re.fullmatch(r"\d+x\d+|\d*", key) else key


def theme_of(path: str) -> str | None:
    """The desktop theme a file belongs to: 'homeworld' for '.../homeworld-theme/...'."""
    parts = Path(path.lower()).parts
    for i, part in enumerate(parts):
        if part.endswith("-theme"):
            return part.removesuffix("-theme")
        if part == "themes" and i + 2 < len(parts):
            return parts[i + 1]
    return None


@dataclass(frozen=True)
class EvalRule:
    """What identifies one evaluation source: its variant key, or (for a file named only by a
    resolution, as desktop-base wallpapers are) its theme, as a word anywhere in the path."""

    name: str
    package: str
    key: str
    theme: str | None


def eval_rules() -> list[EvalRule]:
    rules = []
    for name, (package, path) in EVAL_SOURCES.items():
        key = variant_key(Path(path).stem)
        theme = theme_of(path)
        rules.append(EvalRule(name, package, key, theme))
    return rules


def excluded_by_name(package: str, paths: list[str], rules: list[EvalRule]) -> str | None:
    """The evaluation image that one of `paths` (a file and the links to it) is a variant of."""
    for path in paths:
        key = variant_key(Path(path).stem)
        words = set(_WORD.findall(path.lower()))
        for rule in rules:
            if rule.key and key == rule.key:
                return rule.name
            if rule.theme and package == rule.package and rule.theme in words:
                return rule.name
    return None


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB, transparency composited onto white, long side at most MAX_SIDE (Lanczos)."""
    rgba = im.convert("RGBA")
    rgb = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    rgb = rgb.convert("RGB")
    w, h = rgb.size
    if max(w, h) > MAX_SIDE:
        s = MAX_SIDE / max(w, h)
        rgb = rgb.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return rgb


def thumb(rgb: Image.Image) -> np.ndarray:
    """64x64 grey thumbnail, float32 in [0, 1]: the near-duplicate fingerprint."""
    small = rgb.convert("L").resize((THUMB, THUMB), Image.LANCZOS)
    return np.asarray(small, dtype=np.float32) / 255.0


def eval_thumbs(eval_dir: Path = EVAL_DIR) -> dict[str, np.ndarray]:
    out = {}
    for name in EVAL_IMAGES:
        with Image.open(eval_dir / name) as im:
            out[name] = thumb(to_rgb(im))
    return out


def near_duplicate(t: np.ndarray, refs: dict[str, np.ndarray]) -> tuple[str, float] | None:
    """(evaluation image, distance) of the closest reference within NEAR_DUP, else None."""
    name, dist = min(
        ((n, float(np.abs(t - r).mean())) for n, r in refs.items()), key=lambda x: x[1]
    )
    return (name, dist) if dist < NEAR_DUP else None


def pixel_sha256(rgb: Image.Image) -> str:
    return hashlib.sha256(rgb.tobytes()).hexdigest()


def out_size(w: int, h: int) -> tuple[int, int]:
    s = min(1.0, MAX_SIDE / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def output_name(package: str, rel: str) -> str:
    stem = str(Path(rel.lstrip("/")).with_suffix(""))
    stem = stem.removeprefix("usr/share/").replace("/", "_")
    return f"{package}__{re.sub(r'[^A-Za-z0-9._-]+', '_', stem)}.png"


@dataclass
class Candidate:
    rel: str  # the real file, relative to the unpacked package root
    aliases: list[str]  # rel and every symbolic link to it
    size: tuple[int, int] = (0, 0)


def scan(root: Path) -> list[Candidate]:
    """Every raster file under `root`; symbolic links are folded into their target's aliases."""
    by_real: dict[Path, list[str]] = {}
    real_root = root.resolve()
    for dirpath, _, filenames in os.walk(root):
        for fn in filenames:
            p = Path(dirpath) / fn
            real = p.resolve()
            if p.suffix.lower() not in RASTER or real.suffix.lower() not in RASTER:
                continue
            if not real.is_file() or not real.is_relative_to(real_root):
                continue
            by_real.setdefault(real, []).append("/" + str(p.relative_to(root)))
    cands = []
    for real, names in sorted(by_real.items()):
        rel = "/" + str(real.relative_to(real_root))
        cands.append(Candidate(rel, sorted({rel, *names})))
    return cands


def source_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the header, or None if unreadable."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only the header is read: no decompression-bomb risk
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError):
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def size_ok(size: tuple[int, int]) -> bool:
    """Shorter side >= MIN_SIDE after the resize to MAX_SIDE, and not too large to decode."""
    return min(out_size(*size)) >= MIN_SIDE and size[0] * size[1] <= MAX_SOURCE_PIXELS


def sample_order(cands: list[Candidate], seed: int = SEED) -> list[Candidate]:
    """Weighted random order without replacement (Efraimidis-Spirakis), weight = output area."""
    rng = random.Random(seed)

    def key(c: Candidate) -> float:
        w, h = out_size(*c.size)
        return math.log(1.0 - rng.random()) / (w * h)  # larger is earlier; log(u)/weight

    keys = {c.rel: key(c) for c in sorted(cands, key=lambda c: c.rel)}  # independent of order
    return sorted(cands, key=lambda c: keys[c.rel], reverse=True)


@dataclass
class Stats:
    found: int = 0
    eligible: int = 0
    kept: int = 0
    small: int = 0
    by_name: list[tuple[str, str]] = field(default_factory=list)  # (path, evaluation image)
    near_dup: list[tuple[str, str, float]] = field(default_factory=list)
    duplicates: int = 0
    unreadable: int = 0

    @property
    def excluded(self) -> int:
        return len(self.by_name) + len(self.near_dup)


def collect(
    package: str,
    root: Path,
    out: Path,
    cap: int,
    refs: dict[str, np.ndarray],
    seen: dict[str, str],
    manifest: list[str],
) -> Stats:
    """Keep up to `cap` images of the package unpacked at `root`, written to `out`.

    `seen` (pixel sha256 -> name) carries across packages; `manifest` gets one line per image."""
    st = Stats()
    rules = eval_rules()
    allowed = []
    for c in scan(root):
        st.found += 1
        hit = excluded_by_name(package, c.aliases, rules)
        if hit:
            st.by_name.append((c.rel, hit))
            continue
        size = source_size(root / c.rel.lstrip("/"))
        if size is None:
            st.unreadable += 1
        elif not size_ok(size):
            st.small += 1
        else:
            c.size = size
            allowed.append(c)
    st.eligible = len(allowed)
    order = sample_order(allowed) if package == SAMPLED else allowed
    for c in order:
        if st.kept >= cap:
            break
        try:
            with Image.open(root / c.rel.lstrip("/")) as im:
                rgb = to_rgb(im)
        except (OSError, ValueError, Image.DecompressionBombError):
            st.unreadable += 1
            continue
        near = near_duplicate(thumb(rgb), refs)
        if near:
            st.near_dup.append((c.rel, *near))
            continue
        digest = pixel_sha256(rgb)
        if digest in seen:
            st.duplicates += 1
            continue
        name = output_name(package, c.rel)
        n = 1
        while (out / name).exists():  # same path but for the extension
            n += 1
            name = f"{output_name(package, c.rel).removesuffix('.png')}_{n}.png"
        rgb.save(out / name)
        seen[digest] = name
        manifest.append(f"{name} {digest} {package} {c.rel}")
        st.kept += 1
    return st


def write_manifest(out: Path, lines: list[str]) -> None:
    (out / MANIFEST).write_text("".join(f"{line}\n" for line in sorted(lines)))


def unpack(package: str, work: Path) -> Path:
    """`apt-get download` the package into `work` and `dpkg -x` it; return the unpacked root."""
    subprocess.run(["apt-get", "download", "-q", package], cwd=work, check=True)
    (deb,) = work.glob(f"{package}_*.deb")
    root = work / package
    subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    deb.unlink()
    return root


def _replace_dir(new: Path, out: Path) -> None:
    if out.exists():
        if any(out.iterdir()) and not (out / MANIFEST).is_file():
            msg = f"{out} has files but no {MANIFEST}: not replacing a folder not written here"
            raise SystemExit(msg)
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        os.replace(new, out)
        shutil.rmtree(old)
    else:
        os.replace(new, out)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--out", type=Path, default=EXTRA_DIR, help=f"output folder (default {EXTRA_DIR})"
    )
    ap.add_argument("--per-package", type=int, default=150, help="cap per package (default 150)")
    ap.add_argument(
        "--openclipart",
        type=int,
        default=300,
        help=f"cap for {SAMPLED}, sampled (default 300; the others hold ~220 usable images)",
    )
    ap.add_argument(
        "--eval-dir",
        type=Path,
        default=EVAL_DIR,
        help=f"the evaluation images (default {EVAL_DIR})",
    )
    ap.add_argument(
        "--packages", nargs="+", default=list(PACKAGES), choices=PACKAGES, metavar="PKG"
    )
    args = ap.parse_args()

    t0 = time.monotonic()
    refs = eval_thumbs(args.eval_dir)
    out = args.out.expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    new.chmod(0o755)
    seen: dict[str, str] = {}
    manifest: list[str] = []
    stats: dict[str, Stats] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="fixative-debs-") as tmp:
            for package in args.packages:
                work = Path(tmp) / package
                work.mkdir()
                root = unpack(package, work)
                cap = args.openclipart if package == SAMPLED else args.per_package
                st = collect(package, root, new, cap, refs, seen, manifest)
                print(f"{package}: kept {st.kept} of {st.found}", flush=True)
                stats[package] = st
                shutil.rmtree(work)
        write_manifest(new, manifest)
        _replace_dir(new, out)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise

    head = ("found", "excluded", "bad size", "unread", "size ok", "dup", "kept")
    print(f"\n{'package':<18}" + "".join(f"{h:>9}" for h in head))
    for package, st in stats.items():
        row = (st.found, st.excluded, st.small, st.unreadable, st.eligible, st.duplicates, st.kept)
        print(f"{package:<18}" + "".join(f"{v:>9}" for v in row))
    print("\nexcluded as an evaluation source or a variant of one:")
    for package, st in stats.items():
        for path, hit in st.by_name:
            print(f"  {package} {path}  ({hit})")
    print(f"excluded as near-duplicates (64x64 grey mean abs diff < {NEAR_DUP}):")
    for package, st in stats.items():
        for path, hit, dist in st.near_dup:
            print(f"  {package} {path}  ({hit}, {dist:.4f})")
    total = sum(f.stat().st_size for f in out.glob("*.png"))
    print(
        f"\n{len(manifest)} images, {total / 2**20:.1f} MiB in {out}"
        f" ({time.monotonic() - t0:.0f} s)"
    )


if __name__ == "__main__":
    main()
