"""The PGD yardstick respects its budget and beats noise (a few steps suffice to show it)."""

from __future__ import annotations

import torch


def test_pgd_budget_and_strength(encoder, unseen_crops):
    from metrics import relative_distortion
    from pgd import pgd

    img = next(iter(unseen_crops.values()))[:64, :64]
    x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255
    eps = 8 / 255
    x_adv = pgd(encoder, x, eps, steps=5, step_size=2 / 255)
    assert float((x_adv - x).abs().max()) <= eps + 1e-6
    assert float(x_adv.min()) >= 0 and float(x_adv.max()) <= 1
    noise = (x + (torch.rand_like(x) * 2 - 1) * eps).clamp(0, 1)
    with torch.no_grad():
        z = encoder(x)
        d_pgd = float(relative_distortion(encoder(x_adv), z))
        d_noise = float(relative_distortion(encoder(noise), z))
    assert d_pgd > 1.5 * d_noise
