"""Small inputs and readers shared by the batch tests (local engine and Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_images(folder: Path, count: int, *, size: tuple[int, int] = (96, 80)) -> list[Path]:
    """`count` noise PNGs art0.png, art1.png, ... (distinct, reproducible)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"art{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def corrupt(path: Path) -> Path:
    """A file with a PNG signature and nothing readable after it."""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    return path


def outputs(out: Path) -> dict[str, bytes]:
    """The files of a folder (not its sub-folders) by name."""
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
