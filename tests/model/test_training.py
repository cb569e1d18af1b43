"""The training path, CI-sized: warm start, publishing transforms, checkpoint and resume."""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def g1_model() -> Path:
    # The default CPU preset warm-starts from it, so it stays in the repository.
    return REPO / "models" / "fixative-g1.onnx"


@pytest.fixture
def tiny_config():
    from generator import GeneratorConfig
    from train import TrainConfig

    # Two steps on 32 px crops: enough to run every stage of a real step, cheap enough for CI.
    return TrainConfig(
        steps=2,
        batch=2,
        crop=32,
        ckpt_every=1,
        p_resize=1.0,
        p_up=1.0,
        generator=GeneratorConfig(head="smooth", width=8, width_low=8, blocks_low=1),
    )


@pytest.fixture
def train_dir(tmp_path: Path) -> Path:
    """A training data folder (train.py --data) of smooth random colour fields: the real training
    set is not part of the repository, and a CI-sized run only needs every stage to run."""
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        small = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((96, 80), Image.BICUBIC).save(data / f"field_{i}.png")
    return data


def test_warm_start_copies_g1s_trunk_and_leaves_a_new_head(g1_model):
    from export_onnx import generator_from_onnx
    from generator import Generator, GeneratorConfig
    from train import warm_start

    gen = Generator(GeneratorConfig(head="smooth"))
    warm_start(gen, g1_model)
    source = generator_from_onnx(g1_model).state_dict()
    own = gen.state_dict()
    assert torch.equal(own["low.0.a.weight"], source["low.0.a.weight"])
    assert torch.equal(own["embed.weight"], source["embed.weight"])
    assert "head_up.weight" not in source  # the band-limited head is trained from scratch


def test_down_up_keeps_the_size_and_erases_pixel_stripes():
    from eot import down_up

    stripes = torch.zeros(1, 3, 64, 64)
    stripes[..., ::2, :] = 1.0
    out = down_up(stripes, 0.5)
    assert out.shape == stripes.shape
    # Period-2 stripes become flat grey (the outermost rows only feel the edge clamping).
    assert float((out - 0.5)[..., 4:-4, :].abs().max()) < 1e-3


def test_random_transform_names_what_it_drew():
    from eot import random_transform

    _, name = random_transform(random.Random(0), p_resize=1.0, p_blur=0.0, p_jpeg=0.0, p_up=1.0)
    assert name.startswith("resize") and name.endswith("up")
    _, name = random_transform(random.Random(0), p_resize=0.0, p_blur=0.0, p_jpeg=0.0)
    assert name == "identity"


def test_train_checkpoints_and_resumes(tmp_path, tiny_config, train_dir):
    from train import train

    run = tmp_path / "run"
    train(run, tiny_config, max_minutes=None, data_dir=train_dir)
    first = list(csv.DictReader((run / "log.csv").open()))
    assert [r["step"] for r in first] == ["1", "2"]
    assert torch.load(run / "ckpt.pt", weights_only=False)["step"] == 2

    train(run, replace(tiny_config, steps=3), max_minutes=None, data_dir=train_dir)
    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [r["step"] for r in rows] == ["1", "2", "3"]  # resumed at 2, no step trained twice
    assert rows[:2] == first
    for name in ("config.json", "data.txt", "digests.json"):
        assert (run / name).stat().st_size > 0
    assert [line.split()[0] for line in (run / "data.txt").read_text().splitlines()] == [
        "field_0.png",
        "field_1.png",
    ]
