"""What the AI sees: each model family's encoder-decoder reconstruction of a picture, at a
small view.

The proof an artist can look at: the AI's reconstruction of the original stays close to the
original; that of the protected picture does not for FLUX.2, the family the protection aims at,
and barely moves for SDXL and FLUX.1 (`families`), which see it about as they see noise. All are
computed at the same small view (about 512×512, the size several trainers read at; a second or
two a family on a CPU) with the shipped encoder and decoder graphs, on onnxruntime alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UnsupportedImageError
from ..image import pixels as px
from . import families as fam
from . import view as vw
from .graphs import LATENT_FACTOR, get_graph

if TYPE_CHECKING:
    import numpy as np

PREVIEW_SIDE = 512  # about 512×512: trainers' smallest common read, and quick to decode
GAP = 8  # pixels between the panels of a preview sheet
ROWS = ("original", "protected")  # the sheet's two rows, top first


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
    pixels: np.ndarray,
    side: int = PREVIEW_SIDE,
    device: str = "auto",
    threads: int | None = None,
    family: fam.Family = fam.TARGET,
) -> np.ndarray:
    """The family's reconstruction D(E(x)) of `pixels` (the array contract) at about side×side,
    as uint8 RGB (h, w, 3); FLUX.2's by default."""
    import numpy as np

    px.check(pixels)
    rgb = _small(pixels, side)
    batch = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])
    (latent,) = get_graph(family.encoder, device, threads).run(image=batch)
    (recon,) = get_graph(family.decoder, device, threads).run(latent=latent)
    out = np.clip(recon[0].transpose(1, 2, 0), 0.0, 1.0) * 255.0
    return np.rint(out).astype(np.uint8)


def preview(
    original: np.ndarray,
    protected: np.ndarray,
    side: int = PREVIEW_SIDE,
    device: str = "auto",
    threads: int | None = None,
    family: fam.Family = fam.TARGET,
) -> tuple[np.ndarray, np.ndarray]:
    """One family's reconstructions of the original and of the protected picture, at one view."""
    if original.shape[:2] != protected.shape[:2]:
        msg = (
            f"the original ({original.shape[1]}x{original.shape[0]}) and the protected picture "
            f"({protected.shape[1]}x{protected.shape[0]}) differ in size"
        )
        raise UnsupportedImageError(msg)
    return (
        ai_view(original, side, device, threads, family),
        ai_view(protected, side, device, threads, family),
    )


def column_labels(families: tuple[fam.Family, ...] = fam.FAMILIES) -> list[tuple[str, str]]:
    """The sheet's column headings, left to right: (first line, second line)."""
    heads = [("the picture", "original above, protected below")]
    for f in families:
        aim = "the protection aims here" if f.target else "measured, not aimed at"
        heads.append((f"what {f.short} sees ({f.autoencoder})", aim))
    return heads


def _font(size: int):  # -> ImageFont: Pillow's own font, no system font needed
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def label_height(panel_width: int) -> int:
    """Pixels of the heading strip above the panels, for panels `panel_width` wide."""
    return 2 * _font_size(panel_width) + 3 * GAP // 2


def _font_size(panel_width: int) -> int:
    # Large enough to stay legible where a host scales the sheet to a dialog's width.
    return max(10, min(32, panel_width // 14))


def sheet(
    original: np.ndarray,
    protected: np.ndarray,
    side: int = PREVIEW_SIDE,
    device: str = "auto",
    threads: int | None = None,
    families: tuple[fam.Family, ...] = fam.FAMILIES,
) -> np.ndarray:
    """The preview sheet, uint8 RGB on white: a labelled column per model family (FLUX.2, aimed
    at, then SDXL and FLUX.1) after a column with the picture itself; the top row is the
    original, the bottom row the protected picture, each panel at the preview's size. Reading
    down a family's column shows how much protection moves what that family sees."""
    import numpy as np
    from PIL import Image, ImageDraw

    views = [preview(original, protected, side, device, threads, f) for f in families]
    h, w = views[0][0].shape[:2]

    def shown(pixels: np.ndarray) -> np.ndarray:
        rgb = _small(pixels, side)[:h, :w] * 255.0
        return np.rint(rgb).astype(np.uint8)

    columns = [(shown(original), shown(protected)), *views]
    top = label_height(w)
    out = np.full((top + 2 * h + GAP, len(columns) * (w + GAP) - GAP, 3), 255, dtype=np.uint8)
    for k, (upper, lower) in enumerate(columns):
        x = k * (w + GAP)
        out[top : top + h, x : x + w] = upper
        out[top + h + GAP : top + 2 * h + GAP, x : x + w] = lower
    canvas = Image.fromarray(out)
    draw = ImageDraw.Draw(canvas)
    size = _font_size(w)
    bold, plain = _font(size), _font(max(8, size - 2))
    for k, (first, second) in enumerate(column_labels(families)):
        x = k * (w + GAP) + 2
        draw.text((x, GAP // 2), first, fill=(20, 20, 20), font=bold)
        draw.text((x, GAP // 2 + size + 2), second, fill=(90, 90, 90), font=plain)
    return np.asarray(canvas).copy()
