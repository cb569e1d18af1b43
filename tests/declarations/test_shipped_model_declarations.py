"""Declarations and C2PA on a file protected by the shipped model (models/manifest.json)."""

from __future__ import annotations

import json
from pathlib import Path

import c2pa
import fixative
import numpy as np
import pytest
from fixative.cli import main
from fixative.declarations.c2pa_sign import local_identity
from fixative.declarations.xmp import DeclarationSettings
from PIL import Image


def test_shipped_model_output_is_declared_signed_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, exiftool
) -> None:
    monkeypatch.delenv("FIXATIVE_MODEL", raising=False)
    assert fixative.default_model_path().name.endswith(".onnx")
    # smooth artwork-like content (noise would measure JPEG loss, not the protection)
    y, x = np.mgrid[0:64, 0:64]
    art = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    src = tmp_path / "art.png"
    Image.fromarray(art).save(src)
    dst = tmp_path / "art-protected.jpg"
    settings = fixative.ProtectSettings(declarations=DeclarationSettings(c2pa=True, creator="Ana"))
    report = fixative.protect_file(src, dst, settings)
    assert report.c2pa is True

    assert exiftool(dst)["XMP-plus:DataMining"].endswith("/DMI-PROHIBITED-GENAIMLTRAINING")
    with c2pa.Reader(str(dst)) as reader:
        assert reader.get_validation_state() == "Valid"
    anchor = str(local_identity().ca_cert)
    argv = ["check", str(dst), "--json", "--no-latent", "--trust-anchor", anchor]
    assert main([*argv, "--original", str(src)]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["c2pa"]["trusted"] is True
    assert result["c2pa"]["hash_match"] is True
    assert result["protection"]["psnr_db"] > 25
