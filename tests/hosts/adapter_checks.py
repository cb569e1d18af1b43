"""Checks shared by the Krita and GIMP host tests, run in the pytest process.

Test pictures, the shipped model's budget, "within the budget" and "declarations present"
checks, and the protection measure: TAEF2 latent distortion of the written file against the
host's plain export (the shipped ONNX encoder, as `fixative check` measures it), compared with
uniform noise of the same epsilon.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent.parent
DEV_IMAGE = REPO / "data" / "eval" / "clip_tiger.png"  # committed with its licence (SOURCES.md)
CLAY_ICC = "usr/share/color/icc/krita/ClayRGB-elle-V2-g22.icc"  # in the hosts' root filesystem
DATA_MINING = "DMI-PROHIBITED-GENAIMLTRAINING"
# "Measurable" in a host: the written file's TAEF2 latent distortion is far above what 8-bit
# rounding or a no-op causes (~0.02), so the real model ran on the host's pixels. How strong the
# model is against noise and PGD is a property of the model, asserted on unseen artwork in
# tests/model and reported in models/fixative-g1.md; here the ratios to noise are recorded in the
# results, not asserted: on smooth CG renders fixative-g1 measured ~0.7-0.8x equal-PSNR noise.
MIN_DISTORTION = 0.15


def models_dir() -> Path:
    return REPO / "models"


def root_file(relative: str) -> Path:
    """A file of the hosts' root filesystem, read from outside it."""
    from harness import root_path

    return root_path() / relative


def write_png16(path: Path, pixels: np.ndarray) -> None:
    """A plain 16-bit PNG (Pillow cannot write 16-bit RGB/RGBA), without declarations."""
    import fixative

    fixative.write_image(
        path, pixels, fmt="png", settings=fixative.DeclarationSettings(enabled=False)
    )


def shipped_model() -> Path:
    manifest = models_dir() / "manifest.json"
    assert manifest.is_file(), f"{manifest} is missing: the shipped model is needed for host tests"
    data = json.loads(manifest.read_text())
    return manifest.parent / data["default"]


def model_epsilon(strength: str = "medium") -> float:
    """The budget in [0, 1] units, read from the shipped model's metadata (not via the core)."""
    import onnx

    model = onnx.load(str(shipped_model()), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    return float(json.loads(meta["fixative.epsilon"])[strength])


def picture(size: tuple[int, int] = (256, 256), *, alpha: bool = True) -> np.ndarray:
    """An illustration crop (uint8 RGB or RGBA): transparent left strip, half-transparent band."""
    with Image.open(DEV_IMAGE) as im:
        rgb = np.asarray(im.convert("RGB"))
    h, w = size[1], size[0]
    top, left = (rgb.shape[0] - h) // 2, (rgb.shape[1] - w) // 2
    rgb = rgb[top : top + h, left : left + w]
    if not alpha:
        return np.ascontiguousarray(rgb)
    a = np.full((h, w, 1), 255, np.uint8)
    a[:, :12] = 0
    a[:, 12:40] = 128
    return np.ascontiguousarray(np.concatenate([rgb, a], axis=2))


def to_u16(rgba8: np.ndarray) -> np.ndarray:
    """A 16-bit version with values between the 8-bit steps (so 16-bit precision matters)."""
    x = rgba8.astype(np.uint32) * 257
    rng = np.random.default_rng(7)
    x[..., :3] += rng.integers(0, 200, size=x[..., :3].shape, dtype=np.uint32)
    return np.clip(x, 0, 65535).astype(np.uint16)


def load(path: Path) -> np.ndarray:
    """Pixels of a written file as an (H, W, C) array; 16-bit PNGs stay 16-bit (Pillow cannot)."""
    import fixative

    return fixative.read_image(path).pixels


def icc_description(path: Path) -> str:
    """The description of the ICC profile embedded in an image file ('' if none)."""
    import io

    from PIL import ImageCms

    with Image.open(path) as im:
        icc = im.info.get("icc_profile")
    if not icc:
        return ""
    return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))


