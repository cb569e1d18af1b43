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

import fixative  # noqa: E402
from fixative_host import (  # noqa: E402
    ExportJob,
    HostCancelled,
    HostError,
    RawImage,
    choices,
    run_export,
)
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
    # The report carries the written file's facts from the core (`Written`), on both paths.
    for report, path in ((report_in, a), (report_out, b)):
        assert report["dst"] == str(path) and report["format"] == "PNG"
        assert report["declarations"] is True and report["quality"] is None
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
    assert j.settings == {
        "strength": "high",
        "mode": "thorough",  # single-image exports default to thorough
        "view": "auto",
        "steps": None,  # the core's default
        "declarations": {"enabled": False},
    }
    # Mode, view and steps are remembered; stale or hand-edited values fall back per field.
    fast = KritaSettings(mode="fast", view="native", steps=3)
    fast.save(krita)
    assert KritaSettings.load(krita) == fast
    assert fast.job("/x.png").settings["steps"] == 3
    for key, value in (("mode", "quick"), ("view", "huge"), ("steps", "9999")):
        krita.writeSetting("fixative", key, value)
    loaded = KritaSettings.load(krita)
    assert (loaded.mode, loaded.view, loaded.steps) == ("thorough", "auto", 0)
    # The job's settings are what the core reads.
    fixative.ProtectSettings.from_dict(fast.job("/x.png").settings)


def test_dialog_choices_are_the_cores() -> None:
    from fixative.protection.refine import DEFAULT_STEPS
    from fixative.protection.settings import MAX_STEPS, MODES, ProtectSettings

    assert choices.MODES == MODES and ProtectSettings().mode == choices.DEFAULT_MODE
    assert ProtectSettings().view == choices.DEFAULT_VIEW and choices.MAX_STEPS == MAX_STEPS
    assert str(DEFAULT_STEPS) in choices.DEFAULT_STEPS_TEXT
    assert all(choices.mode_help(m) for m in MODES)  # every mode explained in one line
    assert choices.progress_text("a.png", "step 3/8, tile 2/4") == (
        "Protecting a.png: step 3/8, tile 2/4"
    )


def test_external_worker_stops_when_the_host_goes_away(conv_model, tmp_path: Path) -> None:
    """GIMP kills a plug-in whose progress is cancelled: the worker, seeing its stdin close,
    stops at the core's next step and writes nothing."""
    import json
    import os
    import subprocess

    raw = raw_rgba(64, 64)
    work = tmp_path / "job"
    work.mkdir()
    (work / "pixels.raw").write_bytes(raw.data)
    out = tmp_path / "out.png"
    job_spec = ExportJob(path=str(out), fmt="png", settings={"mode": "thorough", "steps": 50})
    (work / "job.json").write_text(json.dumps({"image": raw.header(), "job": job_spec.to_dict()}))
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins" / "common")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixative_host.worker", str(work), "--watch-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    first = json.loads(proc.stdout.readline())  # the first progress message: it is running
    assert "progress" in first, first
    proc.stdin.close()  # the host is gone
    lines = [json.loads(line) for line in proc.stdout]
    assert proc.wait(timeout=60) == 1
    assert lines[-1].get("kind") == "cancelled", lines[-1]
    assert not out.exists()
