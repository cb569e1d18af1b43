"""The evaluation protocols and the benchmark, end to end on one small image (quick settings).

scripts/evaluate.py --protocol trainer (full-size and "4K" versions, default vs native view, read
back as trainers read files), --protocol crops (fast vs thorough vs PGD vs noise at equal PSNR)
and scripts/bench.py: the outputs have the structure the docs are written from, the noise
comparison is computed, every pixel stays within ε, and a killed trainer run resumes.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_image(tmp_path_factory) -> Path:
    """A 96×112 crop of an evaluation clip-art image (texture and lines, "clip_" = clip-art)."""
    from dataset import EVAL_DIR

    with Image.open(EVAL_DIR / "clip_tiger.png") as im:
        crop = im.convert("RGB").crop((150, 150, 246, 262))
    path = tmp_path_factory.mktemp("eval-image") / "clip_small.png"
    crop.save(path)
    return path


def test_trainer_reads_and_noise_units():
    import eval_trainer as et

    h, w, own = et.read_size(4320, 7680, 1024)
    assert not own and h % 8 == 0 and w % 8 == 0
    assert abs(h * w / 1024**2 - 1) < 0.02 and abs(w / h - 16 / 9) < 0.02
    assert et.read_size(418, 403, 1024) == (416, 400, True)  # never enlarged
    img = np.asarray(Image.open(REPO / "data" / "eval" / "clip_park.png").convert("RGB"))
    for canvas in et.CANVASES:
        assert et.build_big(img, (320, 180), canvas).shape == (180, 320, 3)
    noisy = et.matched_noise(img, 41.3, seed=1)
    assert abs(et.psnr_u8(noisy, img) - 41.3) < 0.05
    assert noisy.dtype == np.uint8


def test_trainer_protocol(small_image, tmp_path):
    import evaluate

    out = tmp_path / "trainer.json"
    argv = [
        "--protocol", "trainer", "--image", str(small_image), "--big", "256x144",
        "--default-view", "64", "--resolutions", "96,48", "--modes", "fast,thorough",
        "--steps", "1", "--cache", str(tmp_path / "cache"), "--json", str(out),
        "--md", str(tmp_path / "trainer.md"),
    ]  # fmt: skip
    assert evaluate.main(argv) == 0
    s = json.loads(out.read_text())
    assert s["protocol"] == "trainer" and s["images"] == ["clip_small.png"]
    assert s["computed_cells"] == 8  # 2 sizes × 2 modes × (default, native)
    eps8 = s["epsilon_8bit"]
    assert eps8 == pytest.approx(8.0)
    reads = {f"{r}/{m}" for r in (96, 48) for m in ("box", "bilinear", "bicubic")}
    for c in s["cells"]:
        assert c["within_budget"] and 0 < c["max_abs_diff_8bit"] <= eps8
        assert abs(c["noise_psnr"] - c["psnr"]) < 0.05  # noise of the protected file's PSNR
        assert c["steps"] == 1  # thorough's --steps 1, fast's own one step
        native = (c["view_width"], c["view_height"]) == (c["width"], c["height"])
        assert native == (c["view"] == "native")  # the default view is computed smaller here
        assert set(c["reads"]) == reads
        for r in c["reads"].values():
            assert r["distortion"] > 0 and r["noise_distortion"] > 0
            assert r["ratio_noise"] == pytest.approx(r["distortion"] / r["noise_distortion"])
            assert math.isfinite(r["aiview_psnr"]) and math.isfinite(r["noise_aiview_psnr"])
            assert r["aiview_cm_psnr"] >= r["aiview_psnr"] - 1e-9 and 0 < r["aiview_ssim"] <= 1
            assert r["aiview_cm_gap_noise"] == pytest.approx(
                r["noise_aiview_cm_psnr"] - r["aiview_cm_psnr"]
            )
    assert {(c["width"], c["height"]) for c in s["cells"]} == {(96, 112), (256, 144)}
    assert len(s["groups"]) == 2 * 2 * len(reads)
    for g in s["groups"]:
        assert g["ratio_default_native"] == pytest.approx(
            g["distortion_default"] / g["distortion_native"]
        )
    assert s["budget"]["within_budget"] and s["budget"]["max_abs_diff_8bit"] <= eps8
    assert len(s["timing"]) == 8 and len(s["per_image"]) == 4
    md = (tmp_path / "trainer.md").read_text()
    assert "default / native" in md and "every pixel within ε" in md
    assert (tmp_path / "cache" / "canvas-lanczos-256x144" / "clip_small.png").is_file()

    # A rerun (or a killed run started again) takes every finished cell from the checkpoints.
    assert evaluate.main(argv) == 0
    again = json.loads(out.read_text())
    assert again["computed_cells"] == 0 and again["groups"] == s["groups"]


def test_crops_protocol(small_image, tmp_path):
    import evaluate

    out, grid = tmp_path / "crops.json", tmp_path / "grid.png"
    argv = [
        "--image", str(small_image), "--crop", "64", "--pgd-steps", "2", "--steps", "1",
        "--skip-extra", "--speed-size", "256", "--cache", str(tmp_path / "pgd"), "--json", str(out),
        "--md", str(tmp_path / "crops.md"), "--grid", str(grid),
    ]  # fmt: skip
    # A regenerated table replaces the old one and keeps the hand-written sections below it.
    (tmp_path / "crops.md").write_text(f"old table\n{evaluate.KEEP_BELOW}\nhand-written\n")
    assert evaluate.main(argv) == 0
    md = (tmp_path / "crops.md").read_text()
    assert "old table" not in md and md.endswith(f"{evaluate.KEEP_BELOW}\nhand-written\n")
    s = json.loads(out.read_text())
    m = s["methods"]
    assert set(m) == {
        "generator", "fast", "thorough", "noise", "pgd100", "noise_eqpsnr", "noise_eq_fast",
        "noise_eq_thorough", "universal",
    }  # fmt: skip
    for key, noise in (
        ("generator", "noise_eqpsnr"),
        ("fast", "noise_eq_fast"),
        ("thorough", "noise_eq_thorough"),
    ):
        row = m[key]
        assert row["max_diff8"] <= 8 and row["distortion"] > 0
        assert row["ratio_noise"] == pytest.approx(row["distortion"] / m[noise]["distortion"])
        assert abs(m[noise]["psnr"] - row["psnr"]) < 1.0  # noise rescaled to the same PSNR
        assert row["aiview_noise"] == m[noise]["aiview_psnr"]
        assert row["aiview_cm_noise"] == m[noise]["aiview_cm_psnr"]
        assert row["aiview_ssim_noise"] == m[noise]["aiview_ssim"]
        assert (
            row["aiview_cm_psnr"] >= row["aiview_psnr"] - 1e-9
        )  # the best fit only brings it closer
        assert 0 < row["aiview_ssim"] <= 1
        for k in ("kept_jpeg75", "kept_jpeg85", "kept_resize05", "ssim", "seconds"):
            assert row[k] is not None and row[k] > 0
        assert row["ssim_clip"] == row["ssim"] and row["ssim_wall"] is None
    assert s["thorough_steps"] == 1 and s["thorough"]["ratio_noise_eqpsnr"] > 0
    t = s["thorough"]
    assert t["aiview_cm_gap_noise"] == pytest.approx(
        m["noise_eq_thorough"]["aiview_cm_psnr"] - m["thorough"]["aiview_cm_psnr"]
    )
    assert s["ratio_pgd_eqpsnr"] is None  # --skip-extra: no PGD at equal PSNR
    md = (tmp_path / "crops.md").read_text()
    assert "Fixative thorough" in md and "Targets for thorough" in md
    assert "AI-view PSNR colour-matched" in md and "after colour matching" in md
    # Every family of the core's table, for every mode, by check's own definition.
    from fixative.protection import families

    assert set(s["families"]) == {"generator", "fast", "thorough"}
    for fams in s["families"].values():
        assert list(fams) == list(families.IDS)
        for fig in fams.values():
            assert fig["latent_times_noise"] > 0 and 0 < fig["ai_view_ssim"] <= 1
    assert "## What each model family sees" in md
    for f in families.FAMILIES:
        assert f"{f.name}, {f.autoencoder} dB / ×" in md
    with Image.open(grid) as im:
        # original | generator | fast | thorough | their four AI views | the three protected
        # ones colour-matched
        assert im.size == (11 * 64, 64)


def test_bench_fast_small(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(REPO / "scripts" / "bench.py"), "--sizes", "128x96",
           "--modes", "fast", "--threads", "2", "--json", str(out)]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    (row,) = json.loads(out.read_text())["rows"]
    assert row["protect"]["mode"] == "fast" and row["protect"]["steps"] == 1
    assert row["warm"]["second"] > 0 and row["fresh"] > 0  # in one process, and a fresh one
    assert "fresh `fixative protect`" in run.stdout
    assert row["ratio"] == pytest.approx(row["protect"]["seconds"] / row["plain"]["seconds"])
    assert row["protect"]["max_abs_diff"] <= 8 / 255 + 1e-9
    assert "| 128x96 | 128×96" in run.stdout
