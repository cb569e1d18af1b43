"""`fixative check` and `fixative site-snippets`, driven through their argparse entry points."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from decl_helpers import edit_one_png_pixel, save_with_xmp
from fixative import cli
from fixative.declarations.c2pa_sign import local_identity, sign_c2pa
from fixative.declarations.xmp import DeclarationSettings, xmp_for
from fixative.jobs import check
from PIL import Image

SETTINGS = DeclarationSettings(c2pa=True, creator="Ana", other_constraints="no scraping")


def _cli(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(argv)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    args = _cli(*argv)
    code = args.run(args)
    return code, capsys.readouterr().out


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict]]:
    code, out = _run(capsys, *argv, "--json")
    return code, json.loads(out)


@pytest.fixture
def signed(tmp_path: Path, image: Image.Image) -> Path:
    path = save_with_xmp(image, tmp_path / "signed.png", "PNG", xmp_for(SETTINGS, None))
    sign_c2pa(path, "PNG", SETTINGS)
    return path


def test_file_with_nothing(tmp_path: Path, image: Image.Image, capsys) -> None:
    path = save_with_xmp(image, tmp_path / "plain.png", "PNG", None)
    code, out = _run(capsys, "check", str(path))
    assert code == 1
    assert "no declarations" in out
    assert "stripped" in out
    code, reports = _json(capsys, "check", str(path))
    assert reports[0]["xmp"] is None
    assert reports[0]["c2pa"]["present"] is False
    assert reports[0]["ok"] is False


def test_xmp_only(tmp_path: Path, image: Image.Image, capsys) -> None:
    path = save_with_xmp(image, tmp_path / "x.jpg", "JPEG", xmp_for(SETTINGS, None, fmt="JPEG"))
    code, out = _run(capsys, "check", str(path))
    assert code == 0
    assert "IPTC Data Mining: DMI-PROHIBITED-GENAIMLTRAINING" in out
    assert "no C2PA manifest" in out
    assert "creator: Ana" in out
    _, reports = _json(capsys, "check", str(path))
    xmp = reports[0]["xmp"]
    assert xmp["data_mining_code"] == "DMI-PROHIBITED-GENAIMLTRAINING"
    assert xmp["other_constraints"] == "no scraping"
    assert xmp["digital_source_type"].endswith("/digitalCreation")


def test_signed_file_untrusted_then_trusted(signed: Path, capsys) -> None:
    code, out = _run(capsys, "check", str(signed))
    assert code == 0
    assert "C2PA signature valid" in out
    assert "hash binding matches" in out
    assert "signer untrusted" in out
    assert "--trust-anchor" in out
    assert "ai_generative_training=notAllowed" in out

    anchor = str(local_identity().ca_cert)
    code, reports = _json(capsys, "check", str(signed), "--trust-anchor", anchor)
    c2 = reports[0]["c2pa"]
    assert code == 0
    assert c2["trusted"] is True
    assert c2["signature_valid"] is True
    assert c2["hash_match"] is True
    assert c2["training_mining"]["cawg.data_mining"] == {"use": "notAllowed"}
    assert "c2pa.created" in c2["actions"]
    assert c2["signer"]["common_name"] == "Ana"


def test_one_edited_pixel_after_signing_is_detected(signed: Path, capsys) -> None:
    before = np.asarray(Image.open(signed)).copy()
    edit_one_png_pixel(signed)
    after = np.asarray(Image.open(signed))
    assert int((before != after).sum()) == 1  # exactly one sample of one pixel changed
    code, out = _run(capsys, "check", str(signed))
    assert code == 1
    assert "hash binding MISMATCH" in out
    _, reports = _json(capsys, "check", str(signed))
    assert reports[0]["c2pa"]["hash_match"] is False
    assert reports[0]["c2pa"]["signature_valid"] is True  # the manifest itself is intact
    assert reports[0]["xmp"]["data_mining_code"]  # the XMP is still there


def test_reencoded_file_lost_everything(signed: Path, tmp_path: Path, capsys) -> None:
    # what a platform does on upload: decode and save again without metadata
    reencoded = tmp_path / "uploaded.jpg"
    Image.open(signed).convert("RGB").save(reencoded, quality=85)
    code, out = _run(capsys, "check", str(reencoded))
    assert code == 1
    assert "no declarations" in out


def test_stripped_xmp_but_manifest_kept(signed: Path, tmp_path: Path, capsys) -> None:
    # drop the iTXt XMP chunk only: the C2PA hash covers it, so the binding breaks too
    from decl_helpers import png_chunks, write_png_chunks

    chunks = [(t, d) for t, d in png_chunks(signed.read_bytes()) if t != b"iTXt"]
    stripped = write_png_chunks(tmp_path / "stripped.png", chunks)
    code, out = _run(capsys, "check", str(stripped))
    assert "no IPTC Data Mining value in XMP" in out
    assert code == 1
    assert "MISMATCH" in out


def test_original_comparison(tmp_path: Path, image: Image.Image, capsys) -> None:
    orig = tmp_path / "orig.png"
    image.save(orig)
    arr = np.asarray(image).astype(np.int16)
    delta = np.zeros_like(arr)
    delta[::2, ::2, 0] = 4
    prot = np.clip(arr + delta, 0, 255).astype(np.uint8)
    out_path = save_with_xmp(
        Image.fromarray(prot), tmp_path / "prot.png", "PNG", xmp_for(SETTINGS, None)
    )
    diff = (prot.astype(np.float64) - arr) / 255.0
    expected_psnr = 10 * np.log10(1.0 / np.mean(diff**2))
    code, reports = _json(capsys, "check", str(out_path), "--original", str(orig))
    assert code == 0
    prot_report = reports[0]["protection"]
    assert prot_report["psnr_db"] == pytest.approx(expected_psnr, abs=1e-6)
    assert prot_report["max_abs_diff_8bit"] == pytest.approx(np.abs(diff).max() * 255)
    # the shipped ONNX encoder always measures; a 64x48 image is its own AI view
    assert prot_report["taef2_latent_distortion"] > 0
    assert (prot_report["latent_view_width"], prot_report["latent_view_height"]) == (64, 48)
    _, same = _json(capsys, "check", str(orig), "--against", str(orig))
    assert same[0]["protection"]["taef2_latent_distortion"] == pytest.approx(0, abs=1e-9)
    assert same[0]["protection"]["ai_view_psnr"] is None  # identical: no finite PSNR
    assert same[0]["protection"]["ai_view_ssim"] == pytest.approx(1.0)
    _, out = _run(capsys, "check", str(out_path), "--original", str(orig))
    assert "FLUX.2, TAEF2 (aimed at)" in out and "at the AI's view (64x48)" in out
    assert "SDXL (also Pony, Illustrious, NoobAI), TAESDXL (measured, not aimed at)" in out
    assert "FLUX.1, TAEF1 (measured, not aimed at)" in out
    _, out = _run(capsys, "check", str(out_path), "--original", str(orig), "--no-latent")
    assert "TAEF2" not in out and "latent distortion" not in out
    assert f"PSNR {expected_psnr:.2f} dB" in out


def test_encoder_measures_are_taken_at_the_ai_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A picture larger than the view is encoded downscaled to it: original, protected and the
    noise baseline alike."""
    from fixative.protection import families, graphs, view

    seen: list[tuple[int, ...]] = []
    real = graphs.encode

    def spy(x: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        seen.append(x.shape)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(graphs, "encode", spy)
    monkeypatch.setattr(view, "DEFAULT_SIDE", 64)  # a small "1 MP" keeps the test fast
    rng = np.random.default_rng(1)
    a = rng.random((96, 160, 4))
    b = np.clip(a + rng.uniform(-0.03, 0.03, a.shape), 0, 1)
    got = check.measure_ai(a, b, "b.png")
    v = view.plan(96, 160, "auto")
    assert (got["latent_view_width"], got["latent_view_height"]) == (v.view_width, v.view_height)
    assert v.view_width < 160
    assert seen == [(v.view_height, v.view_width, 3)] * 3 * len(families.FAMILIES)
    assert got["taef2_latent_distortion"] > 0


AI_FIELDS = (
    "taef2_latent_distortion",
    "latent_times_noise",
    "ai_view_psnr",
    "ai_view_psnr_colour_matched",
    "ai_view_ssim",
    "ai_view_db_below_noise",
    "ai_view_colour_matched_db_below_noise",
    "ai_view_ssim_below_noise",
    "noise_psnr_db",
)
BASELINES = tuple(f"noise_{k}" for k in AI_FIELDS[:1] + AI_FIELDS[2:5])


def test_check_reports_what_the_ai_sees_beside_noise(tmp_path: Path, capsys) -> None:
    """A protected sample, checked against its original: every AI-view figure and its noise
    baseline, finite, and the same numbers on a second run (the noise is seeded)."""
    sample = Path(__file__).resolve().parents[2] / "samples" / "tiger.png"
    out = tmp_path / "tiger-protected.png"
    args = _cli("protect", str(sample), "-o", str(out), "--mode", "fast", "--quiet")
    assert args.run(args) == 0
    capsys.readouterr()
    _, first = _json(capsys, "check", str(out), "--original", str(sample))
    _, second = _json(capsys, "check", str(out), "--original", str(sample))
    prot = first[0]["protection"]
    for key in AI_FIELDS + BASELINES:
        assert isinstance(prot[key], float) and np.isfinite(prot[key]), key
    assert prot == second[0]["protection"]
    assert prot["noise_psnr_db"] == pytest.approx(prot["psnr_db"], abs=0.02)
    assert prot["ai_view_colour_matched_db_below_noise"] == pytest.approx(
        prot["noise_ai_view_psnr_colour_matched"] - prot["ai_view_psnr_colour_matched"]
    )
    assert 0 < prot["ai_view_ssim"] <= 1 and 0 < prot["noise_ai_view_ssim"] <= 1
    _, text = _run(capsys, "check", str(out), "--original", str(sample))
    gap = prot["ai_view_colour_matched_db_below_noise"]
    words = f"{abs(gap):.1f} dB {'worse' if gap >= 0 else 'better'}"
    assert f"FLUX.2 sees it far more wrongly than noise of the same visibility: {words}" in text
    for fid, fig in prot["families"].items():
        assert fig["seen"] in text, fid


def test_too_small_to_measure_names_the_file(tmp_path: Path, capsys) -> None:
    orig = tmp_path / "tiny.png"
    Image.new("RGB", (4, 4), (10, 20, 30)).save(orig)
    code, out = _run(capsys, "check", str(orig), "--original", str(orig))
    assert code == 2
    assert f"{orig}: cannot measure what FLUX.2, TAEF2 sees" in out


def test_original_of_another_size_is_a_clear_error(
    tmp_path: Path, image: Image.Image, capsys
) -> None:
    orig = tmp_path / "orig.png"
    image.resize((10, 10)).save(orig)
    path = save_with_xmp(image, tmp_path / "p.png", "PNG", None)
    code, out = _run(capsys, "check", str(path), "--original", str(orig))
    assert code == 2
    assert "differs from the original" in out


def test_unreadable_files_are_named(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    code, out = _run(capsys, "check", str(bad), str(tmp_path / "missing.png"))
    assert code == 2
    assert "notes.png" in out
    assert "missing.png" in out


def test_site_snippets_all_sections(capsys) -> None:
    code, out = _run(capsys, "site-snippets", "--policy", "https://ana.example/tdm")
    assert code == 0
    assert "tdm-reservation: 1" in out
    assert "tdm-policy: https://ana.example/tdm" in out
    assert "X-Robots-Tag: noai, noimageai" in out
    assert '<meta name="tdm-reservation" content="1">' in out
    assert '<meta name="tdm-policy" content="https://ana.example/tdm">' in out
    assert '<meta name="robots" content="noai, noimageai">' in out


def test_site_snippets_tdmrep_json_is_valid(capsys) -> None:
    code, out = _run(capsys, "site-snippets", "--only", "tdmrep", "--location", "/art/*")
    assert code == 0
    assert json.loads(out) == [{"location": "/art/*", "tdm-reservation": 1}]


def test_site_snippets_refuse_a_bad_policy_url(capsys) -> None:
    args = _cli("site-snippets", "--policy", 'javascript:"x"')
    assert args.run(args) == 2
    assert "must be an http(s) URL" in capsys.readouterr().err


def test_without_c2pa_python_check_still_reports(
    signed: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)  # import c2pa now raises ImportError
    code, reports = _json(capsys, "check", str(signed))
    c2 = reports[0]["c2pa"]
    assert c2["checked"] is False
    assert "fixative[c2pa]" in c2["note"]
    assert "seems to contain a C2PA manifest" in c2["note"]
    assert code == 0  # the XMP declaration is there
    assert reports[0]["xmp"]["data_mining_code"] == "DMI-PROHIBITED-GENAIMLTRAINING"


def test_without_c2pa_python_signing_names_the_extra(
    tmp_path: Path, image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fixative import MissingDependencyError

    monkeypatch.setitem(sys.modules, "c2pa", None)
    path = save_with_xmp(image, tmp_path / "a.png", "PNG", None)
    with pytest.raises(MissingDependencyError, match=r"c2pa-python.*fixative\[c2pa\]"):
        sign_c2pa(path, "PNG", SETTINGS)


def test_altered_manifest_is_reported(signed: Path, tmp_path: Path, capsys) -> None:
    from decl_helpers import png_chunks, write_png_chunks

    chunks = png_chunks(signed.read_bytes())
    altered = []
    for t, d in chunks:
        if t == b"caBX":  # the C2PA manifest store: rewrite one training-mining value
            d = d.replace(b"notAllowed", b"n0tAllowed", 1)
        altered.append((t, d))
    path = write_png_chunks(tmp_path / "altered.png", altered)
    code, reports = _json(capsys, "check", str(path))
    c2 = reports[0]["c2pa"]
    assert code == 1
    assert c2["present"] is True
    assert c2["validation_state"] == "Invalid"
    assert "assertion.hashedURI.mismatch" in [p["code"] for p in c2["problems"]]
    _, out = _run(capsys, "check", str(path))
    assert "C2PA manifest ALTERED" in out
