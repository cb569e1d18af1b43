"""The Blender extension in real Blender: 4.3 (trixie root) and 5.x (newest root), through the
harness.

The zip under test is built by scripts/build_blender_extension.py with `--system-deps`: it carries
the `fixative` wheel (core + shipped model) and uses the numpy, Pillow and onnxruntime of Debian's
Blender, which runs the root's system Python (3.13 in trixie, 3.14 in sid; see docs/blender.md).
It is built and validated with `blender --command extension build/validate` and installed with
`extension install-file`.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import adapter_checks as chk
import harness
import numpy as np
import pytest
from fixative.image.formats import OUTPUT_SUFFIX
from fixative.protection.refine import DEFAULT_STEPS
from fixative.protection.settings import MODE_HELP, MODE_TABLE, STRENGTH_HELP
from harness import REPO, ROOT_RESULTS, run_host
from PIL import Image

sys.path.insert(0, str(REPO / "plugins" / "common"))
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "plugins"))
import build_blender_extension
import host_builds
from binaries import COMPILED, binary_platform, python_marks
from fixative_host import choices

CASE = "/src/tests/hosts/blender_case.py"
ADDON = "bl_ext.user_default.fixative"
GUI_CASE = "/src/tests/hosts/blender_gui_case.py"
FAST_STEPS = MODE_TABLE["fast"].steps


BPY_PYTHON = "/opt/bpy-venv/bin/python"  # PyPI's bpy in the trixie root (tests/hosts/rootfs.sh)
BPY_CASE = "/src/tests/hosts/bpy_case.py"


@pytest.fixture(scope="session", params=["debian", "bpy"])
def blender_ext(
    request: pytest.FixtureRequest, rootfs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Build, validate and install the extension once per Blender; returns the folder holding
    the results (`target.json` says which Blender runs the cases).

    "debian": the root's own Blender, with the `--system-deps` zip (the root's numpy, Pillow and
    onnxruntime). "bpy": PyPI's bpy in a Python 3.13 venv (trixie root only), with the shipping
    linux-x64 zip for 3.13, which bundles onnxruntime and Pillow; the zip is built by the root's
    Blender and installed by bpy's own Extensions operator. `blender-config/` is the user config
    with the extension installed, staged into each later run's HOME.
    """
    runner = request.param
    out = tmp_path_factory.mktemp(f"blender-ext-{runner}")
    py = root_python()
    build = [sys.executable, str(REPO / "scripts/build_blender_extension.py"), "--stage-only"]
    build += ["--python", py, "--out", str(out)]
    build += ["--system-deps"] if runner == "debian" else ["--platform", "linux-x64"]
    staged = subprocess.run(build, capture_output=True, text=True)
    assert staged.returncode == 0, staged.stdout[-3000:] + staged.stderr[-3000:]
    script = f"set -e; S=/results/{tag(py)}/stage-{tag(py)}; Z=/results/zip; mkdir -p $Z;"
    if runner == "debian":
        script += (
            " blender --command extension build --source-dir $S --output-dir $Z;"
            " blender --command extension validate $Z/*.zip;"
            " blender --command extension install-file -r user_default -e $Z/*.zip;"
        )
    else:
        script += (
            " blender --command extension build --split-platforms --source-dir $S --output-dir $Z;"
            " blender --command extension validate $Z/fixative-*-linux_x64.zip;"
            f" {BPY_PYTHON} {BPY_CASE} install $Z/fixative-*-linux_x64.zip /results;"
        )
    script += " cp -a $HOME/.config/blender /results/blender-config"
    proc = run_host(["sh", "-c", script], timeout=400, results=out, home="blender")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    facts = {"runner": runner, "python": py}
    if runner == "bpy":
        installed = json.loads((out / "bpy-install.json").read_text())
        assert installed["exception"] is None, installed["exception"]
        assert installed["result"] == ["FINISHED"], installed
        facts["version"] = installed["version"]
        harness.RAN[f"{harness.flavour()}, bpy"] = {"bpy": installed["version"]}
    (out / "target.json").write_text(json.dumps(facts))
    return out


def target(ext: Path) -> dict:
    """Which Blender the installed extension in `ext` is for (see `blender_ext`)."""
    return json.loads((ext / "target.json").read_text())


TEXTURE = "/tmp/artwork.png"


