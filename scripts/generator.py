"""The Fixative perturbation generator (training side; the core only ever sees its ONNX export).

A small fully-convolutional network: a 4x4 patch embedding, a trunk at 1/4 resolution with a
branch at 1/8 (the latent grid of the target encoder), and a head back to full resolution. Its
output is a unit perturbation (tanh, in [-1, 1]) multiplied by a fixed, content-adaptive texture
mask: texture hides noise, flat colour and line art do not, so flat areas get `mask_floor` of the
budget. The mask uses min-pooled local contrast, so an isolated edge (line art) does not count as
texture.

Heads (`GeneratorConfig.head`):
- "patch": a 4x4 stride-4 transposed conv (fixative-g1). It can paint any pattern inside a 4x4
  cell, and training drove it to a fine near-periodic carrier that a 0.5x resize erases.
- "smooth": bilinear 2x upsampling to 1/2 resolution, two 3x3 convs there, bilinear 2x
  upsampling. The perturbation has no content above half the pixel Nyquist frequency, which is
  what a 0.5x downscale keeps. Its local mean (a 9x9 window at 1/2 resolution) is removed before
  the tanh: without that, training found a global colour cast (the same for every image, so
  universal, and visible as a tint). No transposed conv: on a flat area one paints the same
  fixed-phase pattern into every image (a run with one measured sign agreement 0.89 between
  evaluation images); here a flat area gets no perturbation at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    width: int = 32  # channels at 1/4 resolution
    width_low: int = 80  # channels at 1/8 resolution
    blocks_low: int = 3
    head: str = "patch"  # "patch" (g1) or "smooth" (band-limited, survives 0.5x resize)
    head_width: int = 16  # channels at 1/2 resolution ("smooth" head)
    mask_floor: float = 0.2  # share of the budget left on perfectly flat areas
    mask_texture: float = (
        0.04  # local contrast (std of luma, [0,1] units) that earns the full budget
    )

    def to_dict(self) -> dict:
        return asdict(self)


CENTRE_WINDOW = 9  # "smooth" head: window (at 1/2 resolution) whose mean is removed


def _conv(n_in: int, n_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1)


class ResBlock(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.a = _conv(n, n)
        self.b = _conv(n, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(x)))


def texture_mask(x: torch.Tensor, floor: float, texture: float) -> torch.Tensor:
    """[N,3,H,W] image -> [N,1,H,W] mask in [floor, 1]."""
    luma = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    mean = F.avg_pool2d(luma, 3, stride=1, padding=1, count_include_pad=False)
    mean_sq = F.avg_pool2d(luma * luma, 3, stride=1, padding=1, count_include_pad=False)
    std = torch.sqrt(torch.clamp(mean_sq - mean * mean, min=0.0) + 1e-8)
    # Min-pool: next to a lone edge some 3x3 window is flat, inside real texture none is.
    busy = -F.max_pool2d(-std, 5, stride=1, padding=2)
    busy = F.avg_pool2d(busy, 5, stride=1, padding=2, count_include_pad=False)
    return floor + (1.0 - floor) * torch.clamp(busy / texture, 0.0, 1.0)


class Generator(nn.Module):
    # Receptive field: see `receptive_field()`; the core's tile overlap must reach it.
    def __init__(self, cfg: GeneratorConfig = GeneratorConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        w, wl = cfg.width, cfg.width_low
        self.embed = nn.Conv2d(3, w, 4, stride=4)
        self.hi1 = ResBlock(w)
        self.down = _conv(w, wl, stride=2)
        self.low = nn.Sequential(*[ResBlock(wl) for _ in range(cfg.blocks_low)])
        self.up = _conv(wl, w)
        self.hi2 = ResBlock(w)
        if cfg.head == "patch":
            self.head = nn.ConvTranspose2d(w, 3, 4, stride=4)
        elif cfg.head == "smooth":
            self.head_up = _conv(w, cfg.head_width)
            self.head = _conv(cfg.head_width, 3)
        else:
            msg = f"unknown generator head {cfg.head!r}"
            raise ValueError(msg)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.embed(image * 2.0 - 1.0))
        h = self.hi1(h)
        low = self.low(F.relu(self.down(h)))
        h = h + self.up(F.interpolate(low, scale_factor=2.0, mode="nearest"))
        h = self.hi2(F.relu(h))
        if self.cfg.head == "patch":
            unit = torch.tanh(self.head(F.relu(h)))
        else:
            h = F.interpolate(F.relu(h), scale_factor=2.0, mode="bilinear", align_corners=False)
            half = self.head(F.relu(self.head_up(h)))
            half = half - F.avg_pool2d(
                half, CENTRE_WINDOW, stride=1, padding=CENTRE_WINDOW // 2, count_include_pad=False
            )
            full = F.interpolate(half, scale_factor=2.0, mode="bilinear", align_corners=False)
            unit = torch.tanh(full)
        return unit * texture_mask(image, self.cfg.mask_floor, self.cfg.mask_texture)


def receptive_field(cfg: GeneratorConfig = GeneratorConfig()) -> int:
    """Radius in input pixels that can influence one output pixel (a conservative upper bound)."""
    # embed: 4 px patch; each 3x3 conv at 1/4 res adds 4 px, at 1/8 res 8 px; up/down shifts.
    quarter_convs = 2 + 1 + 2  # hi1 (2), up (1), hi2 (2)
    eighth_convs = 1 + 2 * cfg.blocks_low  # down + blocks
    mask = 1 + 2 + 2  # std 3x3, min 5x5, avg 5x5
    # "smooth" head: bilinear taps (4 px from 1/4 res, 1 px from 1/2), two 3x3 convs and the
    # local-mean window at 1/2 res, beyond the 4 px cell.
    head = 4 if cfg.head == "patch" else 4 + 4 + 2 * 2 + 2 * (CENTRE_WINDOW // 2) + 1
    return 4 + 4 * quarter_convs + 8 * eighth_convs + 8 + head + mask


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