def xmp(path: Path) -> str:
    with Image.open(path) as im:
        info = im.info
        data = info.get("xmp") or info.get("XML:com.adobe.xmp") or b""
    return data.decode("utf-8") if isinstance(data, bytes) else str(data)


def assert_declared(path: Path) -> None:
    """IPTC Data Mining in the file's XMP, and TDMRep's tdm:reservation as exiftool (an
    independent reader) reads it."""
    packet = xmp(path)
    assert DATA_MINING in packet, f"{path.name}: no IPTC DataMining declaration in its XMP"
    exe = shutil.which("exiftool")
    assert exe, "exiftool is the independent XMP reader: apt-get install libimage-exiftool-perl"
    out = subprocess.run(
        [exe, "-s3", "-XMP-tdm:Reservation", str(path)], capture_output=True, text=True
    ).stdout.strip()
    assert out == "1", f"{path.name}: exiftool reads tdm:reservation {out!r}, not 1"


# One real thorough export per host, kept small for CI time: a 256×256 picture, 2 steps.
THOROUGH = {"mode": "thorough", "steps": 2}
FAST = {"mode": "fast"}

_CORE_IN_ROOT = """
import json, sys
import numpy as np
import fixative
name = sys.argv[1]
pixels = np.load(f"/results/{name}-input.npy")
with open(f"/results/{name}-settings.json") as fh:
    settings = fixative.ProtectSettings.from_dict(json.load(fh))
out, report = fixative.protect_array(pixels, settings)
np.save(f"/results/{name}-expected.npy", out)
with open(f"/results/{name}-expected.json", "w") as fh:
    json.dump(report.to_dict(), fh)
"""


def core_in_root(
    results: Path,
    lib: Path,
    pixels: np.ndarray,
    settings: dict,
    name: str = "reference",
    python: str = "python3",
) -> tuple[np.ndarray, dict]:
    """`fixative.protect_array(pixels, settings)` with the core a host ran (`lib`: the folder
    holding the `fixative` it vendors or installed, and whatever it bundles), in the hosts'
    root with the host's `python` and so its numpy and onnxruntime: what the host's file must
    equal. (Thorough mode's signed steps can differ by a few levels between onnxruntime
    versions, so the test's own onnxruntime is no reference.)"""
    from harness import run_host

    np.save(results / f"{name}-input.npy", np.ascontiguousarray(pixels))
    (results / f"{name}-settings.json").write_text(json.dumps(settings))
    proc = run_host(
        [python, "-c", _CORE_IN_ROOT, name],
        timeout=300,
        results=results,
        env={"PYTHONPATH": "/tmp/corelib"},
        files={"/tmp/corelib": lib},
    )
    assert proc.returncode == 0, f"the core failed in the root:\n{proc.stderr[-3000:]}"
    report = json.loads((results / f"{name}-expected.json").read_text())
    return np.load(results / f"{name}-expected.npy"), report


def assert_graphs_vendored(core: Path) -> None:
    """A built plug-in's vendored core carries every auxiliary graph thorough mode runs, each
    byte-identical to the shipped one (scripts/plugin_vendor.py copies manifest["graphs"])."""
    models = core / "models"
    manifest = json.loads((models / "manifest.json").read_text())
    assert set(manifest.get("graphs", {})) >= {
        "encoder",
        "decoder",
        "encoder_grad",
        "view_grad",
        "texture_mask",
    }
    for entry in manifest["graphs"].values():
        built = models / entry["file"]
        assert built.is_file(), f"the plug-in build lacks {entry['file']}"
        assert built.read_bytes() == (models_dir() / entry["file"]).read_bytes()


