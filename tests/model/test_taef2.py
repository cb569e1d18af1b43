"""The hand-written TAEF2 fits the upstream weights (reconstruction); the fetcher checks hashes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch


def test_reconstruction_psnr(taef2_dir, encoder, unseen_crops):
    from taef2 import load_decoder

    decoder = load_decoder(taef2_dir / "taef2_decoder.pth")
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


def test_fetch_refuses_tampered_weights(tmp_path, taef2_dir):
    from fetch_models import fetch

    src = tmp_path / "src"
    src.mkdir()
    for f in taef2_dir.glob("*.pth"):
        shutil.copy(f, src / f.name)
    with (src / "taef2_encoder.pth").open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    with pytest.raises(SystemExit, match="does not match the pinned"):
        fetch(tmp_path / "dest", source=src)
    assert not (tmp_path / "dest" / "taef2_encoder.pth").exists()
