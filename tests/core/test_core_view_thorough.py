"""The AI's view and thorough mode, through the shipped generator and the shipped TAEF2 graphs.

A small image is its own view, a large one is computed smaller and enlarged; the budget, alpha,
16-bit and determinism hold on both paths; thorough mode's refinement stays inside the texture
mask's per-pixel budget, leaves no seam at its tile borders, reports progress per step and
tile and honours cancel between them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixative import Cancelled, ProtectSettings, protect_array
from fixative.protection import refine as rf
from fixative.protection import view as vw
from fixative.protection.graphs import get_graph, latent_distortion
from fixative.protection.model import get_model
from fixative.protection.protect import protect_with
from fixative.protection.settings import MODE_TABLE
from PIL import Image

EVAL = Path(__file__).resolve().parents[2] / "data" / "eval"


@pytest.fixture(scope="module")
def shipped():
    return get_model(None, "cpu", None)


def _picture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A painting-like RGB uint8 image: smooth colour fields, strokes and some fine texture."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    strokes = 40 * np.sin(xx / 7.0 + yy / 11.0)[..., None] * (xx % 97 < 48)[..., None]
    grain = rng.normal(0, 6, (h, w, 3))
    return np.clip(base + strokes + grain, 0, 255).astype(np.uint8)


# --- the view -------------------------------------------------------------------------------


def test_plan_small_is_its_own_view_large_is_about_one_megapixel():
    assert vw.plan(1000, 1000, "auto").native
    big = vw.plan(2160, 3840, "auto")
    assert not big.native
    assert big.view_height % 8 == 0 and big.view_width % 8 == 0
    assert 0.9e6 < big.view_height * big.view_width < 1.1e6
    assert abs(big.view_width / big.view_height - 3840 / 2160) < 0.02
    assert vw.plan(2160, 3840, "native").native
    assert vw.plan(2160, 3840, 512).view_height * vw.plan(2160, 3840, 512).view_width < 0.3e6
    assert vw.plan(8, 200000, "auto").native  # no smaller view fits on the short side


@pytest.mark.parametrize("bad", ["huge", 10, -5, True, None, 3.5])
def test_view_setting_refuses_bad_values(bad):
    with pytest.raises(ValueError, match="view"):
        ProtectSettings(view=bad)


def test_enlarged_bands_join_like_one_resize():
    rng = np.random.default_rng(0)
    unit = rng.uniform(-1, 1, (3, 96, 160)).astype(np.float32)
    v = vw.View(301, 499, 96, 160)
    bands = list(vw.enlarge_rows(unit, v, band=37))
    assert [b[0] for b in bands] == list(range(0, 301, 37))
    whole = np.concatenate([b[2] for b in bands], axis=1)
    one = np.concatenate([b[2] for b in vw.enlarge_rows(unit, v, band=1000)], axis=1)
    assert whole.shape == (3, 301, 499)
    assert np.abs(whole - one).max() < 1e-4
    assert np.abs(whole).max() <= 1.0


def test_small_image_generator_is_byte_identical_to_native(shipped):
    img = _picture(200, 260)
    auto, rep = protect_with(img, shipped, "medium", view="auto")
    native, _ = protect_with(img, shipped, "medium", view="native")
    assert np.array_equal(auto, native)
    assert (rep.view_width, rep.view_height) == (260, 200)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_large_image_is_computed_at_the_view_within_budget(shipped, dtype):
    img8 = _picture(1200, 1500, seed=1)
    rgba = np.dstack([img8, np.full(img8.shape[:2], 255, np.uint8)])
    rgba[:100, :, 3] = 0  # a transparent band keeps its exact colour
    rgba[100:200, :, 3] = 128
    scale = {"uint8": 1, "uint16": 257, "float32": 1 / 255}[dtype]
    img = (rgba.astype(np.float64) * scale).astype(dtype)
    out, rep = protect_with(img, shipped, "high", view="auto")
    assert out.dtype == img.dtype and out.shape == img.shape
    assert (rep.view_width, rep.view_height) != (1500, 1200)
    assert 0.9e6 < rep.view_width * rep.view_height < 1.1e6
    full = {"uint8": 255, "uint16": 65535, "float32": 1.0}[dtype]
    diff = np.abs(out[..., :3].astype(np.float64) - img[..., :3].astype(np.float64)) / full
    eps = shipped.spec.epsilon["high"]
    assert diff.max() <= eps + 0.5 / full + 1e-6
    assert rep.max_abs_diff <= eps + 0.5 / full + 1e-6
    assert diff.mean() > eps / 20  # the enlarged perturbation is really applied
    assert np.array_equal(out[..., 3], img[..., 3])
    assert np.array_equal(out[:100], img[:100])
    if dtype == "uint16":  # 16-bit precision kept: not just 8-bit steps
        assert (
            np.count_nonzero((out[..., :3].astype(np.int64) - img[..., :3]) % 257) > diff.size // 4
        )
    again, _ = protect_with(img, shipped, "high", view="auto")
    assert np.array_equal(out, again)


def _mosaic(names: list[str], cell: tuple[int, int]) -> np.ndarray:
    """Evaluation images (unseen by training) enlarged into a 2×2 mosaic, like a large export."""
    w, h = cell
    canvas = Image.new("RGB", (2 * w, 2 * h))
    for i, name in enumerate(names):
        with Image.open(EVAL / name) as im:
            canvas.paste(im.convert("RGB").resize(cell, Image.LANCZOS), ((i % 2) * w, (i // 2) * h))
    return np.asarray(canvas)


def test_view_keeps_more_effect_where_the_ai_reads(shipped):
    """Read back at the trainer's ~1 MP, the view's protection distorts the encoder at least as
    much as native-size protection of the same file (README "The view" has the full figures)."""
    names = ["clip_tiger.png", "clip_park.png", "gnome_wood-d.png", "gnome_dune-l.png"]
    img = _mosaic(names, (1024, 768))
    auto, rep_a = protect_with(img, shipped, "medium", view="auto")
    native, _ = protect_with(img, shipped, "medium", view="native")
    size = (rep_a.view_width, rep_a.view_height)

    def read(a):
        return np.asarray(Image.fromarray(a).resize(size, Image.BICUBIC), np.float32) / 255

    d_auto = latent_distortion(read(img), read(auto))
    d_native = latent_distortion(read(img), read(native))
    assert d_auto >= d_native


# --- thorough mode --------------------------------------------------------------------------


def test_steps_beat_the_generator_within_the_mask_budget(shipped):
    """Fast (one step) and thorough (three) move the encoder far more than the generator alone;
    each stays inside ε times the clean image's texture mask."""
    img = _picture(256, 320, seed=3)
    gen, rep_g = protect_with(img, shipped, "medium", view="auto", mode="generator")
    fast, rep_f = protect_with(img, shipped, "medium", view="auto", mode="fast")
    thorough, rep_t = protect_with(img, shipped, "medium", view="auto", mode="thorough", steps=3)
    assert [(r.mode, r.steps) for r in (rep_g, rep_f, rep_t)] == [
        ("generator", 0),
        ("fast", MODE_TABLE["fast"].steps),
        ("thorough", 3),
    ]
    x = img.astype(np.float32) / 255
    d_gen = latent_distortion(x, gen.astype(np.float32) / 255)
    d_fast = latent_distortion(x, fast.astype(np.float32) / 255)
    d_thorough = latent_distortion(x, thorough.astype(np.float32) / 255)
    assert d_thorough > 1.2 * d_gen and d_fast > 1.2 * d_gen
    # The per-pixel budget is ε times the texture mask of the clean image.
    (mask,) = get_graph("texture_mask", "cpu").run(
        image=np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    )
    eps = shipped.spec.epsilon["medium"]
    for out in (fast, thorough):
        change = np.abs(out.astype(np.float64) - img).max(axis=2) / 255
        assert np.all(change <= eps * mask[0, 0] + 0.5 / 255 + 1e-6)
    again, _ = protect_with(img, shipped, "medium", view="auto", mode="thorough", steps=3)
    assert np.array_equal(thorough, again)


