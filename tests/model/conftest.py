"""Fixtures for the shipped-model tests: TAEF2, unseen crops (scripts/ is on pythonpath)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch  # the train extra: scripts/run-tests.sh installs it; these tests never skip without it

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def encoder():
    """TAEF2's encoder rebuilt from the shipped models/taef2-encoder.onnx (the one copy)."""
    from taef2 import load_encoder

    torch.set_num_threads(2)
    return load_encoder()


@pytest.fixture(scope="session")
def unseen_crops() -> dict[str, np.ndarray]:
    """256x256 uint8 RGB centre crops of evaluation images (never trained on; data/eval/)."""
    from dataset import center_crop, eval_files, load_rgb

    picks = [
        f for f in eval_files() if f.name in ("clip_tiger.png", "gnome_wood-d.png", "clip_park.png")
    ]
    return {f.name: (center_crop(load_rgb(f), 256) * 255 + 0.5).astype(np.uint8) for f in picks}
