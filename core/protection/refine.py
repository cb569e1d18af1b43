"""Gradient steps with the TAEF2 encoder's own gradient, in ONNX Runtime (thorough and fast).

Starting from the generator's unit perturbation on the view, each step moves every pixel by
α·b·sign(∇L), b being the texture mask (`texture-mask.onnx`, the definition the generator was
trained with) used as a per-pixel budget: |u| ≤ b, so flat colour and line art keep the little
perturbation they can hide. The objective, chosen by measurement (docs/how-it-works.md):

    L = ‖E(x') − E(x)‖² / ‖E(x)‖²  +  AFFINE_WEIGHT · ‖g·D(E(x')) + b − D(E(x))‖² / ‖D(E(x))‖²

The latent term moves what the encoder reads; the second moves what the AI reconstructs from
it, measured after the best per-channel gain g and offset b (least squares over the tile,
fitted inside the graph): a colour cast, which any auto-levels step undoes, earns nothing, so
the steps go into structure. (The plain decoder-space difference, DECODER_WEIGHT, mostly bought
a colour cast; it is kept at 0 for sweeps.) Its gradient is the shipped
`taef2-view-grad.onnx`, a hand-written vector–Jacobian product whose cotangent for the fitted
term is g·r (the envelope theorem: g and b are optimal, so their own change adds nothing).
Every HALF_EVERY-th step instead attacks the view read at half its size (a 2×2 box downscale,
the 0.26 MP read of several trainers) with the latent term alone (`taef2-encoder-grad.onnx`);
that keeps the effect through a 0.5× resize, at a quarter of a full step's cost. Only the graphs
a schedule runs are opened (one full step never opens the half-size gradient).

A view of up to UNTILED_PIXELS (fast mode's ~512×512) is processed whole, targets and gradient
in one pass each (an untiled 0.26 MP gradient peaks around 2 GB). Larger views are processed in
tiles (an untiled 1 MP gradient peaks at 6.5 GB): each tile's gradient
is taken on its core plus a margin of context and only the core is kept; every tile's targets
are computed on the same region, so a tile's loss starts at zero. Signed steps are per-pixel,
so tile borders leave no seam of magnitude. The arithmetic is deterministic: the same view,
settings and execution provider give the same perturbation, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import Cancelled
from .graphs import get_graph
from .settings import MODE_TABLE, THOROUGH

if TYPE_CHECKING:
    import numpy as np

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]

# Measured on 4 unseen 384² crops (docs/how-it-works.md): 3 steps (full, half, full) give 1.74x
# the latent distortion of noise at equal PSNR and an AI view 9.8 dB below noise's; 4 steps (a
# third full one) 1.80x and 11.1 dB for 1.5x the time; 6 steps no more than 4.
DEFAULT_STEPS = MODE_TABLE[THOROUGH].steps  # 3
STEP_SCALE = MODE_TABLE[THOROUGH].step_scale  # α = 2.5 / steps: the usual PGD choice
SCALED_START = False  # start from unit·mask instead of the unit clipped to ±mask (for sweeps)
DECODER_WEIGHT = 0.0  # the plain decoder-space difference's weight (measured worse; for sweeps)
AFFINE_WEIGHT = 400.0  # the decoder-space error left after the best colour correction
HALF_EVERY = 2  # every 2nd step reads the view at half size (0 = never)
# Half-size steps read the view through a (2r+1)² box blur first when r > 0: a counter-measure
# tried against smoothing purifications (docs/robustness.md: it changed nothing; 0 is shipped).
HALF_BLUR = 0
TILE = 448  # full-size gradient tile side incl. margins: ~1.7 GB peak RSS on CPU (512: 2.1 GB)
UNTILED_PIXELS = 300_000  # views up to this are not tiled: fast's ~512² (0.26 MP) in one pass
MARGIN = 32  # context around each tile's core, pixels (4 latent cells)
ALIGN = 16  # tiles and their half-size reads stay on the encoder's 8 px latent grid


def _reflect(length: int, padded: int) -> np.ndarray:
    import numpy as np

    idx = np.arange(padded)
    if length == 1:
        return np.zeros_like(idx)
    period = 2 * (length - 1)
    idx = np.mod(idx, period)
    return np.where(idx >= length, period - idx, idx)


def _axis_tiles(length: int, tile: int | None = None) -> list[tuple[int, int, int, int]]:
    """(core0, core1, region0, region1) per tile along an axis of `length` (a multiple of ALIGN):
    the fewest tiles whose regions (core plus context, none past the image's edges) fit `tile`
    (default TILE)."""
    tile = TILE if tile is None else tile
    count = 1
    while True:
        core = -(-math.ceil(length / count) // ALIGN) * ALIGN
        tiles = []
        for k in range(count):
            c0, c1 = k * core, min(length, (k + 1) * core)
            if c0 < length:
                tiles.append((c0, c1, max(0, c0 - MARGIN), min(length, c1 + MARGIN)))
        if max(r1 - r0 for *_, r0, r1 in tiles) <= tile or core <= ALIGN:
            return tiles
        count += 1


def _pool2(x: np.ndarray) -> np.ndarray:
    """2×2 box downscale of (1, 3, H, W), H and W even."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5), dtype=x.dtype)


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """(2r+1)² box mean of (1, 3, H, W), edges repeated; its own adjoint away from the edges."""
    import numpy as np

    if r <= 0:
        return x
    k = 2 * r + 1
    p = np.pad(x, ((0, 0), (0, 0), (r, r), (r, r)), mode="edge")
    rows = sum(p[:, :, i : i + x.shape[2], :] for i in range(k))
    return sum(rows[:, :, :, j : j + x.shape[3]] for j in range(k)) / np.float32(k * k)


def half_step(s: int) -> bool:
    """Whether step `s` (0-based) reads the view at half size."""
    return HALF_EVERY > 0 and s % HALF_EVERY == HALF_EVERY - 1


def in_one_piece(height: int, width: int) -> bool:
    """Whether a view of this size is refined whole, with ORT's arena (else tiled, without)."""
    return -(-height // ALIGN) * ALIGN * (-(-width // ALIGN) * ALIGN) <= UNTILED_PIXELS


def graphs_for(steps: int) -> dict[str, bool]:
    """The graphs a schedule of `steps` opens (role -> whether it runs at all)."""
    halves = any(half_step(s) for s in range(steps))
    fulls = any(not half_step(s) for s in range(steps))
    return {
        "encoder": True,
        "decoder": fulls,
        "view_grad": fulls,
        "encoder_grad": halves,
        "texture_mask": True,
    }


def refine(
    view: np.ndarray,
    unit: np.ndarray,
    epsilon: float,
    steps: int = DEFAULT_STEPS,
    *,
    step_scale: float | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> np.ndarray:
    """The refined unit perturbation (3, H, W) for `view` (H, W, 3) float32 RGB in [0, 1].

    `unit` is the starting point (the generator's output on the same view, in [-1, 1]); the
    result satisfies |u| ≤ mask ≤ 1 everywhere, so the image's change stays ≤ ε. Each step
    moves α = `step_scale` / `steps` budgets (default STEP_SCALE, the mode's in `protect`).
    """
    import numpy as np

    h, w = view.shape[:2]
    ph, pw = -(-h // ALIGN) * ALIGN, -(-w // ALIGN) * ALIGN
    rows, cols = _reflect(h, ph), _reflect(w, pw)
    x = np.ascontiguousarray(view[np.ix_(rows, cols)].transpose(2, 0, 1)[None], dtype=np.float32)
    u = np.ascontiguousarray(unit[:, rows][:, :, cols][None], dtype=np.float32)

    whole = in_one_piece(h, w)  # one tile: small enough for ORT's arena (`Graph`)
    graphs = {
        role: get_graph(role, device, threads, arena=whole) if runs else None
        for role, runs in graphs_for(steps).items()
    }
    encoder, decoder, view_grad = graphs["encoder"], graphs["decoder"], graphs["view_grad"]
    latent_grad = graphs["encoder_grad"]
    (budget,) = graphs["texture_mask"].run(image=x)
    if SCALED_START:
        u *= budget  # the generator's pattern, shrunk into the mask's budget
    else:
        np.clip(u, -budget, budget, out=u)
    tile = max(ph, pw) if whole else TILE
    tiles = [(ty, tx) for ty in _axis_tiles(ph, tile) for tx in _axis_tiles(pw, tile)]
    eps = np.float32(epsilon)
    total = len(tiles) * (steps + 1)
    done = 0

    def tick(what: str) -> None:
        nonlocal done
        if cancel is not None and cancel():
            msg = "protection cancelled"
            raise Cancelled(msg)
        done += 1
        if progress is not None:
            progress(done / total, what)

    # Targets per tile region: the clean view's latents and reconstruction, and the half read's
    # latents, with each term's normalisation.
    targets = []
    for k, ((_, _, y0, y1), (_, _, x0, x1)) in enumerate(tiles):
        region = np.ascontiguousarray(x[:, :, y0:y1, x0:x1])
        z0 = y_0 = z_half = weights = None
        if decoder is not None:
            z0 = encoder.run(image=region)[0]
            y_0 = decoder.run(latent=z0)[0]
            y_norm = max(float(np.vdot(y_0, y_0)), 1e-12)
            weights = np.array(
                [
                    2.0 / max(float(np.vdot(z0, z0)), 1e-12),
                    2.0 * DECODER_WEIGHT / y_norm,
                    2.0 * AFFINE_WEIGHT / y_norm,
                ],
                dtype=np.float32,
            )  # the graph computes w·½‖·‖², so 2/‖·‖² gives the normalised squares above
        if latent_grad is not None:
            z_half = encoder.run(image=_pool2(_box(region, HALF_BLUR)))[0]
        targets.append((z0, y_0, z_half, weights))
        tick(f"reading the image as the AI does, tile {k + 1}/{len(tiles)}")

    alpha = np.float32((STEP_SCALE if step_scale is None else step_scale) / steps)
    step_budget = budget * alpha
    grad_sign = np.empty_like(u)
    for s in range(steps):
        small = half_step(s)
        for k, ((cy0, cy1, y0, y1), (cx0, cx1, x0, x1)) in enumerate(tiles):
            region = x[:, :, y0:y1, x0:x1] + eps * u[:, :, y0:y1, x0:x1]
            np.clip(region, 0.0, 1.0, out=region)
            z0, y_0, z_half, weights = targets[k]
            if small:
                assert latent_grad is not None
                read = _pool2(_box(region, HALF_BLUR))
                g = latent_grad.run(image=np.ascontiguousarray(read), target=z_half)[0]
                g = g.repeat(2, axis=2).repeat(2, axis=3)  # the 2×2 box's adjoint, up to 1/4
                g = _box(g, HALF_BLUR)
            else:
                assert view_grad is not None
                g = view_grad.run(image=region, target=z0, target_image=y_0, weights=weights)[0]
            grad_sign[:, :, cy0:cy1, cx0:cx1] = np.sign(
                g[:, :, cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
            )
            tick(f"step {s + 1}/{steps}, tile {k + 1}/{len(tiles)}")
        grad_sign *= step_budget
        u += grad_sign
        np.clip(u, -budget, budget, out=u)
    return u[0, :, :h, :w].copy()
