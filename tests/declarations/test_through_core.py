"""Declarations written by the real export path: `fixative.protect_file`, `write_image`, and the
`fixative` command, with a small contract-following model (the `conv_model` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import c2pa
import fixative
import numpy as np
import pytest
from decl_helpers import ARTIST_PACKET, FORMATS, FULL, save_with_xmp
from fixative.cli import main
from fixative.declarations.c2pa_sign import C2paSigningError, local_identity
from fixative.declarations.xmp import (
    CorruptXmpError,
    DeclarationSettings,
    XmpTooLargeError,
    read_declarations,
)
from PIL import Image

pytestmark = pytest.mark.usefixtures("conv_model")


def _settings(**decl: object) -> fixative.ProtectSettings:
    return fixative.ProtectSettings(declarations=DeclarationSettings(**decl))  # type: ignore[arg-type]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_protect_file_declares_and_keeps_the_artists_xmp(
    fmt: str, tmp_path: Path, image: Image.Image, exiftool
) -> None:
    src = save_with_xmp(image, tmp_path / f"art{FORMATS[fmt]}", fmt, ARTIST_PACKET)
    dst = tmp_path / f"art-protected{FORMATS[fmt]}"
    settings = fixative.ProtectSettings(declarations=FULL)
    report = fixative.protect_file(src, dst, settings)
    assert report.declarations is True

    tags = exiftool(dst)
    assert tags["XMP-plus:DataMining"].endswith("/DMI-PROHIBITED-SEECONSTRAINT")
    assert tags["XMP-plus:OtherConstraints"] == FULL.other_constraints
    assert tags["XMP-iptcExt:DigitalSourceType"].endswith("/digitalCreation")
    assert tags["XMP-dc:Creator"] == "Ana Ártist"
    assert tags["XMP-dc:Title"] == "Sunset over the bay"  # the artist's own field survives
    assert tags["XMP-dc:Rights"] == FULL.copyright
    assert tags["XMP-xmpRights:WebStatement"] == FULL.web_statement
    found = read_declarations(Image.open(dst).info["xmp"])
    assert found["title"] == "Sunset over the bay"
    # the source is untouched
    assert read_declarations(Image.open(src).info["xmp"])["data_mining_code"] == "DMI-ALLOWED"


def test_declarations_off_keeps_the_existing_packet_unchanged(
    tmp_path: Path, image: Image.Image
) -> None:
    src = save_with_xmp(image, tmp_path / "art.png", "PNG", ARTIST_PACKET)
    dst = tmp_path / "out.png"
    fixative.protect_file(src, dst, _settings(enabled=False, c2pa=True))
    found = read_declarations(Image.open(dst).info["xmp"])
    assert found["data_mining_code"] == "DMI-ALLOWED"
    assert b"c2pa" not in dst.read_bytes()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_protect_file_with_c2pa_then_check(
    fmt: str, tmp_path: Path, image: Image.Image, capsys
) -> None:
    src = save_with_xmp(image, tmp_path / f"art{FORMATS[fmt]}", fmt, None)
    dst = tmp_path / f"signed{FORMATS[fmt]}"
    report = fixative.protect_file(src, dst, _settings(c2pa=True, creator="Ana"))
    assert report.c2pa is True
    with c2pa.Reader(str(dst)) as reader:
        manifest = reader.get_active_manifest()
        assert reader.get_validation_state() == "Valid"
    assert manifest["title"] == dst.name
    assert _leftovers(tmp_path) == []

    anchor = str(local_identity().ca_cert)
    argv = ["check", str(dst), "--json", "--trust-anchor", anchor, "--original", str(src)]
    code = main([*argv, "--no-latent"])  # the latent metric is covered in test_check_and_snippets
    result = json.loads(capsys.readouterr().out)[0]
    assert code == 0
    assert result["xmp"]["data_mining_code"] == "DMI-PROHIBITED-GENAIMLTRAINING"
    assert result["c2pa"]["trusted"] is True
    assert result["c2pa"]["hash_match"] is True
    prot = result["protection"]
    # the test model perturbs by at most epsilon(medium) = 4/255, plus JPEG/WebP coding loss
    assert prot["psnr_db"] > 25
    if fmt in ("PNG", "TIFF"):
        assert prot["max_abs_diff_8bit"] <= 4 + 1e-6


def test_rgba_alpha_survives_signing(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
    src = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(src)
    dst = tmp_path / "b.png"
    fixative.protect_file(src, dst, _settings(c2pa=True))
    out = np.asarray(Image.open(dst))
    assert np.array_equal(out[..., 3], rgba[..., 3])


def test_write_image_for_adapters(tmp_path: Path, exiftool) -> None:
    pixels = np.full((32, 32, 3), 0.5, dtype=np.float32)
    dst = tmp_path / "export.png"
    fixative.write_image(
        dst,
        pixels,
        fmt="PNG",
        settings=_settings(creator="Ana", c2pa=True),
        xmp=ARTIST_PACKET,
    )
    tags = exiftool(dst)
    assert tags["XMP-plus:DataMining"].endswith("/DMI-PROHIBITED-GENAIMLTRAINING")
    assert tags["XMP-dc:Creator"] == "Ana"
    assert tags["XMP-dc:Title"] == "Sunset over the bay"
    with c2pa.Reader(str(dst)) as reader:
        assert reader.get_validation_state() == "Valid"


def test_corrupt_existing_xmp_writes_nothing(tmp_path: Path, image: Image.Image) -> None:
    # A truncated packet (an unclosed element) in an otherwise fine PNG.
    broken = ARTIST_PACKET.replace(b"</x:xmpmeta>", b"")
    src = save_with_xmp(image, tmp_path / "art.png", "PNG", broken)
    dst = tmp_path / "out.png"
    with pytest.raises(CorruptXmpError, match="not well-formed"):
        fixative.protect_file(src, dst, _settings())
    assert not dst.exists()
    assert _leftovers(tmp_path) == []
    # the artist can still export, knowingly, without declarations
    fixative.protect_file(src, dst, _settings(enabled=False))
    assert dst.exists()


def test_oversized_xmp_for_jpeg_writes_nothing(tmp_path: Path, image: Image.Image) -> None:
    big = ARTIST_PACKET.replace(b"Sunset over the bay", b"Sunset " + b"over the bay, " * 5000)
    src = save_with_xmp(image, tmp_path / "art.png", "PNG", big)
    dst = tmp_path / "out.jpg"
    with pytest.raises(XmpTooLargeError, match=r"out\.jpg"):
        fixative.protect_file(src, dst, _settings())
    assert not dst.exists()
    assert _leftovers(tmp_path) == []
    # PNG has no such limit
    fixative.protect_file(src, tmp_path / "out.png", _settings())
    assert read_declarations(Image.open(tmp_path / "out.png").info["xmp"])["data_mining"]


def test_unwritable_config_folder_writes_nothing(
    tmp_path: Path, image: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file, not a folder")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    src = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    with pytest.raises(C2paSigningError, match="blocked"):
        fixative.protect_file(src, out_dir / "art.png", _settings(c2pa=True))
    assert list(out_dir.iterdir()) == []


def test_cli_protect_then_check_reports_declarations(
    tmp_path: Path, image: Image.Image, capsys
) -> None:
    src = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    dst = tmp_path / "art-protected.png"
    assert main(["protect", str(src), "-o", str(dst)]) == 0
    capsys.readouterr()
    assert main(["check", str(dst)]) == 0
    out = capsys.readouterr().out
    assert "IPTC Data Mining: DMI-PROHIBITED-GENAIMLTRAINING" in out
    assert main(["site-snippets", "--only", "headers"]) == 0
    assert capsys.readouterr().out == (
        "tdm-reservation: 1\nContent-Usage: train-ai=n\nX-Robots-Tag: noai, noimageai\n"
    )


def test_16bit_png_is_declared_signed_and_compared(tmp_path: Path, capsys, exiftool) -> None:
    rng = np.random.default_rng(5)
    rgb16 = rng.integers(0, 65536, (40, 48, 3), dtype=np.uint16)
    src = tmp_path / "deep.png"
    fixative.write_image(src, rgb16, fmt="PNG", settings=_settings(enabled=False))
    dst = tmp_path / "deep-protected.png"
    fixative.protect_file(src, dst, _settings(c2pa=True))
    assert fixative.read_image(dst).pixels.dtype == np.uint16
    assert exiftool(dst)["XMP-plus:DataMining"].endswith("/DMI-PROHIBITED-GENAIMLTRAINING")
    assert main(["check", str(dst), "--json", "--original", str(src), "--no-latent"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["c2pa"]["hash_match"] is True
    assert result["protection"]["bit_depth"] == [16, 16]
    assert 0 < result["protection"]["max_abs_diff"] <= 4 / 255 + 1e-6


def test_cli_declaration_options(tmp_path: Path, image: Image.Image, capsys, exiftool) -> None:
    src = save_with_xmp(image, tmp_path / "art.png", "PNG", None)
    dst = tmp_path / "art-protected.webp"
    argv = ["protect", str(src), "-o", str(dst), "--data-mining", "DMI-PROHIBITED"]
    argv += ["--creator", "Ana", "--copyright", "© Ana", "--web-statement", "https://a.example/r"]
    argv += ["--c2pa", "--ai-inference", "allowed"]
    assert main(argv) == 0
    tags = exiftool(dst)
    assert tags["XMP-plus:DataMining"] == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"
    assert tags["XMP-dc:Creator"] == "Ana"
    assert tags["XMP-dc:Rights"] == "© Ana"
    assert tags["XMP-xmpRights:WebStatement"] == "https://a.example/r"
    capsys.readouterr()
    assert main(["check", str(dst), "--json"]) == 0
    c2 = json.loads(capsys.readouterr().out)[0]["c2pa"]
    assert c2["training_mining"]["cawg.ai_inference"] == {"use": "allowed"}
    assert c2["training_mining"]["cawg.ai_training"] == {"use": "notAllowed"}
    assert c2["signer"]["common_name"] == "Ana"
    # an invalid combination is refused before anything is written
    bad = tmp_path / "bad.png"
    with pytest.raises(SystemExit) as exit_info:  # a usage error, like argparse's own
        main(["protect", str(src), "-o", str(bad), "--data-mining", "DMI-PROHIBITED-SEECONSTRAINT"])
    assert exit_info.value.code == 2
    assert "other_constraints" in capsys.readouterr().err
    assert not bad.exists()
