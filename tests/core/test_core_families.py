"""The one table of model families (`fixative.protection.families`) drives check, preview and
evaluation: every family has its shipped, checked graphs, and check's per-family figures equal a
direct computation with those graphs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixative.cli import main as cli_main
from fixative.errors import SettingsError
from fixative.protection import families, graphs, measures
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("family", families.FAMILIES, ids=families.IDS)
def test_every_family_has_its_graphs(family: families.Family) -> None:
    """A family added to the table without exported, pinned graphs fails here."""
    for role in (family.encoder, family.decoder):
        path, pinned = graphs.graph_path(role)
        assert path.is_file() and pinned, f"{family.id}: no shipped {role} graph"
        assert graphs.verify(role) == pinned
    x = np.random.default_rng(0).random((40, 48, 3)).astype(np.float32)
    z = graphs.encode(x, family=family)
    assert z.shape == (1, family.latent_channels, 5, 6)
    assert graphs.decode(z, family=family).shape == (40, 48, 3)


def test_table_is_the_one_list() -> None:
    assert families.IDS == ("flux2", "sdxl", "flux1")
    assert families.TARGET.id == "flux2" and sum(f.target for f in families.FAMILIES) == 1
    assert len(set(families.graph_roles())) == 2 * len(families.FAMILIES)
    assert families.chosen(["flux1", "flux2", "flux1"]) == (
        families.get("flux2"),
        families.get("flux1"),
    )
    with pytest.raises(SettingsError, match="unknown model family 'sd15'"):
        families.get("sd15")


def test_manifest_lists_no_family_the_table_lacks() -> None:
    listed = json.loads((REPO / "models" / "manifest.json").read_text())["graphs"]
    roles = {r for r in listed if r.endswith(("encoder", "decoder"))}
    assert roles == set(families.graph_roles())


def test_families_sees_the_same_recons_differently() -> None:
    """The three autoencoders are different models: their reconstructions of one picture differ."""
    tiger = np.asarray(Image.open(REPO / "samples" / "tiger.png").convert("RGB"), np.float32)
    x = tiger[:128, :128] / 255.0
    recons = [graphs.decode(graphs.encode(x, family=f), family=f) for f in families.FAMILIES]
    flat = np.broadcast_to(x.mean(axis=(0, 1)), x.shape)
    for r in recons:  # each is a working autoencoder: far closer than the picture's mean colour
        assert measures.psnr(r, x) > measures.psnr(flat, x) + 6
    assert measures.psnr(recons[0], recons[1]) < 40 and measures.psnr(recons[0], recons[2]) < 40


def _direct(original: np.ndarray, protected: np.ndarray, family: families.Family) -> dict:
    """What check should report for one family, computed here from the graphs themselves."""
    noise = measures.matched_noise(original, measures.psnr(original, protected), levels=255)
    z = [graphs.encode(x, family=family) for x in (original, protected, noise)]
    r = [graphs.decode(v, family=family) for v in z]
    seen, noise_seen = measures.AIView.of(r[1], r[0]), measures.AIView.of(r[2], r[0])
    return {
        "latent_distortion": graphs.relative_distance(z[1], z[0]),
        "noise_latent_distortion": graphs.relative_distance(z[2], z[0]),
        **seen.to_dict(),
        **noise_seen.to_dict("noise_"),
        **measures.gaps(seen, noise_seen),
    }


def test_check_reports_each_family_as_computed_directly(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(3)
    tiger = np.asarray(Image.open(REPO / "samples" / "tiger.png").convert("RGB"))
    orig = tiger[:96, :128]
    prot = np.clip(orig.astype(np.int16) + rng.integers(-3, 4, orig.shape), 0, 255).astype(np.uint8)
    Image.fromarray(orig).save(tmp_path / "o.png")
    Image.fromarray(prot).save(tmp_path / "p.png")
    code = cli_main(
        ["check", str(tmp_path / "p.png"), "--original", str(tmp_path / "o.png"), "--json"]
    )
    assert code == 1  # no declarations in these bare PNGs
    report = json.loads(capsys.readouterr().out)[0]["protection"]
    assert list(report["families"]) == list(families.IDS)
    o, p = orig / 255.0, prot / 255.0
    for family in families.FAMILIES:
        got = report["families"][family.id]
        assert got["name"] == family.name and got["aimed_at"] == family.target
        for key, want in _direct(o.astype(np.float32), p, family).items():
            assert got[key] == pytest.approx(want, rel=1e-5, abs=1e-7), (family.id, key)
        gap = got["ai_view_colour_matched_db_below_noise"]
        assert got["seen"] == families.seen_words(family, gap)
    flux2 = report["families"]["flux2"]
    assert report["taef2_latent_distortion"] == flux2["latent_distortion"]
    assert report["ai_view_ssim"] == flux2["ai_view_ssim"]


def test_family_option_chooses(tmp_path: Path, capsys) -> None:
    img = np.asarray(Image.open(REPO / "samples" / "tiger.png").convert("RGB"))[:64, :64]
    Image.fromarray(img).save(tmp_path / "o.png")
    args = ["check", str(tmp_path / "o.png"), "--original", str(tmp_path / "o.png"), "--json"]
    cli_main([*args, "--family", "sdxl"])
    report = json.loads(capsys.readouterr().out)[0]["protection"]
    assert list(report["families"]) == ["sdxl"] and "taef2_latent_distortion" not in report
    cli_main([*args, "--family", "flux1", "--family", "flux2"])
    report = json.loads(capsys.readouterr().out)[0]["protection"]
    assert list(report["families"]) == ["flux2", "flux1"]
    with pytest.raises(SystemExit):
        cli_main([*args, "--family", "sd15"])


@pytest.mark.parametrize(
    ("gap", "words"),
    [
        (None, "sees no change"),
        (2.1, "about as it sees noise of the same visibility: 2.1 dB worse"),
        (-0.4, "about as it sees noise of the same visibility: 0.4 dB better"),
        (13.9, "far more wrongly than noise of the same visibility: 13.9 dB worse"),
    ],
)
def test_seen_words(gap: float | None, words: str) -> None:
    assert words in families.seen_words(families.get("sdxl"), gap)
