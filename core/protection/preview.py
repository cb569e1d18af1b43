"""What the AI sees: the TAEF2 encoder-decoder's reconstruction of a picture, at a small view.

The proof an artist can look at: the AI's reconstruction of the original stays close to the
original, that of the protected picture does not. Both are computed at the same small view
(about 512×512, the size several trainers read at; a second or two on a CPU) with the shipped
`taef2-encoder.onnx` and `taef2-decoder.onnx`, on onnxruntime alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnsupportedImageError
from ..image import pixels as px
from . import view as vw
from .graphs import LATENT_FACTOR, get_graph

if TYPE_CHECKING:
    import numpy as np

PREVIEW_SIDE = 512  # about 512×512: trainers' smallest common read, and quick to decode
GAP = 8  # pixels between the panels of a preview sheet


def _small(pixels: np.ndarray, side: int) -> np.ndarray:
    """RGB float32 (h, w, 3) of `pixels` at about side×side (sides multiples of 8)."""
    import numpy as np

    h, w = pixels.shape[:2]
    v = vw.plan(h, w, side, LATENT_FACTOR)
    rgb = px.to_unit(pixels) if v.native else vw.downscale(pixels, v)
    h8 = max(LATENT_FACTOR, rgb.shape[0] - rgb.shape[0] % LATENT_FACTOR)
    w8 = max(LATENT_FACTOR, rgb.shape[1] - rgb.shape[1] % LATENT_FACTOR)
    if rgb.shape[0] < h8 or rgb.shape[1] < w8:  # tiny images: edge-pad up to one latent cell
        rgb = np.pad(rgb, ((0, h8 - rgb.shape[0]), (0, w8 - rgb.shape[1]), (0, 0)), mode="edge")
    return np.ascontiguousarray(rgb[:h8, :w8])


def ai_view(
    pixels: np.ndarray, side: int = PREVIEW_SIDE, device: str = "auto", threads: int | None = None
) -> np.ndarray:
    """The AI's reconstruction D(E(x)) of `pixels` (the array contract) at about side×side,
    as uint8 RGB (h, w, 3)."""
    import numpy as np

    px.check(pixels)
    rgb = _small(pixels, side)
    batch = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
    (latent,) = get_graph("encoder", device, threads).run(image=batch)
    (recon,) = get_graph("decoder", device, threads).run(latent=latent)
    out = np.clip(recon[0].transpose(1, 2, 0), 0.0, 1.0) * 255.0
    return np.rint(out).astype(np.uint8)


def preview(
    original: np.ndarray,
    protected: np.ndarray,
    side: int = PREVIEW_SIDE,
    device: str = "auto",
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The AI's reconstructions of the original and of the protected picture, at one small view."""
    if original.shape[:2] != protected.shape[:2]:
        msg = (
            f"the original ({original.shape[1]}x{original.shape[0]}) and the protected picture "
            f"({protected.shape[1]}x{protected.shape[0]}) differ in size"
        )
        raise UnsupportedImageError(msg)
    return ai_view(original, side, device, threads), ai_view(protected, side, device, threads)


def sheet(
    original: np.ndarray,
    protected: np.ndarray,
    side: int = PREVIEW_SIDE,
    device: str = "auto",
    threads: int | None = None,
) -> np.ndarray:
    """original | protected | AI view of the original | AI view of the protected, side by side
    at the preview's size, as uint8 RGB on white."""
    import numpy as np

    ai_o, ai_p = preview(original, protected, side, device, threads)
    h, w = ai_o.shape[:2]

    def shown(pixels: np.ndarray) -> np.ndarray:
        rgb = _small(pixels, side)[:h, :w] * 255.0
        return np.rint(rgb).astype(np.uint8)

    panels = [shown(original), shown(protected), ai_o, ai_p]
    out = np.full((h, 4 * w + 3 * GAP, 3), 255, dtype=np.uint8)
    for k, panel in enumerate(panels):
        out[:, k * (w + GAP) : k * (w + GAP) + w] = panel
    return out
