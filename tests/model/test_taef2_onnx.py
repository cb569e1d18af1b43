"""The shipped TAEF2 graphs (scripts/export_taef2.py) against torch: the gradient against autograd
on random and real images of several sizes, the forward graphs, the mask against its one
definition (scripts/generator.py), and the manifest's pins."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from fixative.protection import families

MODELS = Path(__file__).resolve().parents[2] / "models"


def _session(name: str) -> ort.InferenceSession:
    return ort.InferenceSession(str(MODELS / name), providers=["CPUExecutionProvider"])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _inputs(unseen_crops) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    real = [img.transpose(2, 0, 1)[None].astype(np.float32) / 255 for img in unseen_crops.values()]
    crops = [real[0][:, :, :136, :200], real[1][:, :, 40:104, 8:256], real[2]]
    return [*crops, rng.random((2, 3, 64, 96), dtype=np.float32)]


def test_gradient_graph_matches_autograd(encoder, unseen_crops):
    grad_sess = _session("taef2-encoder-grad.onnx")
    for x in _inputs(unseen_crops):
        xt = torch.from_numpy(x).requires_grad_(True)
        z = encoder(xt)
        target = z.detach() + 0.3 * torch.randn_like(z, generator=torch.Generator().manual_seed(0))
        (0.5 * ((z - target) ** 2).sum()).backward()
        grad, latent = grad_sess.run(None, {"image": x, "target": target.numpy()})
        assert grad.shape == x.shape and latent.shape == tuple(z.shape)
        assert _rel(latent, z.detach().numpy()) < 1e-5
        # ReLU ties can flip a few entries; the direction must still agree to ~1e-3.
        assert _rel(grad, xt.grad.numpy()) < 2e-3, x.shape


def test_view_gradient_graph_matches_autograd(encoder, unseen_crops):
    """The hand-written VJP of the colour-matched objective against autograd through the fit."""
    from taef2 import load_decoder

    decoder = load_decoder()
    view = _session("taef2-view-grad.onnx")
    weights = torch.tensor([0.5, 4.0, 30.0])
    for x in _inputs(unseen_crops)[:3]:
        xt = torch.from_numpy(x).requires_grad_(True)
        z = encoder(xt)
        y = decoder(z)
        g0 = torch.Generator().manual_seed(1)
        z_t = z.detach() + 0.3 * torch.randn(z.shape, generator=g0)
        y_t = y.detach() + 0.05 * torch.randn(y.shape, generator=g0)
        # The least-squares gain and offset per channel, differentiated through (not detached).
        dims = (2, 3)
        dy = y - y.mean(dim=dims, keepdim=True)
        gain = (dy * (y_t - y_t.mean(dim=dims, keepdim=True))).mean(dim=dims, keepdim=True) / (
            (dy * dy).mean(dim=dims, keepdim=True) + 1e-12
        )
        offset = y_t.mean(dim=dims, keepdim=True) - gain * y.mean(dim=dims, keepdim=True)
        loss = (
            weights[0] * 0.5 * ((z - z_t) ** 2).sum()
            + weights[1] * 0.5 * ((y - y_t) ** 2).sum()
            + weights[2] * 0.5 * ((gain * y + offset - y_t) ** 2).sum()
        )
        loss.backward()
        feeds = {"image": x, "target": z_t.numpy(), "target_image": y_t.numpy()}
        grad, latent, recon = view.run(None, {**feeds, "weights": weights.numpy()})
        assert _rel(latent, z.detach().numpy()) < 1e-5
        assert _rel(recon, y.detach().numpy()) < 1e-5
        # Through the decoder's 20 ReLUs float32 ties move more entries (float64: exact).
        assert _rel(grad, xt.grad.numpy()) < 1e-2, x.shape


def test_forward_graphs_and_mask_match_torch(encoder, unseen_crops):
    from generator import texture_mask
    from taef2 import load_decoder

    decoder = load_decoder()
    enc, dec, mask = (
        _session(n) for n in ("taef2-encoder.onnx", "taef2-decoder.onnx", "texture-mask.onnx")
    )
    params = json.loads(mask.get_modelmeta().custom_metadata_map["fixative.mask"])
    for x in _inputs(unseen_crops)[:2]:
        with torch.no_grad():
            z = encoder(torch.from_numpy(x))
            y = decoder(z)
            m = texture_mask(torch.from_numpy(x), params["floor"], params["texture"])
        assert _rel(enc.run(None, {"image": x})[0], z.numpy()) < 1e-5
        assert _rel(dec.run(None, {"latent": z.numpy()})[0], y.numpy()) < 1e-5
        # Near-flat areas: mean(x²) − mean(x)² cancels in float32 (~1e-4 of std), and the two
        # runtimes round in a different order; that moves the mask by < 1 % of the budget.
        diff = np.abs(mask.run(None, {"image": x})[0] - m.numpy())
        assert diff.max() < 1e-2 and diff.mean() < 1e-3


def test_mask_parameters_are_the_default_generators():
    import onnx

    manifest = json.loads((MODELS / "manifest.json").read_text())
    gen = onnx.load(str(MODELS / manifest["default"]))
    arch = json.loads({p.key: p.value for p in gen.metadata_props}["fixative.architecture"])
    meta = _session("texture-mask.onnx").get_modelmeta().custom_metadata_map
    assert json.loads(meta["fixative.mask"]) == {
        "floor": arch["mask_floor"],
        "texture": arch["mask_texture"],
    }


FAMILY_ROLES = [role for f in families.FAMILIES if not f.target for role in (f.encoder, f.decoder)]


@pytest.mark.parametrize(
    "role", ["encoder", "decoder", "encoder_grad", "view_grad", "texture_mask", *FAMILY_ROLES]
)
def test_manifest_pins_each_graph(role):
    entry = json.loads((MODELS / "manifest.json").read_text())["graphs"][role]
    data = (MODELS / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    meta = _session(entry["file"]).get_modelmeta().custom_metadata_map
    assert meta["fixative.role"] == role
    assert "MIT" in meta["fixative.licence"]


@pytest.mark.parametrize(
    "family", [f for f in families.FAMILIES if not f.target], ids=lambda f: f.id
)
def test_family_graphs_match_torch(family, unseen_crops):
    """TAESDXL's and TAEF1's graphs against a torch forward of the same weights: the family
    layout of scripts/taef2.py rebuilt from the graphs' initializers (strictly, every key)."""
    from taef2 import load_family

    encoder, decoder = load_family(family.id, "encoder"), load_family(family.id, "decoder")
    enc, dec = (
        _session(f"{family.autoencoder.lower()}-encoder.onnx"),
        _session(f"{family.autoencoder.lower()}-decoder.onnx"),
    )
    meta = enc.get_modelmeta().custom_metadata_map
    assert meta["fixative.family"] == family.id and meta["fixative.role"] == family.encoder
    for x in _inputs(unseen_crops):
        (z,) = enc.run(None, {"image": x})
        (y,) = dec.run(None, {"latent": z})
        with torch.no_grad():
            zt = encoder(torch.from_numpy(x))
            yt = decoder(zt)
        assert z.shape == (x.shape[0], family.latent_channels, x.shape[2] // 8, x.shape[3] // 8)
        assert _rel(z, zt.numpy()) < 1e-5 and _rel(y, yt.numpy()) < 1e-5, x.shape
