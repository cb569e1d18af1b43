#!/usr/bin/env python3
"""Build the installable GIMP 3 plug-in folder `fixative/` and a zip of it.

    python scripts/build_gimp_plugin.py [--out dist/gimp]             # fixative-gimp.zip
    python scripts/build_gimp_plugin.py --platform macos-arm64        # official macOS GIMP
    python scripts/build_gimp_plugin.py --platform linux-x86_64 --python 3.13

The folder goes into GIMP's plug-ins folder (Edit > Preferences > Folders > Plug-ins), e.g.
~/.config/GIMP/3.0/plug-ins/fixative/fixative.py. Layout:
    fixative/fixative.py              entry point (executable)
    fixative/fixative_gimp/           GIMP bridge
    fixative/fixative-package.json    which Python and platform (read by its start-up check)
    fixative/lib/fixative/            the core, with models/ (manifest + .onnx)
    fixative/lib/fixative_host/       host-neutral glue (in-process / external Python)
    fixative/deps/                    only with --platform: numpy, onnxruntime, Pillow unpacked
Without --platform (`fixative-gimp.zip`): Linux GIMP runs the system Python (install
python3-numpy, python3-pil and python3-onnxruntime); Windows GIMP's MSYS2 Python cannot load
PyPI wheels, so it runs the core in an External Python. With --platform macos-arm64 or
macos-x86_64 the wheels are for the Python official macOS GIMP bundles (scripts/host_builds.py:
3.10), in `fixative-gimp-py310-macos-arm64.zip`; --python chooses another.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import host_builds
from plugin_vendor import PLATFORMS, REPO, vendor_core, vendor_wheels, write_zip

SOURCE = REPO / "plugins" / "gimp" / "fixative"
HOST = "gimp"


def build(
    out: Path,
    models_dir: Path,
    platform: str | None = None,
    python: str | None = None,
    *,
    cache: Path | None = None,
) -> Path:
    """Build `out/fixative/` and its zip (named by its Python and platform); return the folder."""
    if platform and not python:
        python = (host_builds.pythons(HOST, platform) or [None])[-1]
        if python is None:
            msg = (
                f"no official GIMP build for {platform} bundles a Python that loads PyPI "
                "wheels (scripts/host_builds.py); give --python"
            )
            raise SystemExit(msg)
    if not platform:
        python = None
    folder = out / "fixative"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(SOURCE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (folder / "fixative.py").chmod(0o755)
    vendor_core(folder / "lib", models_dir, "gimp")
    if platform and python:
        vendor_wheels(folder / "deps", platform, python, cache=cache)
    host_builds.write_package_facts(folder, HOST, python, platform)
    write_zip(folder, out / host_builds.package_name(HOST, python, platform), prefix="fixative/")
    return folder


def zip_of(folder: Path) -> Path:
    """The zip `build` wrote beside `folder`."""
    facts = json.loads((folder / "fixative-package.json").read_text())
    return folder.parent / facts["package"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "gimp")
    parser.add_argument(
        "--models", type=Path, default=REPO / "models", help="folder with manifest.json"
    )
    parser.add_argument(
        "--platform", choices=sorted(PLATFORMS), help="also unpack wheels for this platform"
    )
    parser.add_argument(
        "--python", help="Python version of the wheels, e.g. 3.13 (with --platform)"
    )
    parser.add_argument("--cache", type=Path, help="folder to keep downloaded wheels in")
    args = parser.parse_args(argv)
    if args.python and not args.platform:
        parser.error("--python needs --platform (the wheels are per platform)")
    folder = build(args.out, args.models, args.platform, args.python, cache=args.cache)
    print(folder)
    print(zip_of(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
