"""fixative.protection.protect: tiling without seams, alpha, bit depth, budget, determinism,
callbacks."""

from __future__ import annotations

import math
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fixative import Cancelled, ProtectSettings, UnsupportedImageError, protect_array
from fixative.protection.model import clear_cache, get_model
from fixative.protection.protect import plan, protect_with

ModelFactory = Callable[..., Path]


def _image(h: int, w: int, c: int, dtype: type, seed: int = 1) -> np.ndarray:
    """Smooth structure plus noise, so the model's output varies across the image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 0.5 + 0.4 * np.sin(xx[..., None] / 17.0 + np.arange(c)) * np.cos(yy[..., None] / 23.0)
    img = np.clip(base + 0.05 * rng.standard_normal((h, w, c)), 0, 1).astype(np.float32)
    if dtype is np.float32:
        return img
    return np.rint(img * np.iinfo(dtype).max).astype(dtype)


@pytest.mark.parametrize("kind", ["conv", "unet"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_tiled_equals_untiled(make_model: ModelFactory, kind: str, dtype: type) -> None:
    model = get_model(make_model(kind=kind), "cpu", None)
    img = _image(301, 517, 3, dtype)
    tiled, rep_t = protect_with(img, model, "high", tile=64)
    whole, rep_w = protect_with(img, model, "high", tile=4096)
    assert rep_t.tiles > 12 and rep_w.tiles == 1
    diff = np.abs(tiled.astype(np.float64) - whole.astype(np.float64))
    if dtype is np.float32:
        assert diff.max() < 1e-6
    else:  # float rounding may move a value across a quantisation boundary, by one code
        assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3


@pytest.mark.parametrize("length", [1, 7, 32, 33, 95, 96, 97, 200, 511, 1000, 4099])
@pytest.mark.parametrize("kind", ["conv", "unet"])
def test_tiling_plan_is_a_partition_of_unity(
    make_model: ModelFactory, length: int, kind: str
) -> None:
    model = get_model(make_model(kind=kind), "cpu", None)
    spec = model.spec
    ax, _ = plan(length, 5, model, tile=96)
    total = np.zeros(ax.padded)
    for s, w in zip(ax.starts, ax.weights, strict=True):
        assert s % spec.size_multiple == 0 and ax.size % spec.size_multiple == 0
        total[s : s + ax.size] += w
    assert ax.padded >= max(length, spec.min_size) and ax.padded % spec.size_multiple == 0
    assert np.allclose(total, 1.0, atol=1e-6)
    for k in range(1, len(ax.starts)):
        overlap = ax.starts[k - 1] + ax.size - ax.starts[k]
        assert overlap >= 2 * spec.receptive_field + 1
        # no weight on the receptive-field margin next to a tile's inner edge
        assert np.all(ax.weights[k][: spec.receptive_field] == 0)
        assert np.all(ax.weights[k - 1][ax.size - spec.receptive_field :] == 0)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_alpha_untouched_and_transparent_pixels_identical(
    make_model: ModelFactory, dtype: type
) -> None:
    model = get_model(make_model(), "cpu", None)
    img = _image(120, 90, 4, dtype)
    top = np.iinfo(dtype).max if dtype is not np.float32 else 1.0
    img[..., 3] = top
    img[:40, :, 3] = 0  # fully transparent band
    img[40:60, :, 3] = top / 2  # half transparent: perturbed like opaque pixels
    out, _ = protect_with(img, model, "high")
    assert out.dtype == img.dtype and out.shape == img.shape
    assert np.array_equal(out[..., 3], img[..., 3])
    assert np.array_equal(out[:40], img[:40])
    assert not np.array_equal(out[40:60, :, :3], img[40:60, :, :3])


@pytest.mark.parametrize("strength", ["low", "medium", "high"])
def test_change_is_within_the_budget(make_model: ModelFactory, strength: str) -> None:
    model = get_model(make_model(kind="scaled"), "cpu", None)  # |3x-1| up to 2: core must clip
    img = _image(64, 80, 3, np.uint8)
    out, rep = protect_with(img, model, strength)
    eps = model.spec.epsilon[strength]
    diff = np.abs(out.astype(np.int32) - img.astype(np.int32)) / 255.0
    assert diff.max() <= eps + 0.5 / 255 + 1e-9
    assert rep.epsilon == pytest.approx(eps)
    assert rep.max_abs_diff == pytest.approx(diff.max())
    mse = np.mean(diff**2)
    assert rep.psnr == pytest.approx(10 * math.log10(1 / mse), rel=1e-6)


def test_strengths_are_ordered(make_model: ModelFactory) -> None:
    model = get_model(make_model(), "cpu", None)
    img = _image(64, 64, 3, np.float32)
    psnr = [protect_with(img, model, s)[1].psnr for s in ("low", "medium", "high")]
    assert psnr[0] > psnr[1] > psnr[2]


def test_16_bit_precision_is_kept(make_model: ModelFactory) -> None:
    model = get_model(make_model(), "cpu", None)
    img = _image(64, 64, 3, np.uint16)
    out, _ = protect_with(img, model, "low")
    diff = out.astype(np.int64) - img.astype(np.int64)
    # an 8-bit round trip would give steps of 257; a 16-bit result has fine steps
    assert np.count_nonzero(diff % 257) > diff.size // 2
    assert np.abs(diff).max() <= round(2 / 255 * 65535) + 1


def test_deterministic_across_sessions(make_model: ModelFactory) -> None:
    path = make_model(kind="unet")
    img = _image(150, 230, 4, np.uint8)
    a, _ = protect_with(img, get_model(path, "cpu", None), "medium", tile=64)
    clear_cache()
    b, _ = protect_with(img, get_model(path, "cpu", 1), "medium", tile=64)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(("h", "w"), [(1, 1), (3, 7), (31, 2), (33, 40)])
def test_images_smaller_than_the_model_minimum(make_model: ModelFactory, h: int, w: int) -> None:
    model = get_model(make_model(), "cpu", None)
    img = _image(h, w, 3, np.uint8)
    out, rep = protect_with(img, model, "high")
    assert out.shape == img.shape and rep.width == w and rep.height == h


def test_protect_array_api_with_settings(conv_model: Path) -> None:
    img = _image(50, 60, 3, np.uint8)
    seen: list[float] = []
    out, rep = protect_array(
        img, ProtectSettings(strength="low"), progress=lambda f, _msg: seen.append(f)
    )
    assert rep.model_id == "test-conv" and rep.strength == "low"
    assert len(rep.model_sha256) == 64 and rep.device == "CPUExecutionProvider"
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    explicit = ProtectSettings(strength="low", model_path=str(conv_model), device="cpu")
    again, _ = protect_array(img, explicit)
    assert np.array_equal(out, again)


def test_cancel_stops_between_tiles(make_model: ModelFactory) -> None:
    model = get_model(make_model(), "cpu", None)
    img = _image(300, 300, 3, np.uint8)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        protect_with(img, model, "medium", tile=64, cancel=cancel)
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("pixels", "needle"),
    [
        (np.zeros((4, 4), np.uint8), "shape"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 3), np.int32), "dtype"),
        (np.full((4, 4, 3), 1.5, np.float32), r"\[0, 1\]"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        ([[1, 2, 3]], "numpy array"),
    ],
)
def test_bad_arrays_are_refused(conv_model: Path, pixels: object, needle: str) -> None:
    with pytest.raises(UnsupportedImageError, match=needle):
        protect_array(pixels)  # type: ignore[arg-type]


def test_memory_stays_bounded(make_model: ModelFactory) -> None:
    """A float32 copy of the whole image would be 4x its size; the bands stay far below."""
    model = get_model(make_model(), "cpu", 2)
    img = _image(64, 64, 3, np.uint8)
    img = np.tile(img, (40, 40, 1))  # 2560 x 2560 x 3 = 19.7 MB
    tracemalloc.start()
    try:
        out, _ = protect_with(img, model, "medium", tile=256)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    extra = peak - out.nbytes
    assert extra < 2 * img.nbytes, f"{extra / 1e6:.1f} MB beyond the output"


def test_views_and_copies_give_the_same_result(make_model: ModelFactory) -> None:
    """Hosts hand over views (bottom-up rows, channel slices); strides must not matter."""
    model = get_model(make_model(), "cpu", None)
    base = _image(70, 90, 4, np.uint8)
    view = base[::-1]  # what a bottom-up host buffer flipped without copying looks like
    a, _ = protect_with(view, model, "medium")
    b, _ = protect_with(np.ascontiguousarray(view), model, "medium")
    assert np.array_equal(a, b)
    wide = np.zeros((70, 90, 5), np.uint8)
    wide[..., :4] = base
    c, _ = protect_with(wide[..., :4], model, "medium")  # non-contiguous channel slice
    d, _ = protect_with(base, model, "medium")
    assert np.array_equal(c, d)
