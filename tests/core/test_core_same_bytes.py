"""Every way into the core writes the same bytes for the same image and settings.

The library's `protect_file`, its array API (`protect_array` + `write_image`), the CLI and the
host glue (`fixative_host.runner`, as Krita, GIMP and Blender call it) are separate paths over
one reader, one engine and one writer: a refactor that makes one of them drift shows here.
Shipped models, the generator alone (the engine is deterministic; the stepped modes take the
same paths).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixative import ProtectSettings, protect_array, protect_file, read_image, write_image
from PIL import Image, PngImagePlugin

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "plugins" / "common"))

from fixative_host.raw import RawImage  # noqa: E402
from fixative_host.runner import ExportJob, execute  # noqa: E402

GEN = ProtectSettings(mode="generator")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def art(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """An RGBA crop of the sample with a fully transparent strip (kept bit-exact)."""
    rgba = np.asarray(Image.open(REPO / "samples" / "tiger.png").convert("RGBA"))[:96, :128]
    rgba = rgba.copy()
    rgba[:, :16, 3] = 0
    return rgba


@pytest.mark.parametrize("fmt", ["png", "tiff", "webp", "jpeg"])
def test_library_cli_and_host_glue_agree(art: np.ndarray, tmp_path: Path, fmt: str) -> None:
    pixels = art[..., :3].copy() if fmt == "jpeg" else art
    src = tmp_path / "src.png"
    Image.fromarray(pixels).save(src)
    quality = 80 if fmt in ("jpeg", "webp") else None
    ext = {"png": "png", "tiff": "tif", "webp": "webp", "jpeg": "jpg"}[fmt]

    by_file = tmp_path / f"file.{ext}"
    protect_file(src, by_file, GEN, quality=quality)

    by_array = tmp_path / f"array.{ext}"
    protected, _ = protect_array(read_image(src).pixels, GEN)
    write_image(by_array, protected, fmt=fmt, settings=GEN, quality=quality)

    by_cli = tmp_path / f"cli.{ext}"
    argv = ["protect", str(src), "-o", str(by_cli), "--mode", "generator", "-q"]
    if quality:
        argv += ["--quality", str(quality)]
    subprocess.run([sys.executable, "-m", "fixative", *argv], check=True, timeout=300)

    by_host = tmp_path / f"host.{ext}"
    channels = pixels.shape[2]
    raw = RawImage(pixels.tobytes(), pixels.shape[1], pixels.shape[0], channels, "u8")
    execute(raw, ExportJob(str(by_host), fmt, GEN.to_dict(), quality=quality), None, None)

    digests = {p.name: _digest(p) for p in (by_file, by_array, by_cli, by_host)}
    assert len(set(digests.values())) == 1, digests


def test_source_metadata_given_by_hand_gives_the_same_file(art: np.ndarray, tmp_path: Path) -> None:
    # A text chunk: protect_file carries the source's; an adapter passes it to write_image.
    src = tmp_path / "src.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "Tiger")
    Image.fromarray(art).save(src, pnginfo=info)
    protect_file(src, tmp_path / "file.png", GEN)
    protected, _ = protect_array(art, GEN)
    text = {"Title": "Tiger"}
    write_image(tmp_path / "array.png", protected, fmt="png", settings=GEN, text=text)
    assert _digest(tmp_path / "file.png") == _digest(tmp_path / "array.png")
