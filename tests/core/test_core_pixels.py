"""fixative.image.pixels: the array contract and exact conversions."""

from __future__ import annotations

import numpy as np
import pytest
from fixative import UnsupportedImageError
from fixative.image import pixels as px


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_round_trip_is_exact(dtype: type) -> None:
    top = np.iinfo(dtype).max
    values = np.arange(0, top + 1, max(1, top // 4096), dtype=dtype)
    arr = np.stack([values, values[::-1], values], axis=-1)[None]
    back = px.from_unit(px.to_unit(arr), np.dtype(dtype))
    assert back.dtype == dtype and np.array_equal(back, arr)


def test_float_passthrough_and_clipping() -> None:
    arr = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    assert np.array_equal(px.from_unit(px.to_unit(arr), np.dtype(np.float32)), arr)
    out = px.from_unit(np.array([[[-0.1, 0.2, 1.3]]], np.float32), np.dtype(np.uint8))
    assert out.tolist() == [[[0, 51, 255]]]


def test_to_unit_ignores_alpha_and_copies() -> None:
    arr = np.full((2, 2, 4), 255, np.uint8)
    rgb = px.to_unit(arr)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.float32 and np.all(rgb == 1.0)
    rgb[:] = 0
    assert np.all(arr == 255)


def test_check_names_the_source() -> None:
    with pytest.raises(UnsupportedImageError, match=r"^layer 1: pixel dtype int16"):
        px.check(np.zeros((2, 2, 3), np.int16), "layer 1")
    px.check(np.zeros((1, 1, 4), np.float32))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32"])
def test_flatten_alpha_is_over_white(dtype: str) -> None:
    peak = px.scale(np.dtype(dtype))
    rgba = np.zeros((1, 3, 4), np.float64)
    rgba[0, :, :3] = 0.2 * peak
    rgba[0, :, 3] = (0.0, 0.5 * peak, peak)
    flat = px.flatten_alpha(rgba.astype(dtype))
    assert flat.shape == (1, 3, 3) and flat.dtype == np.dtype(dtype)
    want = np.array([1.0, 0.6, 0.2]) * peak  # clear -> white, half -> halfway, opaque -> itself
    assert np.allclose(flat[0, :, 0], want, atol=1.0 if dtype != "float32" else 1e-6)
    rgb = rgba[..., :3].astype(dtype)
    assert px.flatten_alpha(rgb) is rgb