def assert_within_budget(
    reference: np.ndarray, protected: np.ndarray, eps: float, *, name: str
) -> float:
    """Same size, alpha bit-identical, RGB within eps (+ rounding) where alpha > 0."""
    assert protected.shape == reference.shape, (
        f"{name}: size/channels {protected.shape} != {reference.shape}"
    )
    assert protected.dtype == reference.dtype, (
        f"{name}: dtype {protected.dtype} != {reference.dtype}"
    )
    peak = float(np.iinfo(reference.dtype).max)
    visible = np.ones(reference.shape[:2], bool)
    if reference.shape[2] == 4:
        assert np.array_equal(protected[..., 3], reference[..., 3]), f"{name}: alpha changed"
        visible = reference[..., 3] > 0
    diff = np.abs(protected[..., :3].astype(np.int64) - reference[..., :3].astype(np.int64))[
        visible
    ]
    limit = math.ceil(eps * peak) + 1
    assert diff.max() <= limit, f"{name}: max difference {diff.max()} over the budget {limit}"
    assert diff.max() > 0, f"{name}: nothing was changed: not protected"
    return float(diff.max()) / peak


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    peak = float(np.iinfo(a.dtype).max)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def _unit_rgb(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., :3].astype(np.float32) / float(np.iinfo(pixels.dtype).max)


def latent_distortion(reference: np.ndarray, changed: np.ndarray) -> float:
    """Relative TAEF2 latent distortion ||E(x') - E(x)|| / ||E(x)|| over the RGB channels, with
    the shipped ONNX encoder (`fixative.protection.graphs`, no torch), at the size the host
    wrote."""
    from fixative.protection.graphs import latent_distortion as relative

    # One thread: a small encoder on a busy 2-core machine crawls with two.
    return relative(_unit_rgb(reference), _unit_rgb(changed), threads=1)


def _noisy(reference: np.ndarray, amplitude: float) -> np.ndarray:
    """`reference`'s RGB plus uniform noise in [-amplitude, amplitude] (amplitude in [0, 1])."""
    rng = np.random.default_rng(0)
    unit = _unit_rgb(reference)
    noisy = np.clip(unit + rng.uniform(-amplitude, amplitude, unit.shape).astype(np.float32), 0, 1)
    return (noisy * 255).round().astype(np.uint8)


def measure(reference: np.ndarray, protected: np.ndarray, eps: float) -> dict:
    """Latent distortion of `protected` vs `reference`, and that of uniform noise with the
    same eps and with the same image PSNR (mean squared error)."""
    if reference.shape[2] == 4:
        # Hosts differ in what colour they store under alpha 0; no viewer shows it.
        protected = protected.copy()
        hidden = reference[..., 3] == 0
        protected[hidden] = reference[hidden]
    ours = latent_distortion(reference, protected)
    mse = float(np.mean((_unit_rgb(protected) - _unit_rgb(reference)) ** 2))
    same_eps = latent_distortion(reference, _noisy(reference, eps))
    same_psnr = latent_distortion(reference, _noisy(reference, math.sqrt(3 * mse)))
    return {
        "distortion": ours,
        "noise_same_eps": same_eps,
        "noise_same_psnr": same_psnr,
        "ratio_same_eps": ours / same_eps,
        "ratio_same_psnr": ours / same_psnr,
    }


def assert_measurable(figures: dict[str, dict]) -> None:
    """Checked last, after every other property, so a weak model does not hide other failures."""
    weak = {
        n: round(f["distortion"], 3)
        for n, f in figures.items()
        if f["distortion"] <= MIN_DISTORTION
    }
    assert not weak, f"latent distortion not above {MIN_DISTORTION}: {weak}"


def sheet_size(panel: int) -> tuple[int, int]:
    """(width, height) of the core's preview sheet for panels `panel` pixels square: a column for
    the picture and one per model family, original above protected, headings on top."""
    from fixative.protection import families
    from fixative.protection.preview import GAP, label_height

    n = 1 + len(families.FAMILIES)
    return n * panel + (n - 1) * GAP, label_height(panel) + 2 * panel + GAP


