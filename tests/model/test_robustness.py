"""scripts/robustness.py end to end on one small image with two transforms: the table has a row
per transform and the columns of each mode, and every figure is finite (not the values)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def test_robustness_table_shape_and_finite(tmp_path: Path) -> None:
    import robustness

    with Image.open(REPO / "data" / "eval" / "clip_tiger.png") as im:
        im.convert("RGB").crop((150, 150, 246, 262)).save(tmp_path / "clip_small.png")
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    argv = [
        "--image", str(tmp_path / "clip_small.png"), "--crop", "64", "--modes", "fast,thorough",
        "--transforms", "jpeg75,adverse", "--json", str(out), "--md", str(md),
        "--grid", str(tmp_path / "r.png"),
    ]  # fmt: skip
    assert robustness.main(argv) == 0
    s = json.loads(out.read_text())
    assert set(s["modes"]) == {"fast", "thorough"}
    for per in s["modes"].values():
        assert set(per) == {"jpeg75", "adverse"}
        for row in per.values():
            assert set(row) >= {"kept", "aiview_cm_gap", "ssim", "noise_ssim"}
            assert all(isinstance(v, float) and math.isfinite(v) for v in row.values()), row
    lines = [line for line in md.read_text().splitlines() if line.startswith("|")]
    assert len(lines) == 2 + 2  # header, rule, a row per transform
    assert all(line.count("|") == 6 for line in lines)  # transform + 2 columns per mode
    with Image.open(tmp_path / "r.png") as im:
        assert im.size == (2 * 256, 2 * 256)  # a row per mode, a column per transform
