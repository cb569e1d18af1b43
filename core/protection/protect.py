"""Running the perturbation model over an image of any size.

The image is split into tiles whose starts and sizes are multiples of the model's
`size_multiple` (so strided convolutions see the same pixel grid as on the whole image), with an
overlap of at least twice the receptive field. Neighbouring tiles are cross-faded only where
both see their whole receptive field, so tiled output equals untiled output up to float
rounding. Tiles are processed one band of rows at a time, so memory beyond the input and output
arrays stays a few bands of float32 plus the model's activations, whatever the image size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ..errors import Cancelled
from ..image import pixels as px
from . import view as vw
from .graphs import get_graph
from .model import Model, get_model
from .refine import refine
from .report import ProtectReport
from .settings import GENERATOR, MODE_TABLE, ProtectSettings

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]

NATIVE_MASK = True  # re-apply the texture mask at native size (measured: scripts/sweep_view.py)
MASK_CONTEXT = 8  # rows of context for the texture mask's pooling windows (radius 6)
GENERATOR_SHARE = 0.03  # stepped modes: the generator's share of the progress bar
TILE = 1536  # largest tile side: overlap costs ~1.3x at 4K-8K; activations stay ~400 MB
FEATHER = 16  # minimum cross-fade width between tiles, pixels


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def _reflect_index(start: int, stop: int, length: int) -> np.ndarray:
    """Indices into an axis of `length` for padded positions start..stop (numpy 'reflect')."""
    import numpy as np

    idx = np.arange(start, stop)
    if length == 1:
        return np.zeros_like(idx)
    period = 2 * (length - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= length, period - idx, idx)


class _Axis:
    """Tiling of one axis: padded length, tile size, starts and each tile's blend weights."""

    def __init__(self, length: int, model: Model, tile: int, margin: int, overlap: int) -> None:
        import numpy as np

        spec = model.spec
        m = spec.size_multiple
        self.length = length
        self.padded = _round_up(max(length, spec.min_size), m)
        if self.padded <= tile:
            self.size = self.padded
            self.starts = [0]
        else:
            count = math.ceil((self.padded - overlap) / (tile - overlap))
            self.size = _round_up(math.ceil((self.padded + (count - 1) * overlap) / count), m)
            step = self.size - overlap
            self.starts = [min(k * step, self.padded - self.size) for k in range(count)]
        weights = [np.ones(self.size, dtype=np.float64) for _ in self.starts]
        for k in range(1, len(self.starts)):
            n = self.starts[k - 1] + self.size - self.starts[k]  # overlap of tiles k-1 and k
            # Cross-fade only where both tiles see their full receptive field, if room allows.
            mg = margin if n - 2 * margin >= 1 else (n - 1) // 2
            f = n - 2 * mg
            up = np.zeros(n)
            up[mg : mg + f] = (np.arange(f) + 0.5) / f
            up[mg + f :] = 1.0
            weights[k][:n] *= up
            weights[k - 1][self.size - n :] *= 1.0 - up
        total = np.zeros(self.padded)
        for s, w in zip(self.starts, weights, strict=True):
            total[s : s + self.size] += w
        if np.any(total <= 0):  # cannot happen with overlap << tile; guard against silent holes
            msg = "internal tiling error: a pixel is covered by no tile"
            raise AssertionError(msg)
        # Normalising makes the weights a partition of unity even where three tiles overlap.
        self.weights = [
            (w / total[s : s + self.size]).astype(np.float32)
            for s, w in zip(self.starts, weights, strict=True)
        ]


def plan(height: int, width: int, model: Model, tile: int = TILE) -> tuple[_Axis, _Axis]:
    """The tiling of both axes for an image of this size."""
    spec = model.spec
    m = spec.size_multiple
    overlap = _round_up(max(spec.tile_overlap, 2 * spec.receptive_field + FEATHER), m)
    tile = max(_round_up(tile, m), _round_up(3 * overlap, m))  # keeps overlap cost bounded
    return (
        _Axis(height, model, tile, spec.receptive_field, overlap),
        _Axis(width, model, tile, spec.receptive_field, overlap),
    )