# Tracebacks that are Blender's own, removed by their exact shape (never all tracebacks): Debian's
# Blender 5.2 enables its bundled extensions add-on (bl_pkg), whose downloader imports cattrs,
# which no Debian package provides.
HOST_NOISE = (
    re.compile(
        r"Traceback \(most recent call last\):\n"
        r"(?:  .*\n)*?"
        r'  File "/usr/share/blender/scripts/addons_core/bl_pkg/__init__\.py", .*\n'
        r"(?:  .*\n)*?"
        r"ModuleNotFoundError: No module named 'cattrs'\n"
    ),
)


def without_host_noise(text: str) -> str:
    for pattern in HOST_NOISE:
        text = pattern.sub("", text)
    return text


def root_python() -> str:
    """The root's python3 as major.minor ("3.13"): Debian's Blender runs it."""
    version = harness.host_versions()["python3"].split(":")[-1]
    return ".".join(version.split(".")[:2])


def tag(python: str) -> str:
    """The build script's folder name for a Python: "3.13" -> "py313"."""
    return "py" + python.replace(".", "")


def measure(reference: np.ndarray, protected: np.ndarray, eps: float, results: Path) -> dict:
    """TAEF2 latent distortion vs same-ε noise (adapter_checks.measure), kept in the results."""
    figures = chk.measure(reference, protected, eps)
    (results / "measure.json").write_text(json.dumps(figures, indent=2))
    return figures


