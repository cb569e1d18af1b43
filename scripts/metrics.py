"""Measurements shared by evaluation and tests (training side, torch)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def relative_distortion(z_adv: torch.Tensor, z_ref: torch.Tensor) -> torch.Tensor:
    """Per-image ||z_adv - z_ref|| / ||z_ref||."""
    num = (z_adv - z_ref).flatten(1).norm(dim=1)
    return num / z_ref.flatten(1).norm(dim=1).clamp_min(1e-6)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in [0, 1]."""
    mse = (a - b).pow(2).flatten(1).mean(dim=1).clamp_min(1e-12)
    return 10 * torch.log10(1.0 / mse)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Gaussian window 11, sigma 1.5, mean over channels), images in [0, 1]."""
    c1, c2 = 0.01**2, 0.03**2
    t = torch.arange(11, dtype=a.dtype) - 5
    g = torch.exp(-(t**2) / (2 * 1.5**2))
    g = g / g.sum()
    win = (g[:, None] * g[None, :]).expand(a.shape[1], 1, 11, 11).to(a.device)

    def filt(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, win, groups=a.shape[1])

    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return s.flatten(1).mean(dim=1)


def sign_agreement(d1: torch.Tensor, d2: torch.Tensor) -> float:
    """Share of pixels where two perturbations agree in sign (0.5 unrelated, 1 identical)."""
    s1, s2 = torch.sign(d1), torch.sign(d2)
    both = (s1 != 0) & (s2 != 0)
    return float((s1[both] == s2[both]).float().mean()) if both.any() else 0.5
