"""The measures a sceptic reads (`fixative.protection.measures`): colour matching undoes exactly
what a colour correction can and nothing more; SSIM is the textbook formula; noise baselines are
calibrated and repeatable."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fixative.errors import UnsupportedImageError
from fixative.protection import measures


@pytest.fixture
def picture() -> np.ndarray:
    """A smooth, structured RGB picture in [0.1, 0.9] (no clipping under small changes)."""
    y, x = np.mgrid[0:64, 0:80] / 16.0
    rgb = np.stack([np.sin(x) * np.cos(y), np.sin(x + y), np.cos(0.7 * x - y)], axis=-1)
    return 0.5 + 0.4 * rgb


def test_colour_matching_undoes_a_per_channel_affine_change(picture: np.ndarray) -> None:
    tinted = picture * np.array([0.7, 1.1, 0.9]) + np.array([0.05, -0.04, 0.08])
    assert measures.psnr(tinted, picture) < 30
    matched = measures.colour_matched(tinted, picture)
    assert measures.psnr(matched, picture) >= 60
    assert matched.shape == picture.shape and matched.min() >= 0 and matched.max() <= 1


def test_colour_matching_does_not_undo_structure(picture: np.ndarray) -> None:
    shifted = np.roll(picture, 3, axis=1)
    k = np.ones(5) / 5
    blurred = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, picture)
    for changed in (shifted, blurred):
        before = measures.psnr(changed, picture)
        after = measures.psnr(measures.colour_matched(changed, picture), picture)
        assert after < 35 and after - before < 3  # the fit helps a little, never a lot


def test_colour_matching_of_a_flat_channel_is_its_offset(picture: np.ndarray) -> None:
    flat = picture.copy()
    flat[..., 1] = 0.3
    matched = measures.colour_matched(flat, picture)
    assert np.allclose(matched[..., 1], picture[..., 1].mean())


def test_ssim_is_one_for_identical_images_and_falls_for_noise(picture: np.ndarray) -> None:
    assert measures.ssim_luma(picture, picture) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(0)
    small = np.clip(picture + rng.uniform(-0.02, 0.02, picture.shape), 0, 1)
    large = np.clip(picture + rng.uniform(-0.2, 0.2, picture.shape), 0, 1)
    s_small, s_large = measures.ssim_luma(picture, small), measures.ssim_luma(picture, large)
    assert 1 > s_small > s_large > 0


def _ssim_direct(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM written out window by window, straight from the definition."""
    ya, yb = (x[..., :3] @ np.array(measures.LUMA) for x in (a, b))
    k, c1, c2 = 7, 0.01**2, 0.03**2
    values = []
    for i in range(ya.shape[0] - k + 1):
        for j in range(ya.shape[1] - k + 1):
            wa, wb = ya[i : i + k, j : j + k], yb[i : i + k, j : j + k]
            ma, mb = wa.mean(), wb.mean()
            va, vb = wa.var(), wb.var()
            cov = ((wa - ma) * (wb - mb)).mean()
            values.append(
                (2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
            )
    return float(np.mean(values))


def test_ssim_matches_a_direct_computation_on_a_tiny_array() -> None:
    rng = np.random.default_rng(7)
    a = rng.random((9, 11, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    assert measures.ssim_luma(a, b) == pytest.approx(_ssim_direct(a, b), abs=1e-10)


def test_ssim_refuses_too_small_or_mismatched_images() -> None:
    with pytest.raises(UnsupportedImageError, match="at least 7x7"):
        measures.ssim_luma(np.zeros((6, 20, 3)), np.zeros((6, 20, 3)))
    with pytest.raises(UnsupportedImageError, match="cannot compare"):
        measures.ssim_luma(np.zeros((8, 8, 3)), np.zeros((9, 8, 3)))


@pytest.mark.parametrize("levels", [255, 65535, None])
def test_matched_noise_hits_the_psnr_quantised_and_repeatably(
    picture: np.ndarray, levels: int | None
) -> None:
    noise = measures.matched_noise(picture, 42.0, levels=levels)
    assert measures.psnr(noise, picture) == pytest.approx(42.0, abs=0.02)
    if levels is not None:
        assert np.allclose(noise * levels, np.rint(noise * levels), atol=1e-3)
    again = measures.matched_noise(picture, 42.0, levels=levels)
    assert np.array_equal(noise, again)
    other = measures.matched_noise(picture, 42.0, levels=levels, seed=1)
    assert not np.array_equal(noise, other)


def test_matched_noise_of_identical_pixels_is_none(picture: np.ndarray) -> None:
    assert np.array_equal(measures.matched_noise(picture, math.inf), picture.astype(np.float32))


def test_ai_view_figures_and_gaps(picture: np.ndarray) -> None:
    tinted = picture * 0.8 + 0.1  # a pure colour cast: plain PSNR low, colour-matched perfect
    seen = measures.AIView.of(tinted, picture)
    assert seen.psnr < 30 and seen.psnr_colour_matched > 60 and seen.ssim > 0.999
    same = measures.AIView.of(picture, picture)
    assert same.to_dict("noise_") == {
        "noise_ai_view_psnr": None,
        "noise_ai_view_psnr_colour_matched": None,
        "noise_ai_view_ssim": pytest.approx(1.0),
    }
    gaps = measures.gaps(seen, measures.AIView(40.0, 41.0, 0.99))
    assert gaps["ai_view_db_below_noise"] == pytest.approx(40.0 - seen.psnr)
    assert gaps["ai_view_colour_matched_db_below_noise"] == pytest.approx(
        41.0 - seen.psnr_colour_matched
    )
    assert measures.gaps(same, same)["ai_view_db_below_noise"] is None