def opaque_box(pixels: np.ndarray) -> tuple[slice, slice]:
    """The fully opaque part (the artwork) of a film-transparent render, in multiples of 8:
    the latent measure compares against noise added everywhere, so a transparent border (no
    picture, restored before measuring) would count against the protection."""
    if pixels.shape[2] == 3:
        return slice(None), slice(None)
    opaque = pixels[..., 3] == 255
    box = []
    for idx in (np.flatnonzero(opaque.any(axis=1)), np.flatnonzero(opaque.any(axis=0))):
        start, stop = int(idx[0]) + 1, int(idx[-1])  # 1 px in: the anti-aliased edge
        extra = (stop - start) % 8
        box.append(slice(start + extra // 2, stop - (extra - extra // 2)))
    assert opaque[box[0], box[1]].all(), "the artwork is not an opaque rectangle"
    return box[0], box[1]


def target_python(ext: Path) -> str:
    """The Python the extension in `ext` runs in: bpy's venv, or the root's python3."""
    return BPY_PYTHON if target(ext)["runner"] == "bpy" else "python3"


def installed_core(ext: Path) -> Path:
    """The site-packages folder holding the `fixative` core Blender runs (from the wheel)."""
    [folder] = (ext / "blender-config").glob("*/extensions/.local/lib/python*/site-packages")
    return folder


def run_case(ext: Path, results: Path, case: str, *args: str, env=None, files=None) -> dict:
    """Run one case of blender_case.py (which enables the installed extension itself)."""
    if target(ext)["runner"] == "bpy":
        argv = [BPY_PYTHON, BPY_CASE]
    else:
        argv = ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python", CASE]
    argv += ["--", case, ROOT_RESULTS, *args]
    proc = run_host(
        argv,
        timeout=240,
        results=results,
        env=env,
        files={".config/blender": ext / "blender-config", TEXTURE: chk.DEV_IMAGE, **(files or {})},
        home="blender",
    )
    out = results / f"{case}.json"
    assert out.is_file(), (
        f"Blender wrote no {out.name}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    )
    data = json.loads(out.read_text())
    assert data["exception"] is None, data["exception"]
    assert data["alive"] is True
    assert proc.returncode == 0, proc.stderr[-3000:]
    data["stdout"] = proc.stdout
    return data


def test_extension_zip(blender_ext: Path) -> None:
    zips = list((blender_ext / "zip").glob("*.zip"))
    if target(blender_ext)["runner"] == "bpy":
        zips = [z for z in zips if z.name.endswith("-linux_x64.zip")]
    assert len(zips) == 1
    names = zipfile.ZipFile(zips[0]).namelist()
    assert "blender_manifest.toml" in names
    assert "bridge.py" in names and "__init__.py" in names
    # The glue shared with Krita and GIMP, vendored; no engine of Blender's own.
    assert "fixative_host/runner.py" in names and "fixative_host/choices.py" in names
    assert "engine.py" not in names
    wheels = [n for n in names if n.startswith("wheels/")]
    assert any(w.startswith("wheels/fixative-") for w in wheels), wheels
    if target(blender_ext)["runner"] == "debian":  # the root's own packages
        assert len(wheels) == 1, wheels
    else:  # the shipping zip: onnxruntime and Pillow bundled for its Python
        bundled = {w.split("/")[1].split("-")[0].lower() for w in wheels}
        assert {"onnxruntime", "pillow"} <= bundled, wheels
    assert not any("numpy" in n for n in names)
    manifest = zipfile.ZipFile(zips[0]).read("blender_manifest.toml").decode()
    assert all(f'"./{w}"' in manifest for w in wheels) and 'id = "fixative"' in manifest
    # Installed: the extension and the core from its wheel, in Blender's user folders.
    config = blender_ext / "blender-config"
    assert list(config.glob("*/extensions/user_default/fixative/__init__.py"))
    site = "*/extensions/.local/lib/python*/site-packages"
    assert list(config.glob(f"{site}/fixative/protection/protect.py"))


@pytest.mark.parametrize("transparent", ["0", "1"], ids=["opaque", "film-transparent"])
def test_save_protected_as_render(blender_ext: Path, host_results: Path, transparent: str) -> None:
    """Cycles render → Save Protected As (PNG): within budget of a plain save, alpha kept,
    protection measurable on TAEF2, declarations readable by exiftool."""
    eps = chk.model_epsilon("medium")
    data = run_case(blender_ext, host_results, "save", transparent, "PNG", "256", TEXTURE)
    call_ok(data["call"])
    # The operator put the scene's output settings back.
    assert data["settings_after"] == data["settings_before"]
    plain = chk.load(host_results / "plain.png")
    protected = chk.load(host_results / "protected.png")
    assert plain.shape == (256, 256, 4 if transparent == "1" else 3)
    chk.assert_within_budget(plain, protected, eps, name="protected.png")
    if transparent == "1":
        assert plain[..., 3].min() == 0 and plain[..., 3].max() == 255
    visible = opaque_box(plain)
    figures = {"protected.png": measure(plain[visible], protected[visible], eps, host_results)}
    exif = run_host(
        ["exiftool", "-j", "-n", "-XMP:all", f"{ROOT_RESULTS}/protected.png"],
        timeout=60,
        results=host_results,
    )
    tags = json.loads(exif.stdout)[0]
    assert chk.DATA_MINING in str(tags.get("DataMining", "")), tags
    chk.assert_measurable(figures)  # last: a weak model must not hide other failures


def test_save_protected_as_loaded_image(blender_ext: Path, host_results: Path) -> None:
    """Any image, not only renders: a loaded PNG is saved with its own pixels (no view
    transform), protected within the budget, measurably."""
    eps = chk.model_epsilon("medium")
    data = run_case(blender_ext, host_results, "save_image", TEXTURE)
    assert call_ok(data["call"])["report"]["mode"] == "fast"
    original = chk.load(chk.DEV_IMAGE)
    protected = chk.load(host_results / "protected.png")
    chk.assert_within_budget(original, protected, eps, name="protected.png")
    # The adapter adds and loses nothing: Blender's file holds exactly what the installed core
    # gives for the same pixels and settings with Blender's own numpy and onnxruntime (fast's
    # gradient step is a sign, which another onnxruntime version may flip on a few pixels).
    expected = core_in_blender(blender_ext, host_results, original, chk.FAST)
    assert np.array_equal(expected, protected), "Blender's file differs from the core's"
    chk.assert_declared(host_results / "protected.png")
    chk.assert_measurable({"protected.png": measure(original, protected, eps, host_results)})


def core_in_blender(ext: Path, results: Path, pixels: np.ndarray, mode: dict) -> np.ndarray:
    """What the extension's installed core gives for `pixels` at medium in `mode`, run by the
    Python Blender runs (its numpy and onnxruntime): what Blender's file must equal."""
    settings = {"strength": "medium", **mode}
    lib, python = installed_core(ext), target_python(ext)
    return chk.core_in_root(results, lib, pixels, settings, python=python)[0]


def call_ok(call: dict) -> dict:
    """The operator finished; returns what it says it did (`operators.last_save()`)."""
    assert (call["result"], call["error"]) == (["FINISHED"], None), call
    assert call["last"]["result"] == "FINISHED", call["last"]
    return call["last"]


def test_save_protected_as_thorough(blender_ext: Path, host_results: Path) -> None:
    """Thorough, the operator's default, for real (a 256×256 picture, 2 steps): the report says
    so, progress came per step, and the file is exactly what the installed core gives for the
    same pixels and settings in the hosts' root (same numpy and onnxruntime as Blender)."""
    original = chk.picture(alpha=False)
    Image.fromarray(original, "RGB").save(host_results / "opaque.png")
    steps = str(chk.THOROUGH["steps"])
    data = run_case(
        blender_ext,
        host_results,
        "save_image",
        f"{ROOT_RESULTS}/opaque.png",
        "8",
        "thorough",
        steps,
    )
    assert data["default_mode"] == "thorough"
    last = call_ok(data["call"])
    assert last["run"] == "blocking"  # from a script: done when the operator returns
    report = last["report"]
    assert (report["mode"], report["steps"]) == ("thorough", 2), report
    assert (report["view_width"], report["view_height"]) == (256, 256)
    for text in ("step 1/2", "step 2/2"):
        assert any(text in m for m in last["messages"]), last["messages"]
    protected = chk.load(host_results / "protected.png")
    expected = core_in_blender(blender_ext, host_results, original, chk.THOROUGH)
    assert np.array_equal(protected, expected), "Blender's thorough file differs from the core's"
    chk.assert_declared(host_results / "protected.png")


def test_save_protected_as_16bit_image(blender_ext: Path, host_results: Path) -> None:
    """A 16-bit RGBA PNG (Blender holds it as linear, premultiplied float) saved as 16-bit PNG:
    same pixels within the budget, alpha kept, 16 bits kept."""
    eps = chk.model_epsilon("medium")
    original = chk.to_u16(chk.picture((96, 80), alpha=True))
    chk.write_png16(host_results / "original16.png", original)
    data = run_case(blender_ext, host_results, "save_image", f"{ROOT_RESULTS}/original16.png", "16")
    call_ok(data["call"])
    assert data["float"] is True
    protected = chk.load(host_results / "protected.png")
    assert protected.dtype == np.uint16
    chk.assert_within_budget(original, protected, eps, name="protected.png")
    chk.assert_declared(host_results / "protected.png")


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF", "WEBP"])
def test_save_protected_as_other_formats(blender_ext: Path, host_results: Path, fmt: str) -> None:
    data = run_case(blender_ext, host_results, "save", "1", fmt, "64", TEXTURE)
    call_ok(data["call"])
    ext = {"JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp"}[fmt]
    with Image.open(host_results / f"protected{ext}") as im:
        assert im.format == fmt
        assert im.size == (64, 64)
        assert im.mode == ("RGB" if fmt == "JPEG" else "RGBA")
        pixels = np.asarray(im).astype(int)
    if fmt == "JPEG":  # the film-transparent border, flattened onto white as Krita and GIMP do
        assert pixels[:2].min() > 225 and pixels[:, :2].min() > 225, pixels[:2].min()


def test_save_protected_as_jpeg_flattens_onto_white(blender_ext: Path, host_results: Path) -> None:
    """A loaded image with semi-transparent pixels saved as JPEG comes out over white."""
    original = chk.picture((64, 64), alpha=True)
    original[..., 3] = 255
    original[:, :16, 3] = 0  # transparent
    original[:, 16:32, :3] = 0
    original[:, 16:32, 3] = 128  # half-transparent black
    Image.fromarray(original, "RGBA").save(host_results / "alpha.png")
    data = run_case(blender_ext, host_results, "save_alpha_jpeg", f"{ROOT_RESULTS}/alpha.png")
    call_ok(data["call"])
    with Image.open(host_results / "protected.jpg") as im:
        assert (im.format, im.mode) == ("JPEG", "RGB")
        got = np.asarray(im).astype(int)
    assert got[4:-4, 2:12].min() > 225, got[4:-4, 2:12].min()  # transparent: white
    half = got[4:-4, 19:29]
    assert np.abs(half - 127).max() < 30, (half.min(), half.max())  # black at half: grey
    opaque = original[:, 40:, :3].astype(int)
    assert np.abs(got[4:-4, 44:-4] - opaque[4:-4, 4:-4]).mean() < 12  # the rest as it was


def test_render_write_handler_animation(blender_ext: Path, host_results: Path) -> None:
    eps = chk.model_epsilon("medium")
    data = run_case(blender_ext, host_results, "animation", "PNG", "SIBLING")
    reports = data["reports"]
    assert [r["frame"] for r in reports] == [1, 2, 3]
    assert all(r["error"] is None for r in reports), reports
    # Rendered frames are protected fast by default (the scene's panel setting).
    assert data["scene_mode"] == "fast"
    assert [(r["mode"], r["steps"]) for r in reports] == [("fast", FAST_STEPS)] * 3
    for frame in (1, 2, 3):
        original = host_results / "frames" / f"f_{frame:04d}.png"
        protected = host_results / "frames" / f"f_{frame:04d}{OUTPUT_SUFFIX}.png"
        assert original.is_file() and protected.is_file()
        chk.assert_within_budget(chk.load(original), chk.load(protected), eps, name=protected.name)
    assert len(list((host_results / "frames").iterdir())) == 6
    # A still (Write Still) is protected the same way.
    assert [(r["frame"], r["error"]) for r in data["still"]] == [(1, None)]
    still = host_results / "still"
    assert sorted(p.name for p in still.iterdir()) == ["s-protected.png", "s.png"]
    chk.assert_within_budget(
        chk.load(still / "s.png"), chk.load(still / "s-protected.png"), eps, name="s-protected"
    )


def test_render_write_handler_in_place(blender_ext: Path, host_results: Path) -> None:
    data = run_case(blender_ext, host_results, "animation", "PNG", "IN_PLACE")
    reports = data["reports"]
    assert [(r["frame"], r["error"]) for r in reports] == [(1, None), (2, None), (3, None)]
    assert all(r["output"] == r["source"] for r in reports)
    assert sorted(p.name for p in (host_results / "frames").iterdir()) == [
        "f_0001.png",
        "f_0002.png",
        "f_0003.png",
    ]


def test_render_write_handler_failure_does_not_stop_render(
    blender_ext: Path, host_results: Path
) -> None:
    data = run_case(blender_ext, host_results, "animation", "OPEN_EXR", "SIBLING")
    reports = data["reports"]
    assert [r["frame"] for r in reports] == [1, 2, 3]
    for r in reports:
        assert r["output"] is None
        assert "OpenEXR" in r["error"] and "left unprotected" in r["error"]
    names = sorted(p.name for p in (host_results / "frames").iterdir())
    assert names == ["f_0001.exr", "f_0002.exr", "f_0003.exr"]
    # The still rendered afterwards (Write Still, OpenEXR too) is reported the same way.
    assert [r["frame"] for r in data["still"]] == [1]
    assert "OpenEXR" in data["still"][0]["error"]
    assert (host_results / "still" / "s.exr").is_file()
    assert data["stdout"].count("Fixative: frame") == 4  # each failure in Blender's console


def test_render_write_handler_movie_output_reported(blender_ext: Path, host_results: Path) -> None:
    data = run_case(blender_ext, host_results, "animation", "FFMPEG", "SIBLING")
    reports = data["reports"]
    assert [r["frame"] for r in reports] == [1, 2, 3]
    assert all("movies are not protected" in r["error"] for r in reports), reports
    movies = list((host_results / "frames").iterdir())
    assert len(movies) == 1 and movies[0].stat().st_size > 0  # Blender's movie, untouched


def test_scene_toggle_off_overrides_preference(blender_ext: Path, host_results: Path) -> None:
    data = run_case(blender_ext, host_results, "scene_off")
    assert data["reports"] == []
    assert sorted(p.name for p in (host_results / "off").iterdir()) == ["f_0001.png"]


def test_bad_cases_give_clear_messages(blender_ext: Path, host_results: Path) -> None:
    data = run_case(blender_ext, host_results, "bad")
    for key, words in {
        "exr": ["chosen.exr", "OpenEXR", "PNG, JPEG, TIFF or WebP"],
        "hdr": ["chosen.hdr", "Radiance HDR"],
        "unwritable": ["locked/protected.png"],
        "nofolder": ["does not exist", "nope"],
        "noimage": ["No Such Image"],
    }.items():
        call = data[key]
        assert call["result"] is None, (key, call)
        for word in words:
            assert word in call["error"], (key, call["error"])
    assert (
        "ermission" in data["unwritable"]["error"] or "not writable" in data["unwritable"]["error"]
    )
    # Nothing written by the failures, and the render still saves afterwards.
    names = {p.name for p in host_results.iterdir()}
    assert "after.png" in names
    assert not names & {"chosen.exr", "chosen.hdr", "nope", "x.png"}
    assert not [n for n in names if n.startswith((".", "tmp"))], names
    assert not list((host_results / "locked").iterdir())


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def test_help_opens_the_extensions_manual(blender_ext: Path, host_results: Path) -> None:
    """Help, at the end of each of Fixative's panels, opens the extension's own copy of
    docs/blender.md (rendered by scripts/manual.py) through Blender's wm.url_open."""
    env, files = chk.browser_recorder(host_results)
    data = run_case(blender_ext, host_results, "manual", env=env, files=files)
    assert data["result"] == ["FINISHED"]
    assert "/extensions/" in chk.assert_help_opened(host_results, "blender")


def test_every_choice_is_explained_in_the_cores_words(
    blender_ext: Path, host_results: Path
) -> None:
    """Tooltips (Blender shows `description`) say what each choice means, as the core words
    it; one place per setting; the menu entry's place; output names as the CLI's."""
    data = run_case(blender_ext, host_results, "texts")
    op, prefs, scene = data["operator"], data["prefs"], data["scene"]
    for props in (op, prefs, scene):
        for name, prop in props.items():
            assert prop["description"], name  # every visible setting has a tooltip
            for item, (label, tip) in prop.get("items", {}).items():
                assert label and tip, (name, item)
    for props in (op, prefs):
        strength = props["strength"]["items"]
        assert list(strength) == list(choices.STRENGTHS)
        for s in choices.STRENGTHS:
            assert strength[s] == [choices.strength_label(s), sentence(choices.strength_help(s))]
        for m in choices.MODES:  # with its time estimate
            assert props["mode"]["items"][m][1] == sentence(choices.mode_help(m))
        for v in choices.VIEWS:
            assert props["view"]["items"][v] == [
                choices.view_label(v),
                sentence(choices.view_help(v)),
            ]
        assert props["declarations"]["name"] == choices.DECLARE_LABEL
        assert props["declarations"]["description"] == sentence(choices.DECLARE_HELP)
    assert scene["mode"]["items"]["thorough"][1] == sentence(choices.mode_help("thorough"))
    for d in choices.DEVICES:
        assert prefs["device"]["items"][d][1] == sentence(choices.device_help(d))
    # Formats: the core's table (labels, what each stores), Blender's ids.
    fmts = op["file_format"]["items"]
    assert list(fmts) == ["PNG", "JPEG", "TIFF", "WEBP"]
    for bid, (label, tip) in fmts.items():
        fmt = choices.FORMATS[bid]
        assert label == fmt.label
        assert ("16 bits" in tip) == fmt.sixteen and ("flattened onto white" in tip) != fmt.alpha
    # One place per setting: the scene decides; the preference is only a default, labelled so.
    names = [p["name"] for p in (*op.values(), *prefs.values(), *scene.values())]
    assert names.count("Protect Rendered Frames") == 1
    assert scene["protect_frames"]["name"] == "Protect Rendered Frames"
    assert prefs["protect_frames"]["name"] == "Protect Frames by Default"
    assert scene["protect_frames"]["items"]["PREFERENCE"][0] == "Add-on Default"
    # Plain words for where frames go; NAME-protected.EXT as the CLI, Krita and GIMP.
    assert data["suffix"] == OUTPUT_SUFFIX == "-protected"
    summary = data["summaries"]["SIBLING"]
    assert "frame_0001-protected.png" in summary and "original is kept" in summary
    assert "sibling" not in summary.lower() and "_protected" not in summary
    assert "replaced" in data["summaries"]["IN_PLACE"]
    # Image menu: Blender's API adds only at the ends; ours is first, before Blender's draw.
    assert data["menu_ours"] == 0 and data["menu"][1] == "IMAGE_MT_image.draw", data["menu"]
    # The shared glue is what runs: no module of Blender's own for it.
    assert f"{ADDON}.engine" not in data["modules"]
    assert f"{ADDON}.fixative_host.runner" in data["modules"]


def test_missing_dependency(blender_ext: Path, host_results: Path) -> None:
    data = run_case(blender_ext, host_results, "missing_dep")
    assert data["loaded"] is True
    error = data["call"]["error"]
    assert data["call"]["result"] is None
    assert "onnxruntime" in error and "Blender's Python" in error, error
    assert not (host_results / "protected.png").exists()
    reports = data["reports"]
    assert [r["frame"] for r in reports] == [1, 2]
    assert all("onnxruntime" in r["error"] for r in reports)
    assert sorted(p.name for p in (host_results / "frames").iterdir()) == [
        "f_0001.png",
        "f_0002.png",
    ]


def test_platform_zip_bundles_its_dependencies(rootfs: Path, tmp_path: Path) -> None:
    """The shipping build: the linux-x64 zip for the root's Python (3.13, 3.14) with PyPI's
    onnxruntime and Pillow wheels (downloaded by the build script), validated, installed, and
    protecting in Blender."""
    py = root_python()
    build = [sys.executable, str(REPO / "scripts/build_blender_extension.py"), "--stage-only"]
    build += ["--python", py, "--platform", "linux-x64", "--out", str(tmp_path)]
    staged = subprocess.run(build, capture_output=True, text=True)
    assert staged.returncode == 0, staged.stdout[-3000:] + staged.stderr[-3000:]
    script = (
        f"set -e; S=/results/{tag(py)}/stage-{tag(py)}; Z=/results/zip; mkdir -p $Z;"
        " blender --command extension build --split-platforms --source-dir $S --output-dir $Z;"
        " blender --command extension validate $Z/fixative-*-linux_x64.zip;"
        " blender --command extension install-file -r user_default -e $Z/fixative-*-linux_x64.zip;"
        f" blender -b --factory-startup --python-exit-code 1 --python {CASE} -- bundled /results"
    )
    proc = run_host(["sh", "-c", script], timeout=400, results=tmp_path, home="blender")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    names = zipfile.ZipFile(next((tmp_path / "zip").glob("*linux_x64.zip"))).namelist()
    wheels = sorted(n.split("/")[1].split("-")[0] for n in names if n.startswith("wheels/"))
    assert "onnxruntime" in wheels and "pillow" in wheels and "fixative" in wheels
    assert "numpy" not in wheels
    data = json.loads((tmp_path / "bundled.json").read_text())
    assert data["exception"] is None, data["exception"]
    call_ok(data["call"])
    for name, path in data["modules"].items():
        assert f"/extensions/.local/lib/python{py}/site-packages/" in path, (name, path)
    assert data["numpy"].startswith("/usr/lib/python3/"), data["numpy"]
    chk.assert_declared(tmp_path / "protected.png")


@pytest.mark.blender_gui
def test_user_interface_under_xvfb(blender_ext: Path, host_results: Path) -> None:
    """Blender's real window (Xvfb): the Output panel and Image menu draw, an animation renders
    as a UI render job with the frame handler, Save Protected As… saves from its file browser."""
    argv = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24 -nolisten tcp"]
    argv += ["blender", "--factory-startup", "--enable-event-simulate"]
    argv += ["--python", GUI_CASE, "--", ROOT_RESULTS]
    proc = run_host(
        argv,
        timeout=180,
        results=host_results,
        files={".config/blender": blender_ext / "blender-config"},
        home="blender",
    )
    data = json.loads((host_results / "gui.json").read_text())
    assert data["exception"] is None, data["exception"]
    steps = ["setup", "show_output", "wait_render", "shoot_menu", "open_browser", "fill_browser"]
    steps += ["save_in_browser", "wait_saved", "shoot_output", "start_cancelled_save"]
    steps += ["press_escape", "wait_cancelled"]
    ran = [s for i, s in enumerate(data["steps"]) if i == 0 or data["steps"][i - 1] != s]
    assert ran == steps  # each in turn (the waits poll, so may repeat)
    assert data["loaded"] is True and data["alive"] is True
    assert data["draws"].get("output_panel", 0) >= 1
    assert data["draws"].get("image_menu", 0) >= 1 and data["menu_has_entry"] is True
    assert data["menu_first"] is True  # prepended: Blender's API cannot put it after Save As
    assert data["default_name"] == "Render_Result-protected.png"  # as the CLI names outputs
    assert data["draws"].get("operator", 0) >= 1  # the file browser's options
    assert data["invoke"] == ["RUNNING_MODAL"]
    assert [(r["frame"], r["error"]) for r in data["reports"]] == [(1, None), (2, None)]
    names = sorted(p.name for p in (host_results / "frames").iterdir())
    assert names == ["f_0001-protected.png", "f_0001.png", "f_0002-protected.png", "f_0002.png"]
    # Saved from the file browser: JPEG chosen, the extension added by the operator's check();
    # thorough (the default for a saved image), run off the main thread with its progress shown.
    saved = data["gui_save"]
    assert (saved["run"], saved["result"], saved["error"]) == ("modal", "FINISHED", None), saved
    last_step = f"step {DEFAULT_STEPS}/{DEFAULT_STEPS}"
    assert (saved["report"]["mode"], saved["report"]["steps"]) == ("thorough", DEFAULT_STEPS)
    assert any(last_step in m for m in saved["messages"]), saved["messages"]
    with Image.open(host_results / "gui-protected.jpg") as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (48, 48))
    chk.assert_declared(host_results / "gui-protected.jpg")
    # The status bar's message (Blender's INFO report) names the file written.
    assert "gui-protected.jpg" in saved["message"] and str(ROOT_RESULTS) in saved["message"]
    # Esc while a large thorough save runs: cancelled between the core's steps, nothing written.
    assert data["cancel_started"] == ["RUNNING_MODAL"]
    cancelled = data["cancelled_save"]
    assert (cancelled["run"], cancelled["result"]) == ("modal", "CANCELLED"), cancelled
    assert cancelled["cancelled"] is True and "not written" in cancelled["error"], cancelled
    assert not any(last_step in m for m in cancelled["messages"]), cancelled["messages"]
    assert data["big_written"] is False
    output = without_host_noise(proc.stdout + proc.stderr)
    assert "Traceback" not in output, output[-3000:]
    assert proc.returncode == 0
    check_screenshots(host_results, data["screenshots"])
    shown = data["save_dialog_texts"]  # what the dialog in the screenshot wrote under its choices
    assert STRENGTH_HELP[shown["strength"]] in shown["lines"], shown
    assert MODE_HELP[shown["mode"]] in shown["lines"], shown
    target = os.environ.get("FIXATIVE_SCREENSHOTS")
    if target:
        folder = Path(target) if Path(target).is_absolute() else REPO / target
        chk.record_screenshot_texts(folder, "blender-save-dialog.png", shown)


SCREENSHOTS = ("blender-image-menu.png", "blender-save-dialog.png", "blender-output-panel.png")


def check_screenshots(results: Path, taken: list[str]) -> None:
    """Real pictures of Blender's window (not blank frames); with FIXATIVE_SCREENSHOTS=DIR set,
    copied there (`FIXATIVE_SCREENSHOTS=docs/images` refreshes the manual's)."""
    assert sorted(taken) == sorted(SCREENSHOTS)
    for name in SCREENSHOTS:
        with Image.open(results / name) as im:
            assert im.format == "PNG" and im.width >= 400 and im.height >= 300, (name, im.size)
            rgb = np.asarray(im.convert("RGB")).reshape(-1, 3)
        colours = len(np.unique(rgb, axis=0))
        assert colours >= 64, (name, colours)  # text, icons, widgets: many distinct colours
    target = os.environ.get("FIXATIVE_SCREENSHOTS")
    if target:
        folder = Path(target) if Path(target).is_absolute() else REPO / target
        folder.mkdir(parents=True, exist_ok=True)
        for name in SCREENSHOTS:
            shutil.copyfile(results / name, folder / name)


def test_every_blender_row_of_the_table_builds_for_its_python(
    rootfs: Path, host_results: Path, wheel_cache: Path
) -> None:
    """Every Blender row of scripts/host_builds.py: staged with PyPI's wheels for its Python,
    built with --split-platforms and validated by the root's Blender, named by the table; every
    compiled module in each zip's wheels is for the row's platform (its header) and Python (its
    name, its imports)."""
    rows = host_builds.rows("blender")
    pythons = host_builds.pythons("blender")
    build_blender_extension.build(host_results, pythons, stage_only=True, cache=wheel_cache)
    script = "set -e;"
    for py in pythons:
        t = tag(py)
        script += (
            f" mkdir -p /results/zips/{t}; blender --command extension build --split-platforms"
            f" --source-dir /results/{t}/stage-{t} --output-dir /results/zips/{t};"
            f" for z in /results/zips/{t}/*.zip; do blender --command extension validate $z; done;"
        )
    proc = run_host(["sh", "-c", script], timeout=900, results=host_results, home="blender")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    built = {}
    for py in pythons:
        for z in sorted((host_results / "zips" / tag(py)).glob("*.zip")):
            named = build_blender_extension.name_by_python(z, py)
            built[named.name] = named
    assert sorted(built) == sorted(r.package for r in rows)
    for row in rows:
        system = row.platform.split("-")[0]
        arch = "x86_64" if row.platform.endswith("x64") else "arm64"
        named = 0
        with zipfile.ZipFile(built[row.package]) as outer:
            wheels = [n for n in outer.namelist() if n.startswith("wheels/")]
            assert any(Path(n).name.startswith("onnxruntime-") for n in wheels), wheels
            for wheel in wheels:
                with zipfile.ZipFile(io.BytesIO(outer.read(wheel))) as inner:
                    for name in inner.namelist():
                        if not (name.endswith(COMPILED) or ".so." in Path(name).name):
                            continue
                        data = inner.read(name)
                        found, arches = binary_platform(data)
                        assert found == system and arch in arches, (row.package, name, arches)
                        marks = python_marks(name, data)
                        assert marks <= {row.python}, (row.package, name, marks)
                        named += bool(marks)
        assert named >= 2, f"{row.package}: only {named} compiled modules name a Python"
