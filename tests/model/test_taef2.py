"""The hand-written TAEF2 fits the upstream weights (reconstruction); the fetcher checks hashes."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def test_reconstruction_psnr(encoder, unseen_crops):
    from taef2 import load_decoder

    decoder = load_decoder()
    psnrs = []
    for img in unseen_crops.values():
        x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            z = encoder(x)
            y = decoder(z).clamp(0, 1)
        assert z.shape == (1, 32, 32, 32)
        psnrs.append(float(10 * torch.log10(1 / (y - x).pow(2).mean())))
    # A wrong architecture reconstructs noise (~10 dB); upstream quality is ~30 dB.
    assert np.mean(psnrs) > 25


def test_fetch_refuses_tampered_weights(tmp_path):
    from fetch_models import fetch

    src = tmp_path / "src"
    src.mkdir()
    # Not the real weights (those live only upstream): any bytes but the pinned ones are refused.
    for name in ("taef2_encoder.pth", "taef2_decoder.pth"):
        (src / name).write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40)
    with pytest.raises(SystemExit, match="does not match the pinned"):
        fetch(tmp_path / "dest", source=src)
    assert not (tmp_path / "dest" / "taef2_encoder.pth").exists()
