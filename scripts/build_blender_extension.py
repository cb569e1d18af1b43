#!/usr/bin/env python3
"""Build the Fixative Blender extension: one zip per platform, validated by Blender.

    python scripts/build_blender_extension.py [--out dist/blender] [--python 3.11,3.13,3.14]
        [--platform linux-x64 --platform windows-x64 ...] [--system-deps] [--stage-only]
        [--blender "blender"]

Steps: copy `plugins/blender/` to a staging folder, with the host glue shared with Krita and
GIMP (`plugins/common/fixative_host`) as its sub-package `fixative_host`; build the project as a
wheel (`pip wheel . --no-deps`, the `fixative` package with its shipped model in
`fixative/models/`); download each platform's onnxruntime and Pillow wheels with their
dependencies for the target Python (`pip download --only-binary=:all:`), dropping numpy, which
Blender ships; list them in the staged `blender_manifest.toml`; then `blender --command
extension build --split-platforms` and `blender --command extension validate` on every zip.

Blender's compiled wheels are per Python version, and Blender refuses a zip whose wheels are for
another ("This Python version (3.14) isn't compatible"), so one zip is built per Python and
platform, named by both (`fixative-0.1.0-py313-linux_x64.zip`), each in its own output folder:
3.11 for Blender 4.2-5.0 (blender.org), 3.13 for blender.org's 5.1 and later, 3.14 for distro
builds such as Debian's 5.2. `--python` takes one version or a comma-separated list (default:
all three).

`--system-deps` bundles only the core wheel and relies on onnxruntime, Pillow and numpy being
importable from Blender's Python already, as with Debian's blender (system python3.13 with
python3-onnxruntime and python3-pil): the host tests install that zip. `--stage-only` stops
before Blender (for building with a Blender that runs elsewhere, e.g. in the hosts root).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import host_builds
from plugin_vendor import download_wheels, vendor_glue

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "plugins" / "blender"
# Blender platform id -> pip --platform tags (newest first; pip accepts several).
PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64"],
    "linux-arm64": ["manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_11_0_arm64"],
}
RUNTIME = ["onnxruntime", "pillow"]
HOST = "blender"
# The Pythons Blender runs (4.2-5.0: 3.11, blender.org 5.1+: 3.13, Debian's 5.2: 3.14), from
# the one table of host builds.
PYTHONS = tuple(host_builds.pythons(HOST))
NEVER_BUNDLED = ("numpy",)  # Blender ships its own; a second copy would shadow it


class BuildError(RuntimeError):
    pass


def run(cmd: list[str], **kw: object) -> None:
    print("+", shlex.join(cmd), flush=True)
    proc = subprocess.run(cmd, **kw)
    if proc.returncode != 0:
        msg = f"command failed (exit {proc.returncode}): {shlex.join(cmd)}"
        raise BuildError(msg)


def stage_source(stage: Path) -> None:
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(SOURCE, stage, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Imported relatively (`from .fixative_host import ...`), as Blender asks of extensions:
    # no sys.path changes, no clash with another add-on's copy.
    vendor_glue(stage, "blender")


def build_core_wheel(wheels: Path) -> Path:
    wheels.mkdir(parents=True, exist_ok=True)
    # setuptools copies into build/lib and never empties it: a module moved or removed since an
    # earlier build would ship again, stale, beside its new place.
    shutil.rmtree(REPO / "build" / "lib" / "fixative", ignore_errors=True)
    before = set(wheels.glob("*.whl"))
    run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-w", str(wheels)])
    built = [w for w in wheels.glob("fixative-*.whl") if w not in before] or list(
        wheels.glob("fixative-*.whl")
    )
    if len(built) != 1:
        msg = f"expected one fixative wheel in {wheels}, found {[w.name for w in built]}"
        raise BuildError(msg)
    check_core_wheel(built[0])
    return built[0]


def check_core_wheel(wheel: Path) -> None:
    """The extension has no other copy of the model: the wheel must carry the shipped one."""
    names = set(zipfile.ZipFile(wheel).namelist())
    # Every package of the core (pyproject lists them one by one; a forgotten one is absent).
    packages = sorted(
        "fixative/" + str(p.relative_to(REPO / "core"))
        for p in (REPO / "core").rglob("__init__.py")
        if "__pycache__" not in p.parts
    )
    absent = [name for name in packages if name not in names]
    if absent:
        msg = f"{wheel.name} lacks the core's packages {absent}"
        raise BuildError(msg)
    if (REPO / "models" / "manifest.json").is_file():
        import json

        manifest = json.loads((REPO / "models" / "manifest.json").read_text())
        needed = ["fixative/models/manifest.json", f"fixative/models/{manifest['default']}"]
        needed += [f"fixative/models/{g['file']}" for g in manifest.get("graphs", {}).values()]
        missing = [n for n in needed if n not in names]
        if missing:
            msg = f"{wheel.name} lacks the shipped model files {missing}"
            raise BuildError(msg)


def download_runtime(
    wheels: Path, platform: str, python: str, *, cache: Path | None = None
) -> None:
    print(f"+ pip download {' '.join(RUNTIME)} for {platform}, Python {python}", flush=True)
    try:
        download_wheels(wheels, PLATFORMS[platform], python, RUNTIME, deps=True, cache=cache)
    except subprocess.CalledProcessError as exc:
        msg = f"pip found no {' and '.join(RUNTIME)} wheels for {platform}, Python {python}"
        raise BuildError(msg) from exc
    for wheel in wheels.glob("*.whl"):
        if wheel.name.split("-")[0].lower() in NEVER_BUNDLED:
            wheel.unlink()
    drop_shadowed_binaries(wheels)


def drop_shadowed_binaries(wheels: Path) -> None:
    """Where a pure-Python wheel of a name and version exists (pip picks one for some platforms,
    e.g. protobuf), drop that version's binary wheels: Blender unpacks every wheel of a zip into
    one site-packages, and two builds of one package would overwrite each other."""
    pure = {tuple(w.name.split("-")[:2]) for w in wheels.glob("*-none-any.whl")}
    for wheel in wheels.glob("*.whl"):
        if not wheel.name.endswith("-none-any.whl") and tuple(wheel.name.split("-")[:2]) in pure:
            wheel.unlink()


def write_manifest(stage: Path, platforms: list[str] | None) -> None:
    wheels = sorted(p.name for p in (stage / "wheels").glob("*.whl"))
    lines = ["", "wheels = ["] + [f'    "./wheels/{w}",' for w in wheels] + ["]"]
    if platforms:
        lines.append("platforms = [" + ", ".join(f'"{p}"' for p in platforms) + "]")
    manifest = stage / "blender_manifest.toml"
    text = manifest.read_text()
    # Top-level keys must precede the first [table] in TOML.
    head, sep, tail = text.partition("\n[permissions]")
    manifest.write_text(head.rstrip("\n") + "\n" + "\n".join(lines) + "\n" + sep + tail)


def stage_extension(
    out: Path,
    python: str,
    platforms: list[str],
    system_deps: bool,
    *,
    cache: Path | None = None,
) -> Path:
    stage = out / f"stage-py{python.replace('.', '')}"
    stage_source(stage)
    build_core_wheel(stage / "wheels")
    if not system_deps:
        for platform in platforms:
            download_runtime(stage / "wheels", platform, python, cache=cache)
    write_manifest(stage, None if system_deps else platforms)
    # Which Python its wheels are for, read by the add-on's start-up check (fixative_host.abi);
    # a --system-deps zip bundles no compiled module, so it fits any.
    host_builds.write_package_facts(stage, HOST, None if system_deps else python, None)
    return stage


def table_platforms(python: str) -> list[str]:
    """The platforms scripts/host_builds.py lists Blender builds with `python` for."""
    return [b.platform for b in host_builds.rows(HOST) if b.python == python and b.platform]


def blender_build(blender: list[str], stage: Path, out: Path, split: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.glob("*.zip"))
    cmd = [*blender, "--command", "extension", "build", "--source-dir", str(stage)]
    cmd += ["--output-dir", str(out)]
    if split:
        cmd.append("--split-platforms")
    run(cmd)
    zips = sorted(set(out.glob("*.zip")) - before) or sorted(out.glob("*.zip"))
    for z in zips:
        run([*blender, "--command", "extension", "validate", str(z)])
    return zips


def build(
    out: Path,
    pythons: list[str],
    platforms: list[str] | None = None,
    *,
    system_deps: bool = False,
    stage_only: bool = False,
    blender: str = "blender",
    cache: Path | None = None,
) -> list[Path]:
    """Stage (and unless `stage_only`, build and validate) one extension per Python; returns
    the zips, named as scripts/host_builds.py names them. Platforms: `platforms`, else those
    the table lists for the Python, else all."""
    built: list[Path] = []
    for python in pythons:
        tag = host_builds.python_tag(python)
        folder = out.resolve() / tag
        chosen = platforms or table_platforms(python) or sorted(PLATFORMS)
        stage = stage_extension(folder, python, chosen, system_deps, cache=cache)
        print(f"staged {stage}")
        if stage_only:
            continue
        zips = blender_build(shlex.split(blender), stage, folder, not system_deps)
        built += [name_by_python(z, python) for z in zips]
    return built


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "dist" / "blender")
    ap.add_argument(
        "--python",
        default=",".join(PYTHONS),
        help=f"Blender's Python version(s), comma-separated (default: {','.join(PYTHONS)})",
    )
    ap.add_argument("--platform", action="append", choices=sorted(PLATFORMS), dest="platforms")
    ap.add_argument("--system-deps", action="store_true", help="bundle the core wheel only")
    ap.add_argument("--stage-only", action="store_true", help="stop before running Blender")
    ap.add_argument("--blender", default="blender", help="command that runs Blender")
    ap.add_argument("--cache", type=Path, help="folder to keep downloaded wheels in")
    args = ap.parse_args(argv)
    pythons = [p.strip() for p in args.python.split(",") if p.strip()]
    if not pythons:
        ap.error("--python: give at least one version, e.g. 3.11")
    try:
        built = build(
            args.out,
            pythons,
            args.platforms,
            system_deps=args.system_deps,
            stage_only=args.stage_only,
            blender=args.blender,
            cache=args.cache,
        )
    except BuildError as exc:
        print(f"build_blender_extension: {exc}", file=sys.stderr)
        return 1
    for z in built:
        print(f"built {z}")
    return 0


def name_by_python(zip_path: Path, python: str) -> Path:
    """fixative-0.1.0-linux_x64.zip -> fixative-0.1.0-py313-linux_x64.zip (which to download
    is the Python's choice as much as the platform's), as scripts/host_builds.py names it."""
    version = host_builds.blender_version()
    platform = zip_path.stem.removeprefix(f"fixative-{version}").lstrip("-")
    name = host_builds.package_name(HOST, python, platform.replace("_", "-") if platform else None)
    return zip_path if zip_path.name == name else zip_path.rename(zip_path.with_name(name))


if __name__ == "__main__":
    sys.exit(main())
