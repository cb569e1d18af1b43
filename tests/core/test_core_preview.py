"""The "what the AI sees" preview: each model family's shipped encoder-decoder reconstructions
of the original and the protected picture, as a library call and as `fixative protect
--preview`."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixative import ProtectSettings, UnsupportedImageError, protect_array
from fixative.protection import families
from fixative.protection.preview import GAP, ai_view, column_labels, label_height, preview, sheet
from PIL import Image

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "tiger.png"


@pytest.fixture(scope="module")
def tiger() -> np.ndarray:
    with Image.open(SAMPLE) as im:
        return np.asarray(im.convert("RGB"))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def test_ai_view_is_a_faithful_reconstruction_at_a_small_view(tiger):
    recon = ai_view(tiger, side=256)
    assert recon.dtype == np.uint8 and recon.shape[2] == 3
    assert recon.shape[0] % 8 == 0 and recon.shape[1] % 8 == 0
    assert 0.8 * 256**2 < recon.shape[0] * recon.shape[1] <= 256**2
    small = np.asarray(Image.fromarray(tiger).resize(recon.shape[1::-1], Image.BICUBIC))
    assert _psnr(recon, small) > 20  # TAEF2 reconstructs, it does not paint noise


def test_thorough_moves_what_the_ai_sees_more_than_fast(tiger):
    fast, _ = protect_array(tiger, ProtectSettings(mode="fast", device="cpu"))
    thorough, _ = protect_array(tiger, ProtectSettings(mode="thorough", steps=2, device="cpu"))
    same_o, same_p = preview(tiger, tiger.copy(), side=256)
    assert np.array_equal(same_o, same_p)
    ai_o, ai_fast = preview(tiger, fast, side=256)
    _, ai_thorough = preview(tiger, thorough, side=256)
    assert _psnr(ai_thorough, ai_o) < _psnr(ai_fast, ai_o) < 99


def test_sheet_has_a_labelled_column_per_family_and_refuses_a_size_mismatch(tiger):
    protected, _ = protect_array(tiger, ProtectSettings(mode="fast", device="cpu"))
    out = sheet(tiger, protected, side=128)
    h, w = ai_view(tiger, side=128).shape[:2]
    top, n = label_height(w), 1 + len(families.FAMILIES)
    assert out.shape == (top + 2 * h + GAP, n * w + (n - 1) * GAP, 3)
    assert np.all(out[top:, w : w + GAP] == 255)  # white gaps between the panels
    for k, family in enumerate(families.FAMILIES, start=1):
        x = k * (w + GAP)
        upper, lower = out[top : top + h, x : x + w], out[top + h + GAP :, x : x + w]
        want_o, want_p = preview(tiger, protected, side=128, family=family)
        assert np.array_equal(upper, want_o) and np.array_equal(lower, want_p), family.id
        heading = out[:top, x : x + w]
        assert heading.min() < 100, f"{family.id}: no label drawn"  # dark text on white
    headings = [out[:top, k * (w + GAP) : k * (w + GAP) + w] for k in range(n)]
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(headings))
    labels = column_labels()
    assert [first for first, _ in labels[1:]] == [
        f"what {f.short} sees ({f.autoencoder})" for f in families.FAMILIES
    ]
    assert labels[1][1] == "the protection aims here" and families.FAMILIES[0].target
    with pytest.raises(UnsupportedImageError, match="differ in size"):
        preview(tiger, tiger[:-8], side=128)


def test_each_family_sees_its_own_reconstruction(tiger):
    views = [ai_view(tiger, side=128, family=f) for f in families.FAMILIES]
    assert views[0].shape == views[1].shape == views[2].shape
    assert not np.array_equal(views[0], views[1]) and not np.array_equal(views[0], views[2])


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fixative", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_writes_the_preview_with_the_declarations(tmp_path):
    out, prev = tmp_path / "out.png", tmp_path / "ai.png"
    proc = _cli("protect", SAMPLE, "-o", out, "--mode", "fast", "--preview", prev, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    [row] = [f for f in report["files"] if f.get("status") == "protected"]
    assert row["preview"] == str(prev)
    with Image.open(prev) as im:
        # a column per family beside the picture's, two rows (original, protected)
        assert im.format == "PNG" and 1.5 * im.height < im.width < 2.5 * im.height
        xmp = im.info.get("XML:com.adobe.xmp", "")
    assert "DMI-PROHIBITED-GENAIMLTRAINING" in xmp


def test_cli_preview_needs_one_input(tmp_path):
    other = tmp_path / "b.png"
    Image.open(SAMPLE).save(other)
    proc = _cli("protect", SAMPLE, other, "--out-dir", tmp_path, "--preview", tmp_path / "p.png")
    assert proc.returncode == 2
    assert "--preview needs exactly one input" in proc.stderr
