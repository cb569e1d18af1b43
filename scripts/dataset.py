"""The fixed train/evaluation split of the development images, and the training-data digest.

Evaluation images are never trained on. The split is by file name, fixed here, so every script and
every run agrees on it. The evaluation images are committed in `data/eval/` (with their sources
and licences); the training images come from a data folder given to the training scripts, by
default the development set beside the clone, which holds the evaluation images too (skipped).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
EVAL_DIR = REPO / "data" / "eval"
# Training default only (a development machine's image set); tests and evaluation never read it.
DEV_DIR = REPO.parent / "shared" / "data" / "dev"
# Extra training images from Debian packages (scripts/fetch_training_data.py fills it).
EXTRA_DIR = Path(
    os.environ.get("FIXATIVE_TRAIN_EXTRA")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fixative" / "train-extra"
).expanduser()
MANIFEST = "manifest.txt"

# Five clip-art images (flat colour and line art: where visibility matters most), three wallpapers.
EVAL_IMAGES = (
    "clip_tiger.png",
    "clip_sunflower.png",
    "clip_park.png",
    "clip_set_gatti.png",
    "clip_caterpillar.png",
    "gnome_wood-d.png",
    "gnome_dune-l.png",
    "debian_homeworld.png",
)
CLIP_PREFIX = "clip_"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def eval_files(eval_dir: Path = EVAL_DIR) -> list[Path]:
    """The evaluation images, in `EVAL_IMAGES` order; every one must be there."""
    eval_dir = Path(eval_dir)
    missing = [n for n in EVAL_IMAGES if not (eval_dir / n).is_file()]
    if missing:
        msg = f"evaluation images missing from {eval_dir}: {missing}"
        raise FileNotFoundError(msg)
    return [eval_dir / n for n in EVAL_IMAGES]


def train_files(data_dir: Path = DEV_DIR) -> list[Path]:
    """The PNGs of a training data folder, sorted, without any named like an evaluation image."""
    data_dir = Path(data_dir)
    files = [f for f in sorted(data_dir.glob("*.png")) if f.name not in EVAL_IMAGES]
    if not files:
        msg = f"no training images in {data_dir} (give the training data folder with --data)"
        raise FileNotFoundError(msg)
    return files


def split(data_dir: Path = DEV_DIR) -> tuple[list[Path], list[Path]]:
    """(train, eval) file lists; disjoint by construction."""
    return train_files(data_dir), eval_files()


def extra_train_files(extra_dir: Path = EXTRA_DIR) -> list[Path]:
    """The extra training PNGs listed in `extra_dir`/manifest.txt, sorted; [] if no such folder.

    A folder without its manifest (an interrupted fetch) or missing a listed file is an error.
    """
    extra_dir = Path(extra_dir)
    if not extra_dir.is_dir():
        return []
    manifest = extra_dir / MANIFEST
    if not manifest.is_file():
        msg = f"{extra_dir} has no {MANIFEST}: run scripts/fetch_training_data.py"
        raise FileNotFoundError(msg)
    files = []
    for line in manifest.read_text().splitlines():
        if not line.strip():
            continue
        name = line.split(maxsplit=1)[0]
        if name in EVAL_IMAGES or Path(name).name != name:
            msg = f"{manifest}: refusing entry {name!r}"
            raise ValueError(msg)
        path = extra_dir / name
        if not path.is_file():
            msg = f"{path} is listed in {manifest} but missing"
            raise FileNotFoundError(msg)
        files.append(path)
    return sorted(files)


def data_digest(files: list[Path]) -> str:
    """sha256 over the sorted 'name sha256' lines of the training files."""
    lines = sorted(f"{f.name} {_sha256(f)}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def load_rgb(path: Path) -> np.ndarray:
    """HxWx3 float32 in [0,1]; transparent pixels composited onto white."""
    with Image.open(path) as im:
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        rgb = Image.alpha_composite(bg, im).convert("RGB")
    return np.asarray(rgb, dtype=np.float32) / 255.0


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    size = min(size, h, w) // 8 * 8
    top, left = (h - size) // 2, (w - size) // 2
    return img[top : top + size, left : left + size]