def test_refinement_tiles_leave_no_seam(monkeypatch):
    monkeypatch.setattr(rf, "TILE", 192)  # several tiles on a small view
    monkeypatch.setattr(rf, "UNTILED_PIXELS", 0)
    img = _picture(320, 352, seed=4).astype(np.float32) / 255
    tiles = rf._axis_tiles(352)
    assert len(tiles) >= 2
    rng = np.random.default_rng(7)
    coarse = rng.uniform(-0.3, 0.3, (3, 10, 11)).astype(np.float32)
    unit = np.stack(
        [np.asarray(Image.fromarray(c, "F").resize((352, 320), Image.BICUBIC)) for c in coarse]
    )  # a smooth start, like the generator's, with no pattern of its own at tile borders
    u = rf.refine(img, unit, 8 / 255, steps=2, device="cpu")
    assert u.shape == (3, 320, 352)
    # Column-to-column change of the perturbation across each tile border, against the columns
    # around it of the same parity (half-size steps move 2×2 blocks, so parity matters).
    jump = np.abs(np.diff(u, axis=2)).mean(axis=(0, 1))
    for _core0, core1, _r0, _r1 in tiles[:-1]:
        b = core1 - 1  # diff index between the last column of one tile and the next's first
        around = np.r_[jump[b - 10 : b : 2], jump[b + 2 : b + 12 : 2]]
        assert jump[b] < 1.5 * around.mean(), (b, jump[b], around.mean())


