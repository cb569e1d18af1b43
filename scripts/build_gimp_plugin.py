#!/usr/bin/env python3
"""Build the installable GIMP 3 plug-in folder `fixative/` and a zip of it.

    python scripts/build_gimp_plugin.py [--out dist/gimp] [--platform windows-x86_64 --python 3.12]

The folder goes into GIMP's plug-ins folder (Edit > Preferences > Folders > Plug-ins), e.g.
~/.config/GIMP/3.0/plug-ins/fixative/fixative.py. Layout:
    fixative/fixative.py            entry point (executable)
    fixative/fixative_gimp/         GIMP bridge
    fixative/lib/fixative/          the core, with models/ (manifest + .onnx)
    fixative/lib/fixative_host/     host-neutral glue (in-process / external Python)
    fixative/deps/                  only with --platform: numpy, onnxruntime, Pillow unpacked
On Linux, GIMP runs the system Python: install python3-numpy, python3-pil and
python3-onnxruntime (or build with --platform linux-x86_64 --python <GIMP's Python>).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from plugin_vendor import PLATFORMS, REPO, vendor_core, vendor_wheels, write_zip

SOURCE = REPO / "plugins" / "gimp" / "fixative"


def build(
    out: Path, models_dir: Path, platform: str | None = None, python: str | None = None
) -> Path:
    """Build `out/fixative/` and `out/fixative-gimp.zip`; return the folder."""
    folder = out / "fixative"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(SOURCE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (folder / "fixative.py").chmod(0o755)
    vendor_core(folder / "lib", models_dir)
    if platform:
        vendor_wheels(folder / "deps", platform, python or "3.12")
    write_zip(folder, out / "fixative-gimp.zip", prefix="fixative/")
    return folder


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
        "--python", help="Python version of the wheels, e.g. 3.12 (with --platform)"
    )
    args = parser.parse_args(argv)
    folder = build(args.out, args.models, args.platform, args.python)
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
