"""The hosts' "what the AI sees" preview (plugins/common/fixative_host/preview.py) with the
shipped ONNX models: the sheet is the core's, in process and through the external Python."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "plugins" / "common"))

import fixative  # noqa: E402
from fixative.image import pixels as px  # noqa: E402
from fixative.protection import families, preview  # noqa: E402
from fixative_host import HostCancelled, HostError, RawImage, choices  # noqa: E402
from fixative_host.preview import run_preview  # noqa: E402

SETTINGS = choices.protect_settings(
    strength="medium", mode="fast", view="auto", steps=0, declarations=True
)


def picture(h: int = 96, w: int = 128) -> np.ndarray:
    """Smooth colour with texture and a transparent strip (RGBA uint8)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], axis=2)
    rgb = np.clip(rgb + rng.integers(-20, 21, rgb.shape), 0, 255).astype(np.uint8)
    alpha = np.full((h, w, 1), 255, np.uint8)
    alpha[:, :10] = 0
    return np.ascontiguousarray(np.concatenate([rgb, alpha], axis=2))


def as_array(raw: RawImage) -> np.ndarray:
    assert (raw.channels, raw.sample) == (3, "u8")
    return np.frombuffer(raw.data, np.uint8).reshape(raw.height, raw.width, 3)


def expected_sheet(pixels: np.ndarray) -> np.ndarray:
    protected, _ = fixative.protect_array(pixels, fixative.ProtectSettings.from_dict(SETTINGS))
    return preview.sheet(pixels, protected)


def test_preview_is_the_cores_sheet_in_process_and_external() -> None:
    pixels = picture()
    raw = RawImage(pixels.tobytes(), 128, 96, 4, "u8")
    seen: list[tuple[float, str]] = []
    inside = as_array(run_preview(raw, SETTINGS, progress=lambda f, m: seen.append((f, m))))
    expected = expected_sheet(pixels)
    assert np.array_equal(inside, expected)
    # A column per family beside the picture's, original above protected, at the preview's
    # view (a 128x96 picture is its own view), gaps between, headings on top.
    top, n = preview.label_height(128), 1 + len(families.FAMILIES)
    assert inside.shape == (top + 2 * 96 + preview.GAP, n * 128 + (n - 1) * preview.GAP, 3)
    assert seen and seen[-1] == (1.0, "what the AI sees")
    assert all(0.0 <= f <= 1.0 for f, _ in seen)
    # The protected panel differs from the original, and so do the AI's reconstructions.
    for k in range(n):
        column = inside[top:, k * (128 + preview.GAP) :][:, :128]
        assert not np.array_equal(column[:96], column[96 + preview.GAP :]), k

    outside = run_preview(raw, SETTINGS, python=sys.executable, external=True)
    assert np.array_equal(as_array(outside), inside)


def test_preview_flattens_when_the_format_has_no_alpha() -> None:
    pixels = picture(64, 64)
    raw = RawImage(pixels.tobytes(), 64, 64, 4, "u8")
    flat = as_array(run_preview(raw, SETTINGS, keep_alpha=False))
    assert np.array_equal(flat, expected_sheet(px.flatten_alpha(pixels)))
    top = preview.label_height(64)  # below the headings: the picture's own panels
    assert flat[top:, :8].min() > 230  # the transparent strip shows white, as the JPEG will


def test_preview_cancel_and_errors_are_messages(tmp_path: Path) -> None:
    raw = RawImage(picture(32, 32).tobytes(), 32, 32, 4, "u8")
    with pytest.raises(HostCancelled):
        run_preview(raw, SETTINGS, cancel=lambda: True)
    with pytest.raises(HostCancelled):
        run_preview(raw, SETTINGS, python=sys.executable, external=True, cancel=lambda: True)
    with pytest.raises(HostError, match="strength"):
        run_preview(raw, {**SETTINGS, "strength": "huge"})
    with pytest.raises(HostError, match="strength"):
        run_preview(raw, {**SETTINGS, "strength": "huge"}, python=sys.executable, external=True)
    with pytest.raises(HostError, match="Cannot start the external Python"):
        run_preview(raw, SETTINGS, python=str(tmp_path / "nope"), external=True)
    with pytest.raises(HostError, match="No external Python"):
        run_preview(raw, SETTINGS, external=True)