def _gather(pixels: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """RGB of padded rows y0..y1 and columns x0..x1 (reflected past the edges)."""
    import numpy as np

    h, w = pixels.shape[:2]
    if y1 <= h and x1 <= w:  # interior tiles: a plain view, no index arrays
        return pixels[y0:y1, x0:x1, :3]
    rows = _reflect_index(y0, y1, h) if y1 > h else np.arange(y0, y1)
    cols = _reflect_index(x0, x1, w) if x1 > w else np.arange(x0, x1)
    return pixels[np.ix_(rows, cols)][..., :3]


def compute_delta_rows(
    pixels: np.ndarray,
    model: Model,
    *,
    tile: int = TILE,
    axes: tuple[_Axis, _Axis] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (row_start, row_stop, delta) bands covering the image top to bottom.

    `delta` is float32 (3, rows, W): the blended unit perturbation for those rows, channels
    first like the model's output, so that blending tiles in is contiguous memory work.
    `axes` is `plan(H, W, model, tile)` when the caller has it already.
    """
    import numpy as np

    h, w = pixels.shape[:2]
    ax_y, ax_x = axes or plan(h, w, model, tile)
    total = len(ax_y.starts) * len(ax_x.starts)
    scale = np.float32(1.0 / px.scale(pixels.dtype))
    done = 0
    pending: np.ndarray | None = None  # weighted rows of the previous band not yet final
    for i, y0 in enumerate(ax_y.starts):
        y1 = y0 + ax_y.size
        band = np.zeros((3, ax_y.size, w), dtype=np.float32)
        for j, x0 in enumerate(ax_x.starts):
            if cancel is not None and cancel():
                msg = "protection cancelled"
                raise Cancelled(msg)
            src = _gather(pixels, y0, y1, x0, x0 + ax_x.size)
            batch = np.empty((1, 3, ax_y.size, ax_x.size), dtype=np.float32)
            batch[0] = src.transpose(2, 0, 1)  # one pass: layout and dtype together
            if scale != 1.0:
                batch *= scale
            d = model.run(batch)[0]
            np.clip(d, -1.0, 1.0, out=d)
            keep = min(ax_x.size, w - x0)  # columns past the image are padding
            if keep > 0:
                d = d[:, :, :keep]
                d *= ax_x.weights[j][None, None, :keep]
                band[:, :, x0 : x0 + keep] += d
            done += 1
            if progress is not None:
                progress(done / total, f"tile {done}/{total}")
        band *= ax_y.weights[i][None, :, None]
        if pending is not None:
            band[:, : pending.shape[1]] += pending
        final = ax_y.starts[i + 1] if i + 1 < len(ax_y.starts) else y1
        pending = band[:, final - y0 :]
        stop = min(final, h)
        if stop > y0:
            yield y0, stop, band[:, : stop - y0]


def _unit_on(
    src: np.ndarray,
    model: Model,
    axes: tuple[_Axis, _Axis],
    progress: Progress | None,
    cancel: Cancel | None,
) -> np.ndarray:
    """The generator's whole unit perturbation (3, H, W) for `src` (the view, held in memory)."""
    import numpy as np

    h, w = src.shape[:2]
    unit = np.empty((3, h, w), dtype=np.float32)
    for y0, y1, d in compute_delta_rows(src, model, axes=axes, progress=progress, cancel=cancel):
        unit[:, y0:y1] = d
    return unit


def _bands(
    pixels: np.ndarray,
    model: Model,
    eps: float,
    v: vw.View,
    *,
    axes: tuple[_Axis, _Axis],
    steps: int,
    step_scale: float,
    device: str,
    threads: int | None,
    progress: Progress | None,
    cancel: Cancel | None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(row_start, row_stop, unit delta (3, rows, W)) bands at native size, top to bottom."""
    import numpy as np

    if v.native and steps == 0:  # the generator alone, in bands: nothing held whole
        yield from compute_delta_rows(pixels, model, axes=axes, progress=progress, cancel=cancel)
        return
    share = 1.0 if steps == 0 else GENERATOR_SHARE

    def part(lo: float, hi: float) -> Progress | None:
        if progress is None:
            return None
        return lambda f, what: progress(lo + (hi - lo) * f, what)

    src = px.to_unit(pixels) if v.native else vw.downscale(pixels, v)
    unit = _unit_on(src, model, axes, part(0.0, share), cancel)
    if steps > 0:
        unit = refine(
            src, unit, eps, steps, step_scale=step_scale, device=device, threads=threads,
            progress=part(share, 1.0), cancel=cancel,
        )  # fmt: skip
    if v.native:
        del src
        for y0 in range(0, v.height, vw.BAND_ROWS):
            y1 = min(v.height, y0 + vw.BAND_ROWS)
            yield y0, y1, unit[:, y0:y1]
        return
    # The texture mask is a visibility rule, and visibility is judged at the file's own size:
    # fine grain (paper, brush texture, noise) that hides the perturbation there averages out in
    # the view. So the view's mask is divided out and the native one applied to each band.
    if not NATIVE_MASK:
        del src
        yield from vw.enlarge_rows(unit, v)
        return
    mask = get_graph("texture_mask", device, threads)
    (view_mask,) = mask.run(image=np.ascontiguousarray(src.transpose(2, 0, 1)[None]))
    del src
    unit /= np.maximum(view_mask[0], np.float32(1e-3))
    np.clip(unit, -1.0, 1.0, out=unit)
    for y0, y1, band in vw.enlarge_rows(unit, v):
        a, b = max(0, y0 - MASK_CONTEXT), min(v.height, y1 + MASK_CONTEXT)
        rgb = px.to_unit(pixels[a:b]).transpose(2, 0, 1)[None]
        (native,) = mask.run(image=np.ascontiguousarray(rgb))
        band *= native[0, :, y0 - a : y1 - a]
        yield y0, y1, band


def protect_with(
    pixels: np.ndarray,
    model: Model,
    strength: str,
    *,
    tile: int = TILE,
    view: str | int = vw.NATIVE,
    mode: str = GENERATOR,
    steps: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[np.ndarray, ProtectReport]:
    """`protect_array` with an already loaded model and explicit engine settings.

    Its defaults are the bare generator at native size; `protect_array` applies the defaults of
    `ProtectSettings` (the AI's view, thorough mode). `mode` is one of `settings.MODE_TABLE`:
    its steps unless `steps` says otherwise, and its view where `view` is "auto".
    """
    import numpy as np

    start = time.perf_counter()
    px.check(pixels)
    eps = np.float32(model.spec.epsilon[strength])
    h, w, c = pixels.shape
    chosen = MODE_TABLE[mode]
    if view == vw.AUTO:
        view = chosen.view
    v = vw.plan(h, w, view, model.spec.size_multiple)
    n_steps = (steps or chosen.steps) if chosen.steps else 0
    out = np.empty_like(pixels)
    s = px.scale(pixels.dtype)
    sq_err = 0.0
    max_diff = 0.0
    ax_y, ax_x = plan(v.view_height, v.view_width, model, tile)
    bands = _bands(
        pixels, model, float(eps), v, axes=(ax_y, ax_x), steps=n_steps,
        step_scale=chosen.step_scale,
        device=device, threads=threads, progress=progress, cancel=cancel,
    )  # fmt: skip
    for y0, y1, delta in bands:
        orig = pixels[y0:y1]
        work = px.to_unit(orig)  # the one float buffer per band, reused below
        delta = delta * eps
        work += delta.transpose(1, 2, 0)
        new = px.from_unit(work, pixels.dtype, scratch=True)  # `work` is free again after it
        if c == 4:
            # Fully transparent pixels keep their exact colour: nothing shows, nothing changes.
            clear = orig[..., 3] == 0
            new[clear] = orig[clear, :3]
            out[y0:y1, :, 3] = orig[..., 3]
        out[y0:y1, :, :3] = new
        np.subtract(new, orig[..., :3], out=work, dtype=np.float32)
        work *= np.float32(1.0 / s)
        sq_err += float(np.einsum("ijk,ijk->", work, work, dtype=np.float64))
        max_diff = max(max_diff, float(work.max()), -float(work.min()))
    mse = sq_err / (h * w * 3)
    psnr = math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
    report = ProtectReport(
        strength=strength,
        epsilon=float(eps),
        psnr=psnr,
        max_abs_diff=max_diff,
        seconds=time.perf_counter() - start,
        model_id=model.spec.model_id,
        model_sha256=model.spec.sha256,
        device=model.provider,
        width=w,
        height=h,
        tiles=len(ax_y.starts) * len(ax_x.starts),
        mode=mode,
        steps=n_steps,
        view_width=v.view_width,
        view_height=v.view_height,
    )
    return out, report


def protect_array(
    pixels: np.ndarray,
    settings: ProtectSettings | None = None,
    *,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[np.ndarray, ProtectReport]:
    """Protect an image array (see `fixative.image.pixels` for the contract); returns a new array.

    Same shape and dtype as the input; alpha is copied unchanged and fully transparent pixels
    stay bit-identical. Raises `Cancelled` if `cancel()` returns True between tiles or steps.
    """
    settings = settings or ProtectSettings()
    model = get_model(settings.model_path, settings.device, settings.threads)
    return protect_with(
        pixels,
        model,
        settings.strength,
        view=settings.view,
        mode=settings.mode,
        steps=settings.steps,
        device=settings.device,
        threads=settings.threads,
        progress=progress,
        cancel=cancel,
    )
