"""The shared glue as Blender uses it (outside Blender): `run_file_export` for renders and
frames, JPEG flattening onto white, the missing-package message, cancellation; and the build
script vendoring `fixative_host` into the extension."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "plugins" / "common"))

import fixative  # noqa: E402
from fixative_host import (  # noqa: E402
    ExportJob,
    HostCancelled,
    HostError,
    RawImage,
    run_export,
    run_file_export,
    runner,
)


def rgba(h: int = 32, w: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    pixels[:, :6, 3] = 0  # transparent strip
    pixels[:, 6:12] = (0, 0, 0, 128)  # half-transparent black
    return pixels


def job(path: Path, fmt: str = "png", **kw) -> ExportJob:
    settings = {"strength": "medium", "mode": "fast", "declarations": {"enabled": True}}
    return ExportJob(path=str(path), fmt=fmt, settings=settings, **kw)


def test_file_export_equals_protect_file(conv_model, tmp_path: Path) -> None:
    src = tmp_path / "render.png"
    Image.fromarray(rgba(), "RGBA").save(src)
    seen: list[float] = []
    report = run_file_export(src, job(tmp_path / "a.png"), progress=lambda f, m: seen.append(f))
    direct = fixative.protect_file(
        src, tmp_path / "b.png", fixative.ProtectSettings.from_dict(job(src).settings)
    )
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert report["mode"] == direct.mode == "fast" and report["width"] == 40
    assert seen and seen[-1] == pytest.approx(1.0)
    # In place, as the frame handler replaces a frame.
    run_file_export(src, job(src))
    assert src.read_bytes() == (tmp_path / "a.png").read_bytes()


@pytest.mark.parametrize("path", ["file", "pixels"])
def test_jpeg_flattens_onto_white(conv_model, tmp_path: Path, path: str) -> None:
    """A semi-transparent pixel exported as JPEG comes out over white, on both of Blender's
    paths (a render's temporary PNG, an image's pixels), as Krita and GIMP do."""
    pixels = rgba()
    out = tmp_path / "flat.jpg"
    target = job(out, "jpeg", quality=95, keep_alpha=False)
    if path == "file":
        src = tmp_path / "render.png"
        Image.fromarray(pixels, "RGBA").save(src)
        run_file_export(src, target)
    else:
        run_export(RawImage(pixels.tobytes(), 40, 32, 4, "u8"), target)
    with Image.open(out) as im:
        assert im.mode == "RGB"
        got = np.asarray(im).astype(int)
    assert got[:, 1:5].min() > 225  # transparent: white
    half = got[4:-4, 7:11]
    assert np.abs(half - 127).max() < 25, half.mean()  # black at half alpha: mid grey


def test_keep_alpha_jpeg_is_refused_by_the_core(conv_model, tmp_path: Path) -> None:
    src = tmp_path / "render.png"
    Image.fromarray(rgba(), "RGBA").save(src)
    with pytest.raises(HostError, match="transparency"):
        run_file_export(src, job(tmp_path / "x.jpg", "jpeg"))
    assert not (tmp_path / "x.jpg").exists()


def test_file_export_errors_and_cancel(conv_model, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    src = tmp_path / "render.png"
    Image.fromarray(rgba(), "RGBA").save(src)
    with pytest.raises(HostError, match="no-such-folder"):
        run_file_export(src, job(tmp_path / "no-such-folder" / "x.png"))
    with pytest.raises(HostCancelled, match=r"x\.png was not written"):
        run_file_export(src, job(tmp_path / "x.png"), cancel=lambda: True)
    with pytest.raises(HostCancelled, match=r"y\.png was not written"):
        raw = RawImage(rgba().tobytes(), 40, 32, 4, "u8")
        run_export(raw, job(tmp_path / "y.png"), cancel=lambda: True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["render.png"]


def test_missing_package_message_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(runner, "_in_process_problem", [])
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    problem = runner.in_process_problem()
    assert problem.startswith("the package 'onnxruntime' is missing"), problem
    where, remedy = "Blender's Python (/x/python3.11)", "Install the extension for your platform."
    with pytest.raises(HostError) as err:
        run_file_export(tmp_path / "a.png", job(tmp_path / "b.png"), where=where, remedy=remedy)
    text = str(err.value)
    assert text.startswith("Fixative cannot run inside Blender's Python (/x/python3.11): ")
    assert "'onnxruntime' is missing" in text and text.endswith(remedy)
    with pytest.raises(HostError, match="external Python in the Fixative settings"):
        run_export(RawImage(b"\0" * 12, 2, 2, 3, "u8"), job(tmp_path / "c.png"))
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.delitem(sys.modules, "onnxruntime")
    monkeypatch.setattr(runner, "_in_process_problem", [])
    assert "'Pillow' is missing" in runner.in_process_problem()


def test_extension_stage_vendors_the_glue(tmp_path: Path) -> None:
    """The staged extension carries `fixative_host` as a sub-package and no engine of its own;
    its modules reach the glue relatively (Blender's rule for extensions)."""
    script = REPO / "scripts" / "build_blender_extension.py"
    sys.path.insert(0, str(script.parent))
    try:
        import build_blender_extension as build
    finally:
        sys.path.remove(str(script.parent))
    stage = tmp_path / "stage"
    build.stage_source(stage)
    glue = REPO / "plugins" / "common" / "fixative_host"
    for module in glue.glob("*.py"):
        assert (stage / "fixative_host" / module.name).read_bytes() == module.read_bytes()
    assert not (stage / "engine.py").exists()
    sources = {p.name: p.read_text() for p in stage.glob("*.py")}
    assert "from .fixative_host import" in sources["host.py"]
    for name, text in sources.items():
        assert "import fixative_host" not in text and "sys.path" not in text, name
    # Plain Python: what registering imports must not need numpy or onnxruntime.
    probe = (
        "import sys; sys.modules['numpy'] = sys.modules['onnxruntime'] = None;"
        f"sys.path[:0] = [{str(REPO / 'plugins' / 'common')!r}];"
        "from fixative_host import choices, runner; print(len(choices.FORMATS))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "4", done.stderr
