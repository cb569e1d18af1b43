"""The host-neutral plug-in glue (plugins/common/fixative_host) and the hosts' pure helpers,
outside any host: in-process and external-Python runs give the same file, cancel, errors,
Krita's BGRA swap, settings persistence."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "plugins" / "common"))
sys.path.insert(0, str(REPO / "plugins" / "krita"))

from fixative_host import ExportJob, HostCancelled, HostError, RawImage, run_export  # noqa: E402
from fixative_krita import bridge as krita_bridge  # noqa: E402
from fixative_krita.settings import KritaSettings  # noqa: E402


def raw_rgba(h: int = 40, w: int = 56, seed: int = 0) -> RawImage:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    pixels[:, :5, 3] = 0
    return RawImage(pixels.tobytes(), w, h, 4, "u8")


def job(path: Path, **kw) -> ExportJob:
    return ExportJob(path=str(path), fmt="png", settings={"strength": "medium"}, **kw)


def test_raw_image_checks_its_buffer() -> None:
    with pytest.raises(ValueError, match="expected"):
        RawImage(b"\0" * 10, 2, 2, 4, "u8")
    with pytest.raises(ValueError, match="sample"):
        RawImage(b"\0" * 16, 2, 2, 4, "u12")


def test_in_process_and_external_python_write_the_same_file(conv_model, tmp_path: Path) -> None:
    raw = raw_rgba()
    a, b = tmp_path / "in.png", tmp_path / "out.png"
    report_in = run_export(raw, job(a))
    seen = []
    report_out = run_export(
        raw, job(b), python=sys.executable, external=True, progress=lambda f, m: seen.append(f)
    )
    assert a.read_bytes() == b.read_bytes()
    for key in ("epsilon", "psnr", "max_abs_diff", "model_sha256", "width", "height"):
        assert report_in[key] == report_out[key], key
    assert seen and seen[-1] == pytest.approx(1.0)
    with Image.open(a) as im:
        out = np.asarray(im)
    src = np.frombuffer(raw.data, np.uint8).reshape(40, 56, 4)
    assert np.array_equal(out[..., 3], src[..., 3])
    assert np.abs(out[..., :3].astype(int) - src[..., :3]).max() <= round(4 / 255 * 255) + 1


def test_keep_alpha_false_flattens_onto_white(conv_model, tmp_path: Path) -> None:
    path = tmp_path / "flat.jpg"
    run_export(raw_rgba(), ExportJob(path=str(path), fmt="jpeg", keep_alpha=False, quality=95))
    with Image.open(path) as im:
        assert im.mode == "RGB"
        left = np.asarray(im)[:, :4].astype(int)  # fully transparent strip: white
    assert left.min() > 230


def test_external_cancel_writes_nothing(conv_model, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(HostCancelled):
        run_export(
            raw_rgba(),
            job(out / "x.png"),
            python=sys.executable,
            external=True,
            cancel=lambda: True,
        )
    assert list(out.iterdir()) == []


def test_external_errors_are_messages(conv_model, tmp_path: Path) -> None:
    with pytest.raises(HostError, match="Cannot start the external Python"):
        run_export(
            raw_rgba(), job(tmp_path / "x.png"), python=str(tmp_path / "nope"), external=True
        )
    missing = tmp_path / "no-such-folder" / "x.png"
    with pytest.raises(HostError, match="no-such-folder"):
        run_export(raw_rgba(), job(missing), python=sys.executable, external=True)
    with pytest.raises(HostError, match="no-such-folder"):
        run_export(raw_rgba(), job(missing))


def test_krita_bgra_swap_8_and_16_bit() -> None:
    assert krita_bridge.bgra_to_rgba(bytes([1, 2, 3, 4, 5, 6, 7, 8]), "B") == bytes(
        [3, 2, 1, 4, 7, 6, 5, 8]
    )
    px = np.array([[10, 20, 30, 40]], np.uint16)
    out = np.frombuffer(krita_bridge.bgra_to_rgba(px.tobytes(), "H"), np.uint16)
    assert out.tolist() == [30, 20, 10, 40]


def test_krita_drops_alpha_only_when_opaque() -> None:
    opaque = bytes([1, 2, 3, 255, 4, 5, 6, 255])
    assert krita_bridge.drop_opaque_alpha(opaque, "B") == (bytes([1, 2, 3, 4, 5, 6]), 3)
    seen = bytes([1, 2, 3, 255, 4, 5, 6, 254])
    assert krita_bridge.drop_opaque_alpha(seen, "B") == (seen, 4)
    px = np.array([[1, 2, 3, 65535]], np.uint16).tobytes()
    data, channels = krita_bridge.drop_opaque_alpha(px, "H")
    assert channels == 3 and np.frombuffer(data, np.uint16).tolist() == [1, 2, 3]


def test_krita_reads_icc_from_jpeg_segments(tmp_path: Path) -> None:
    icc = Path("/usr/share/color/icc/sRGB.icc")
    profile = icc.read_bytes() if icc.exists() else b"p" * 70000  # spans two APP2 chunks
    Image.new("RGB", (4, 4)).save(tmp_path / "a.jpg", icc_profile=profile)
    assert krita_bridge.jpeg_icc((tmp_path / "a.jpg").read_bytes()) == profile
    Image.new("RGB", (4, 4)).save(tmp_path / "b.jpg")
    assert krita_bridge.jpeg_icc((tmp_path / "b.jpg").read_bytes()) is None


def test_krita_linear_profiles_are_detected() -> None:
    assert krita_bridge.is_linear("sRGB-elle-V2-g10.icc")
    assert krita_bridge.is_linear("scRGB (linear)")
    assert not krita_bridge.is_linear("sRGB-elle-V2-srgbtrc.icc")
    assert not krita_bridge.is_linear("ClayRGB-elle-V2-g22.icc")


class FakeKrita:
    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def readSetting(self, group: str, name: str, default: str) -> str:
        return self.store.get((group, name), default)

    def writeSetting(self, group: str, name: str, value: str) -> None:
        self.store[(group, name)] = value


def test_krita_settings_round_trip_and_tolerate_bad_values() -> None:
    krita = FakeKrita()
    chosen = KritaSettings(fmt="jpeg", strength="high", declarations=False, jpeg_quality=77)
    chosen.save(krita)
    assert KritaSettings.load(krita) == chosen
    krita.writeSetting("fixative", "fmt", "bmp")
    krita.writeSetting("fixative", "jpeg_quality", "many")
    loaded = KritaSettings.load(krita)
    assert loaded.fmt == "png" and loaded.jpeg_quality == 90
    j = chosen.job("/x.jpg")
    assert j.quality == 77 and not j.keep_alpha
    assert j.settings == {"strength": "high", "declarations": {"enabled": False}}
