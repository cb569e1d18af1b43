"""The yardstick: projected gradient descent (sign gradient, L-infinity budget) on the encoder.

    untargeted: maximise ||E(x') - E(x)||            (latent distortion)
    targeted:   minimise ||E(x') - E(target)||       (pull the latent towards a target pattern)

Per-image and iterative (N encoder forward+backward passes): the strongest attack at a given budget,
and the cost the feed-forward generator avoids.
"""

from __future__ import annotations

import torch
from torch import nn


def pgd(
    encoder: nn.Module,
    x: torch.Tensor,
    epsilon: float,
    steps: int = 100,
    step_size: float | None = None,
    target: torch.Tensor | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """x' with |x' - x| <= epsilon, x' in [0, 1]; a `target` latent makes it targeted."""
    step_size = step_size if step_size is not None else max(epsilon / 8, 0.25 / 255)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        z_ref = encoder(x)
    noise = (torch.rand(x.shape, generator=gen) * 2 - 1).to(x.device) * epsilon
    x_adv = (x + noise).clamp(0, 1)
    for _ in range(steps):
        x_adv.requires_grad_(True)
        z = encoder(x_adv)
        # Ascend the distance to the clean latent, or descend towards the target's.
        objective = (z - z_ref).pow(2).sum() if target is None else -(z - target).pow(2).sum()
        (grad,) = torch.autograd.grad(objective, x_adv)
        with torch.no_grad():
            x_adv = x_adv + step_size * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - epsilon), x + epsilon).clamp(0, 1)
    return x_adv.detach()


def target_pattern(shape: tuple[int, ...], period: int = 16) -> torch.Tensor:
    """A fixed high-contrast target image (a checkerboard), as Mist-style targeted attacks use."""
    _, _, h, w = shape
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    board = (((yy // period) + (xx // period)) % 2).float()
    return board.expand(shape[0], 3, h, w).contiguous()
