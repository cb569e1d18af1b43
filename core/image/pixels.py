"""The one array contract every adapter speaks (see docs/library.md).

An image is a numpy array of shape (H, W, C), C = 3 (RGB) or 4 (RGBA, straight alpha), dtype
uint8, uint16 or float32 (float32 in [0, 1]), sRGB-encoded, row 0 at the top. Functions here
convert between that and the float32 RGB the model sees, without changing what they need not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnsupportedImageError

if TYPE_CHECKING:
    import numpy as np

DTYPES = ("uint8", "uint16", "float32")
_SCALE = {"uint8": 255.0, "uint16": 65535.0, "float32": 1.0}


def check(pixels: object, source: str = "image") -> None:
    """Raise `UnsupportedImageError` unless `pixels` follows the array contract."""
    import numpy as np

    if not isinstance(pixels, np.ndarray):
        msg = f"{source}: pixels must be a numpy array, not {type(pixels).__name__}"
        raise UnsupportedImageError(msg)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        msg = f"{source}: pixels must have shape (H, W, 3) or (H, W, 4), not {pixels.shape}"
        raise UnsupportedImageError(msg)
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        msg = f"{source}: image is empty ({pixels.shape[1]}x{pixels.shape[0]})"
        raise UnsupportedImageError(msg)
    if pixels.dtype.name not in DTYPES:
        msg = f"{source}: pixel dtype {pixels.dtype} is not one of {', '.join(DTYPES)}"
        raise UnsupportedImageError(msg)
    if pixels.dtype == np.float32:
        lo, hi = float(np.min(pixels)), float(np.max(pixels))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            msg = f"{source}: float pixels contain NaN or infinity"
            raise UnsupportedImageError(msg)
        if lo < 0.0 or hi > 1.0:
            msg = f"{source}: float pixels must lie in [0, 1], found {lo:.4g}..{hi:.4g}"
            raise UnsupportedImageError(msg)


def scale(dtype: np.dtype) -> float:
    """The code value of 1.0 for this dtype (255, 65535 or 1)."""
    return _SCALE[dtype.name]


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """RGB channels of `pixels` as float32 in [0, 1] (a new array)."""
    import numpy as np

    rgb = pixels[..., :3].astype(np.float32)
    s = scale(pixels.dtype)
    if s != 1.0:
        rgb *= np.float32(1.0 / s)
    return rgb


def from_unit(rgb: np.ndarray, dtype: np.dtype, *, scratch: bool = False) -> np.ndarray:
    """Quantise float RGB in [0, 1] to `dtype` (round half to even, no dithering: deterministic).

    `scratch=True` (float32 `rgb` only) works in `rgb` itself, which is left overwritten: one
    buffer less per band of a large image.
    """
    import numpy as np

    s = scale(dtype)
    if not scratch:
        if s == 1.0:
            return np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False)
        out = np.clip(rgb, 0.0, 1.0) * np.float32(s)
        np.rint(out, out=out)
        return out.astype(dtype)
    np.clip(rgb, 0.0, 1.0, out=rgb)
    if s == 1.0:
        return rgb.copy()
    rgb *= np.float32(s)
    np.rint(rgb, out=rgb)
    return rgb.astype(dtype)


def flatten_alpha(pixels: np.ndarray) -> np.ndarray:
    """RGBA over `formats.FLATTEN_BACKGROUND` (white), same dtype, RGB; RGB comes back as is.

    For a format that cannot store alpha (`Format.alpha` False) when a host exports an image
    that has it, as the hosts' own JPEG exporters do.
    """
    import numpy as np

    from .formats import FLATTEN_BACKGROUND

    if pixels.shape[2] != 4:
        return pixels
    peak = np.float32(scale(pixels.dtype))
    rgb = pixels[..., :3].astype(np.float32)
    alpha = pixels[..., 3:].astype(np.float32) / peak
    out = rgb * alpha + peak * np.float32(FLATTEN_BACKGROUND) * (1.0 - alpha)
    if pixels.dtype == np.float32:
        return out.astype(np.float32)
    return np.clip(np.rint(out), 0, peak).astype(pixels.dtype)
