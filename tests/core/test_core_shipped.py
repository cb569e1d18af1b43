"""The shipped model (models/manifest.json) end to end, through the installed `fixative` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "tiger.png"


def fixative(*args: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FIXATIVE_MODEL"}
    return subprocess.run(
        [sys.executable, "-m", "fixative", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((ROOT / "models" / "manifest.json").read_text())


@pytest.fixture(autouse=True)
def _no_env_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIXATIVE_MODEL", raising=False)


def test_info_finds_and_verifies_the_shipped_model(manifest: dict) -> None:
    proc = fixative("info", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    model = json.loads(proc.stdout)["model"]
    entry = manifest["models"][manifest["default"]]
    assert model["model_id"] == entry["model_id"]
    assert model["sha256"] == entry["sha256"] and model["sha256_verified"] is True


def test_cli_protects_the_sample_within_budget(tmp_path: Path) -> None:
    out = tmp_path / "tiger-protected.png"
    proc = fixative("protect", SAMPLE, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["files"][0]
    src = np.asarray(Image.open(SAMPLE).convert("RGB")).astype(np.int32)
    dst_im = Image.open(out)
    dst = np.asarray(dst_im.convert("RGB")).astype(np.int32)
    diff = np.abs(dst - src)
    eps = report["epsilon"]
    assert report["strength"] == "medium" and 0 < eps <= 16 / 255
    assert diff.max() / 255 <= eps + 0.5 / 255 + 1e-9
    assert diff.mean() > 0.05  # the model really changed the picture
    assert report["max_abs_diff"] == pytest.approx(diff.max() / 255)
    assert 25 < report["psnr"] < 60
    assert b"DMI-PROHIBITED-GENAIMLTRAINING" in dst_im.info["xmp"]
    again = tmp_path / "again.png"
    assert fixative("protect", SAMPLE, "-o", again, "-q").returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_shipped_model_tiles_without_seams() -> None:
    from fixative.protection.model import get_model
    from fixative.protection.protect import plan, protect_with

    model = get_model(None, "cpu", None)
    src = np.asarray(Image.open(SAMPLE).convert("RGBA"))
    img = np.concatenate([src, src[:, ::-1]], axis=1)  # 806 x 418
    img = np.concatenate([img, img[::-1]], axis=0)  # 806 x 836
    img[:50, :, 3] = 0
    ax_y, ax_x = plan(img.shape[0], img.shape[1], model, tile=1)
    assert len(ax_y.starts) > 1 and len(ax_x.starts) > 1  # really tiled
    tiled, _ = protect_with(img, model, "high", tile=1)
    whole, _ = protect_with(img, model, "high", tile=4096)
    diff = np.abs(tiled.astype(int) - whole.astype(int))
    assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3
    assert np.array_equal(tiled[..., 3], img[..., 3]) and np.array_equal(tiled[:50], img[:50])


def test_tampered_copy_of_the_shipped_model_is_refused(tmp_path: Path, manifest: dict) -> None:
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(ROOT / "models", folder, ignore=shutil.ignore_patterns("__pycache__"))
    model = folder / manifest["default"]
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, somewhere in the weights
    model.write_bytes(bytes(data))
    env = {**os.environ, "FIXATIVE_MODEL": str(folder)}
    proc = subprocess.run(
        [sys.executable, "-m", "fixative", "protect", str(SAMPLE), "-o", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 1
    assert "damaged or was modified" in proc.stderr and str(model) in proc.stderr
    assert not (tmp_path / "x.png").exists()