def test_fast_is_one_untiled_step_at_a_small_view(shipped, monkeypatch):
    """Fast mode on a ~1 MP picture: the generator plus one step, computed whole at about
    512×512 (no tiles, one pass for the targets), opening no half-size gradient; within ε."""
    img = _picture(900, 1200, seed=8)
    opened: list[str] = []
    tiles: list[int] = []
    real_graph, real_tiles = rf.get_graph, rf._axis_tiles

    def graph(role, *args, **kwargs):
        opened.append(role)
        return real_graph(role, *args, **kwargs)

    def axis(*args, **kwargs):
        found = real_tiles(*args, **kwargs)
        tiles.append(len(found))
        return found

    monkeypatch.setattr(rf, "get_graph", graph)
    monkeypatch.setattr(rf, "_axis_tiles", axis)
    out, rep = protect_with(img, shipped, "medium", view="auto", mode="fast")
    assert (rep.mode, rep.steps) == ("fast", MODE_TABLE["fast"].steps) == ("fast", 1)
    assert 0.2e6 < rep.view_width * rep.view_height < 0.3e6
    assert tiles == [1, 1]  # one tile along each axis: the view in one piece
    assert "encoder_grad" not in opened and "view_grad" in opened
    eps = shipped.spec.epsilon["medium"]
    assert np.abs(out.astype(np.float64) - img).max() / 255 <= eps + 0.5 / 255 + 1e-6


def test_thorough_reports_progress_per_step_and_tile_and_cancels(shipped):
    img = _picture(200, 200, seed=5)
    seen: list[tuple[float, str]] = []
    protect_with(
        img, shipped, "medium", mode="thorough", steps=2, progress=lambda f, m: seen.append((f, m))
    )
    messages = [m for _, m in seen]
    assert any("step 1/2, tile 1/" in m for m in messages)
    assert any("step 2/2, tile 1/" in m for m in messages)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

    seen2: list[tuple[float, str]] = []

    def cancel() -> bool:  # asked between tiles and steps: stop once step 1 has begun
        return any("step 1/2" in m for _, m in seen2)

    with pytest.raises(Cancelled):
        protect_with(
            img,
            shipped,
            "medium",
            mode="thorough",
            steps=2,
            progress=lambda f, m: seen2.append((f, m)),
            cancel=cancel,
        )
    assert not any("step 2/2" in m for _, m in seen2)


def test_protect_array_defaults_to_thorough_at_the_view():
    img = _picture(64, 72, seed=6)
    _, rep = protect_array(img, ProtectSettings(device="cpu"))
    assert rep.mode == "thorough" and rep.steps == rf.DEFAULT_STEPS
    assert (rep.view_width, rep.view_height) == (72, 64)


def test_half_blur_box_is_a_local_mean():
    """The counter-measure's box (refine.HALF_BLUR, off): a 3×3 mean that keeps a flat image."""
    rng = np.random.default_rng(9)
    x = rng.random((1, 3, 12, 14), dtype=np.float32)
    out = rf._box(x, 1)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.isclose(out[0, 1, 5, 6], x[0, 1, 4:7, 5:8].mean())
    flat = np.full_like(x, 0.3)
    assert np.allclose(rf._box(flat, 1), 0.3) and rf._box(x, 0) is x
