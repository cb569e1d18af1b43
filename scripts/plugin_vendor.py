"""Shared steps of the Krita, GIMP and Blender packaging scripts.

The Krita and GIMP plug-ins carry the core (`core/` as the package `fixative`, with
`models/`), the host-neutral glue (`plugins/common/fixative_host`) and, optionally,
third-party wheels unpacked for one platform and Python version. The Blender extension gets
the core as a wheel (Blender installs wheels itself) and the glue as a sub-package
(`vendor_glue`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GLUE = REPO / "plugins" / "common" / "fixative_host"
# The build scripts read the glue's tables (choices, help) as the plug-ins do.
if str(GLUE.parent) not in sys.path:
    sys.path.insert(0, str(GLUE.parent))
# Only what the core imports at run time: onnxruntime's declared dependencies (protobuf,
# flatbuffers, sympy via coloredlogs...) serve its tools, not inference, hence --no-deps.
RUNTIME_PACKAGES = ("numpy", "onnxruntime", "pillow")
# pip platform tags per target name (wheels must be binary for these).
PLATFORMS = {
    "linux-x86_64": ["manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64"],
    "windows-x86_64": ["win_amd64"],
    "macos-arm64": [
        "macosx_11_0_arm64",
        "macosx_12_0_arm64",
        "macosx_13_0_arm64",
        "macosx_14_0_arm64",
    ],
    "macos-x86_64": ["macosx_10_15_x86_64", "macosx_11_0_x86_64", "macosx_12_0_x86_64"],
}
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def vendor_core(lib: Path, models_dir: Path, host: str) -> None:
    """Copy the core as `lib/fixative` (with the shipped models) and `lib/fixative_host` (with
    `host`'s manual)."""
    shutil.copytree(REPO / "core", lib / "fixative", ignore=_IGNORE)
    vendor_glue(lib, host)
    manifest_path = models_dir / "manifest.json"
    if not manifest_path.is_file():
        msg = f"{manifest_path}: no model manifest; the plug-in needs the shipped model"
        raise SystemExit(msg)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    target = lib / "fixative" / "models"
    target.mkdir()
    shutil.copy2(manifest_path, target / "manifest.json")
    # The generators and the auxiliary graphs thorough mode runs (encoder, gradients, mask).
    files = [*manifest["models"], *(g["file"] for g in manifest.get("graphs", {}).values())]
    for name in files:
        shutil.copy2(models_dir / name, target / name)


def vendor_glue(folder: Path, host: str) -> Path:
    """Copy the host glue as `folder/fixative_host`, with `host`'s docs rendered into it (what
    its dialogs' Help opens); returns it. Its modules import each other relatively, so it
    works as a top-level package (Krita, GIMP) or a sub-package (Blender)."""
    import manual

    target = folder / "fixative_host"
    shutil.copytree(GLUE, target, ignore=_IGNORE)
    manual.render(host, target / "manual")
    return target


def download_wheels(
    dest: Path,
    tags: list[str],
    python: str,
    packages: tuple[str, ...] | list[str],
    *,
    deps: bool = False,
    cache: Path | None = None,
) -> list[Path]:
    """`pip download` binary wheels of `packages` for pip platform `tags` and `python` into
    `dest`; returns them. With `cache`, a download is kept in `cache/<key>/` and reused by the
    next build of the same platform, Python and packages (the test suite builds many)."""
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:"]
    cmd += [] if deps else ["--no-deps"]
    cmd += ["--python-version", python, "--implementation", "cp"]
    for tag in tags:
        cmd += ["--platform", tag]
    dest.mkdir(parents=True, exist_ok=True)
    if cache is None:
        subprocess.run([*cmd, "--dest", str(dest), *packages], check=True)
        return sorted(dest.glob("*.whl"))
    key = "-".join(
        [tags[0], f"py{python.replace('.', '')}", *packages, *(["deps"] if deps else [])]
    )
    kept = cache / key
    if not (kept / "complete").is_file():
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
        subprocess.run([*cmd, "--dest", str(kept), *packages], check=True)
        (kept / "complete").write_text("\n".join(sorted(p.name for p in kept.glob("*.whl"))))
    for wheel in sorted(kept.glob("*.whl")):
        shutil.copy2(wheel, dest / wheel.name)
    return sorted(dest.glob("*.whl"))


def vendor_wheels(
    deps: Path, platform: str, python: str, *, cache: Path | None = None
) -> list[str]:
    """Download numpy/onnxruntime/Pillow wheels for `platform` and `python` (e.g. "3.10")
    with pip and unpack them into `deps`; returns the wheel file names."""
    if platform not in PLATFORMS:
        msg = f"unknown platform {platform!r}; choose one of {', '.join(PLATFORMS)}"
        raise SystemExit(msg)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = download_wheels(
            Path(tmp), PLATFORMS[platform], python, RUNTIME_PACKAGES, cache=cache
        )
        deps.mkdir(parents=True, exist_ok=True)
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                zf.extractall(deps)
        return [w.name for w in wheels]


def write_zip(folder: Path, zip_path: Path, *, prefix: str = "") -> None:
    """Zip `folder`'s contents under `prefix`, with explicit directory entries (Krita's
    importer looks for `<module>/` entries) and sorted names, so builds are reproducible."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            name = prefix + path.relative_to(folder).as_posix()
            info = zipfile.ZipInfo(
                name + ("/" if path.is_dir() else ""), date_time=(2026, 1, 1, 0, 0, 0)
            )
            if path.is_dir():
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
            else:
                mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