def assert_family_columns(sheet: np.ndarray, panel: int) -> None:
    """A preview sheet as a host showed or saved it (possibly scaled) has, for each model family
    of the core's table, a labelled column whose protected panel differs from its original one,
    and the heading strip holds dark text above every column."""
    from fixative.protection import families
    from fixative.protection.preview import GAP, label_height

    width, height = sheet_size(panel)
    s = sheet.shape[1] / width
    assert abs(sheet.shape[0] - height * s) <= 2, (sheet.shape, (height, width))
    top = label_height(panel)
    for k in range(1 + len(families.FAMILIES)):
        x0, x1 = round(k * (panel + GAP) * s), round((k * (panel + GAP) + panel) * s)
        heading = sheet[: round(top * s), x0:x1, :3]
        assert heading.min() < 128, f"column {k}: no heading"
        upper = sheet[round((top + 2) * s) : round((top + panel - 2) * s), x0:x1, :3]
        lower = sheet[
            round((top + panel + GAP + 2) * s) : round((top + 2 * panel + GAP - 2) * s), x0:x1, :3
        ]
        assert upper.std() > 10 and lower.std() > 10, f"column {k} looks blank"
        if k > 0:  # a family's view of the protected picture is not that of the original
            assert not np.array_equal(upper, lower), f"column {k}"


# Beside the screenshots in docs/images: the choice texts each dialog showed when it was
# grabbed (tests/test_docs_screenshots.py compares them with the core's tables, so a changed
# text cannot leave an old picture in the docs).
SCREENSHOT_TEXTS = "screenshot-texts.json"


def record_screenshot_texts(target: Path, shot: str, texts: dict) -> None:
    """Merge `shot`'s texts into `target`/screenshot-texts.json."""
    path = target / SCREENSHOT_TEXTS
    known = json.loads(path.read_text()) if path.is_file() else {}
    known[shot] = texts
    path.write_text(json.dumps(known, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# A web browser stand-in for the hosts' Help: every way a host opens a page reaches it (Qt
# and Python's webbrowser run `xdg-open` from PATH; GTK asks GIO for text/html's default
# application, which the desktop file makes it). It records the URL and copies the page it
# names, so the test reads what the artist's browser would show.
_BROWSER = """#!/bin/sh
case "$1" in /*) url="file://$1" ;; *) url="$1" ;; esac  # GIO hands over a path
printf '%s\\n' "$url" >> /results/help-opened.txt
cp "${url#file://}" /results/help-page.html
"""
_BROWSER_DESKTOP = """[Desktop Entry]
Type=Application
Name=Help recorder
Exec=/results/bin/xdg-open %u
MimeType=text/html;
NoDisplay=true
"""


def browser_recorder(results: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(env, home files) that make `results`/bin/xdg-open the hosts' web browser."""
    bin_dir = results / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "xdg-open").write_text(_BROWSER)
    (bin_dir / "xdg-open").chmod(0o755)
    env = {"PATH": "/results/bin:/usr/local/bin:/usr/bin:/bin", "BROWSER": "/results/bin/xdg-open"}
    files = {
        ".local/share/applications/fixative-help-recorder.desktop": _BROWSER_DESKTOP,
        ".config/mimeapps.list": (
            "[Default Applications]\ntext/html=fixative-help-recorder.desktop\n"
        ),
    }
    return env, files


def assert_help_opened(results: Path, host: str) -> str:
    """The host's Help opened its own page of the docs, inside the installed plug-in."""
    opened = (results / "help-opened.txt").read_text().split()
    assert len(opened) == 1 and opened[0].startswith("file:///"), opened
    assert opened[0].endswith(f"/fixative_host/manual/en/docs/{host}.html"), opened
    page = (results / "help-page.html").read_text()
    title = (REPO / "docs" / f"{host}.md").read_text().splitlines()[0].lstrip("# ")
    assert f">{title}</h1>" in page, page[:500]
    return opened[0]
