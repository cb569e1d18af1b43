"""The AI's view of an image: the smaller copy on which the perturbation is computed.

Trainers and img2img front-ends never read a published picture at its native size: they
downscale it to 0.25-1 MP first (kohya-ss, diffusers, ai-toolkit, OneTrainer; docs/how-it-works.md).
Fixative computes its perturbation there, on an antialiased downscale of about 1 MP, and enlarges
the unit perturbation smoothly back to the native size, where the budget ε is applied. An image at
or below the view's size is its own view. Cost is then about 1 MP of model work whatever the file's
size, and the perturbation is aimed at the scale the encoder actually sees.

Both resamplings run one colour channel at a time through Pillow's float ("F") resampler, and
the enlargement runs in bands of rows, so beyond the input and output arrays memory stays one
full-size float channel for the downscale and one band for the enlargement.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SettingsError

if TYPE_CHECKING:
    import numpy as np

AUTO = "auto"
NATIVE = "native"
DEFAULT_SIDE = 1024  # "resolution 1024": the ~1 MP FLUX- and SDXL-class models train at
MIN_SIDE = 64
# What each view means, in the words the CLI and every host show: (label, one-line help).
VIEW_HELP = {
    AUTO: (
        "Auto (~1 MP)",
        "compute the protection at about 1 megapixel, the size AI trainers and img2img tools "
        "downscale pictures to",
    ),
    NATIVE: ("Native size", "compute the protection at the file's own size (slower on big files)"),
}
BAND_ROWS = 256  # rows per band of the enlargement
# Measured with `python scripts/sweep_view.py` (two 4K mosaics of evaluation images, fast mode;
# TAEF2 latent distortion read back at 1360x768 bicubic / box and 680x384 bilinear): bicubic
# enlargement 0.505 / 0.508 / 0.371 at 42.2 dB, Lanczos the same with wider taps (0.505 / 0.507 /
# 0.370), bilinear 0.501 / 0.503 / 0.368; native-size protection 0.408 / 0.415 / 0.269. The
# texture mask is re-applied at native size (`protect.NATIVE_MASK`): the view's own mask measured
# about the same there (0.510 / 0.513 / 0.374 at 42.0 dB), and visibility is judged at the file's
# size, where fine grain that hides the perturbation would average out in the view.
UP_FILTER = "bicubic"
DOWN_FILTER = "bicubic"  # antialiased (Pillow widens the kernel by the scale), as ai-toolkit


def parse(view: object) -> str | int:
    """A view setting: 'auto', 'native', or an int N (a view of about N×N pixels)."""
    if isinstance(view, bool):
        msg = f"view must be 'auto', 'native' or a side in pixels, not {view!r}"
        raise SettingsError(msg)
    if isinstance(view, str) and view.strip().lower() in (AUTO, NATIVE):
        return view.strip().lower()
    try:
        side = int(view)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        msg = f"view must be 'auto', 'native' or a side in pixels, not {view!r}"
        raise SettingsError(msg) from None
    if side < MIN_SIDE:
        msg = f"view side must be at least {MIN_SIDE} pixels, not {side}"
        raise SettingsError(msg)
    return side


@dataclass(frozen=True)
class View:
    """Native (height, width) and the view's (height, width); `native` when they are the same."""

    height: int
    width: int
    view_height: int
    view_width: int

    @property
    def native(self) -> bool:
        return (self.view_height, self.view_width) == (self.height, self.width)

    @property
    def scale(self) -> float:
        """Linear factor from native to view (1.0 for a native view)."""
        return math.sqrt(self.view_height * self.view_width / (self.height * self.width))


def plan(height: int, width: int, view: str | int, multiple: int = 8) -> View:
    """The view of a height×width image for a view setting (see `parse`).

    A larger image is scaled so that its area is about side² (aspect kept, sides multiples of
    `multiple`, each at least `multiple`); an image whose area is at most side² is its own view.
    """
    setting = parse(view)
    if setting == NATIVE:
        return View(height, width, height, width)
    side = DEFAULT_SIDE if setting == AUTO else int(setting)
    if height * width <= side * side:
        return View(height, width, height, width)
    s = side / math.sqrt(height * width)
    vh = max(multiple, round(height * s / multiple) * multiple)
    vw = max(multiple, round(width * s / multiple) * multiple)
    if vh >= height or vw >= width:  # extreme aspect ratios: no smaller view on one axis
        return View(height, width, height, width)
    return View(height, width, vh, vw)


def _filter(name: str) -> int:
    from PIL import Image

    return {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS}[name]


def downscale(pixels: np.ndarray, v: View) -> np.ndarray:
    """The view: float32 RGB in [0, 1], shape (view_height, view_width, 3), antialiased."""
    import numpy as np
    from PIL import Image

    from ..image import pixels as px

    resample = _filter(DOWN_FILTER)
    size = (v.view_width, v.view_height)
    if pixels.dtype == np.uint8:
        # 8-bit: Pillow resamples all three channels in one pass, with no float copy at all.
        rgb = np.ascontiguousarray(pixels[..., :3])
        small = np.asarray(Image.fromarray(rgb, "RGB").resize(size, resample), np.float32)
        small *= np.float32(1.0 / 255.0)
        return small
    out = np.empty((v.view_height, v.view_width, 3), dtype=np.float32)
    unit = np.float32(1.0 / px.scale(pixels.dtype))
    for c in range(3):
        channel = pixels[..., c].astype(np.float32)  # the one full-size float buffer
        if unit != 1.0:
            channel *= unit
        out[..., c] = np.asarray(Image.fromarray(channel, "F").resize(size, resample))
        del channel
    np.clip(out, 0.0, 1.0, out=out)  # bicubic rings slightly past the range
    return out


def enlarge_rows(
    unit: np.ndarray, v: View, band: int = BAND_ROWS
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (row_start, row_stop, delta) with delta float32 (3, rows, width) in [-1, 1]:
    the view's unit perturbation `unit` (3, view_height, view_width) enlarged to native size.

    Each band is resampled from the whole view with Pillow's box argument, so bands join
    exactly as one resize would (to float rounding); clipping keeps |delta| ≤ 1 where the
    bicubic kernel overshoots.
    """
    import numpy as np
    from PIL import Image

    resample = _filter(UP_FILTER)
    planes = [Image.fromarray(np.ascontiguousarray(unit[c]), "F") for c in range(3)]
    sy = v.view_height / v.height
    for y0 in range(0, v.height, band):
        y1 = min(v.height, y0 + band)
        out = np.empty((3, y1 - y0, v.width), dtype=np.float32)
        box = (0.0, y0 * sy, float(v.view_width), y1 * sy)
        for c, plane in enumerate(planes):
            out[c] = np.asarray(plane.resize((v.width, y1 - y0), resample, box=box))
        np.clip(out, -1.0, 1.0, out=out)
        yield y0, y1, out
