#!/usr/bin/env python3
"""Build the zip that Krita's Tools > Scripts > Import Python Plugin from File... installs.

    python scripts/build_krita_plugin.py [--out DIR] [--platform windows-x86_64 --python 3.10]

Zip layout (what Krita's importer looks for: a .desktop file naming the module, the module
folder with __init__.py, and an optional .action file of the same name):
    fixative_krita.desktop
    fixative_krita.action
    fixative_krita/__init__.py, extension.py, bridge.py, ...; Manual.html
    fixative_krita/lib/fixative/          the core, with models/ (manifest + .onnx)
    fixative_krita/lib/fixative_host/     host-neutral glue (in-process / external Python)
    fixative_krita/deps/                  with --platform: numpy, onnxruntime, Pillow unpacked
Official Krita builds bundle Python 3.10 without numpy: build with --platform and
--python 3.10 for them. Linux distribution builds use the system Python and its packages.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from plugin_vendor import PLATFORMS, REPO, vendor_core, vendor_wheels, write_zip

SOURCE = REPO / "plugins" / "krita"
NAME = "fixative_krita"


def build(
    out: Path, models_dir: Path, platform: str | None = None, python: str | None = None
) -> Path:
    """Build `out/fixative-krita/` (the zip's contents) and `out/fixative-krita.zip`."""
    stage = out / "fixative-krita"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    shutil.copy2(SOURCE / f"{NAME}.desktop", stage)
    shutil.copy2(SOURCE / f"{NAME}.action", stage)
    shutil.copytree(
        SOURCE / NAME, stage / NAME, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    vendor_core(stage / NAME / "lib", models_dir)
    if platform:
        vendor_wheels(stage / NAME / "deps", platform, python or "3.10")
    zip_path = out / "fixative-krita.zip"
    write_zip(stage, zip_path)
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "krita")
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--platform", choices=sorted(PLATFORMS))
    parser.add_argument("--python", help="Python version of the wheels (default 3.10)")
    args = parser.parse_args(argv)
    print(build(args.out, args.models, args.platform, args.python))
    return 0


if __name__ == "__main__":
    sys.exit(main())
