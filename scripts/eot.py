"""Expectation over transformations: what publishing does to an image (resize, blur, JPEG).

One random transform is drawn per batch and applied identically to the original and the protected
batch, so the loss measures the distortion the perturbation adds on top of the transform's own.
JPEG is not differentiable: it runs for real (Pillow) in the forward pass and passes gradients
straight through (BPDA).
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Transform = Callable[[torch.Tensor], torch.Tensor]


def jpeg_real(x: torch.Tensor, quality: int) -> torch.Tensor:
    out = []
    for img in x.detach().clamp(0, 1):
        arr = (img.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "JPEG", quality=quality)
        buf.seek(0)
        dec = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255.0
        out.append(torch.from_numpy(dec).permute(2, 0, 1))
    return torch.stack(out)


def jpeg_bpda(x: torch.Tensor, quality: int) -> torch.Tensor:
    return x + (jpeg_real(x, quality) - x).detach()


def resize(x: torch.Tensor, scale: float) -> torch.Tensor:
    h, w = x.shape[-2:]
    size = (max(8, round(h * scale / 8) * 8), max(8, round(w * scale / 8) * 8))
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = 2
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    k2 = (k[:, None] * k[None, :]).expand(x.shape[1], 1, -1, -1)
    return F.conv2d(F.pad(x, (r, r, r, r), mode="replicate"), k2, groups=x.shape[1])


def down_up(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Downscale, then back to the original size: the detail a thumbnail-and-enlarge step keeps."""
    return F.interpolate(resize(x, scale), size=x.shape[-2:], mode="bilinear", align_corners=False)


def random_transform(
    rng: random.Random, p_resize=0.4, p_blur=0.3, p_jpeg=0.5, p_up=0.0
) -> tuple[Transform, str]:
    """A random composition resize -> blur -> JPEG, and a short description for the log.

    A resize is followed, with probability `p_up`, by scaling back up to the original size: the
    encoder then sees the full grid with only the detail the downscale kept.
    """
    steps: list[Transform] = []
    names = []
    if rng.random() < p_resize:
        s = rng.uniform(0.5, 1.0)
        if rng.random() < p_up:
            steps.append(lambda x, s=s: down_up(x, s))
            names.append(f"resize{s:.2f}up")
        else:
            steps.append(lambda x, s=s: resize(x, s))
            names.append(f"resize{s:.2f}")
    if rng.random() < p_blur:
        sg = rng.uniform(0.3, 1.0)
        steps.append(lambda x, sg=sg: blur(x, sg))
        names.append(f"blur{sg:.2f}")
    if rng.random() < p_jpeg:
        q = rng.randint(60, 95)
        steps.append(lambda x, q=q: jpeg_bpda(x, q))
        names.append(f"jpeg{q}")

    def apply(x: torch.Tensor) -> torch.Tensor:
        for f in steps:
            x = f(x)
        return x

    return apply, "+".join(names) or "identity"
