#!/usr/bin/env python3
"""Build the zips that Krita's Tools > Scripts > Import Python Plugin from File... installs.

    python scripts/build_krita_plugin.py [--out DIR]                    # fixative-krita.zip
    python scripts/build_krita_plugin.py --platform windows-x86_64      # one zip per Krita Python
    python scripts/build_krita_plugin.py --platform windows-x86_64 --python 3.13

Without --platform: `fixative-krita.zip`, for Linux distribution Krita, which runs the system
Python and its numpy/onnxruntime/Pillow. With --platform: official Krita builds bundle a Python
without them, so numpy, onnxruntime and Pillow wheels for that platform are unpacked into the
plug-in's `deps/`; one zip per Python that official Krita builds bundle on that platform
(scripts/host_builds.py: 3.10 for Krita 5.2, 3.13 for 5.3 and 6.0), named by it:
`fixative-krita-py313-windows-x86_64.zip`. --python builds one (any version pip finds wheels for).

Zip layout (what Krita's importer looks for: a .desktop file naming the module, the module
folder with __init__.py, and an optional .action file of the same name):
    fixative_krita.desktop
    fixative_krita.action
    fixative_krita/__init__.py, extension.py, bridge.py, ...
    fixative_krita/Manual.html            Krita's Plugin Manager page, the core's words filled in
    fixative_krita/fixative-package.json  which Python and platform (read by its start-up check)
    fixative_krita/lib/fixative/          the core, with models/ (manifest + .onnx)
    fixative_krita/lib/fixative_host/     host-neutral glue (in-process / external Python)
    fixative_krita/deps/                  with --platform: numpy, onnxruntime, Pillow unpacked
"""

from __future__ import annotations

import argparse
import shutil
import sys
from html import escape
from pathlib import Path

import host_builds
from plugin_vendor import PLATFORMS, REPO, vendor_core, vendor_wheels, write_zip

SOURCE = REPO / "plugins" / "krita"
NAME = "fixative_krita"
HOST = "krita"


def build(
    out: Path,
    models_dir: Path,
    platform: str | None = None,
    python: str | None = None,
    *,
    cache: Path | None = None,
) -> Path:
    """Build one zip into `out` (staged in `out/stage-<name>/`); returns its path. With a
    platform and no python: the Python official Krita builds bundle there (the newest)."""
    if platform and not python:
        python = (host_builds.pythons(HOST, platform) or [None])[-1]
        if python is None:
            msg = f"no official Krita build for {platform} in scripts/host_builds.py; give --python"
            raise SystemExit(msg)
    if not platform:
        python = None
    zip_path = out / host_builds.package_name(HOST, python, platform)
    stage = stage_of(zip_path)
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    shutil.copy2(SOURCE / f"{NAME}.desktop", stage)
    shutil.copy2(SOURCE / f"{NAME}.action", stage)
    shutil.copytree(
        SOURCE / NAME, stage / NAME, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    write_manual_html(stage / NAME / "Manual.html")
    vendor_core(stage / NAME / "lib", models_dir, "krita")
    if platform and python:
        vendor_wheels(stage / NAME / "deps", platform, python, cache=cache)
    host_builds.write_package_facts(stage / NAME, HOST, python, platform)
    write_zip(stage, zip_path)
    return zip_path


def write_manual_html(path: Path) -> None:
    """Fill the Plugin Manager page's markers with the core's words (the dialog's own), so the
    page cannot promise a strength or a speed the dialog no longer says."""
    from fixative_host import choices

    def items(names, label, text) -> str:
        rows = "".join(f"<li><b>{escape(label(n))}</b>: {escape(text(n))}</li>" for n in names)
        return f"<ul>{rows}</ul>"

    filled = {
        "aimed-at": f"<p>{escape(choices.AIMED_AT)}</p>",
        "strengths": items(choices.STRENGTHS, choices.strength_label, choices.strength_help),
        "modes": items(choices.MODES, choices.mode_label, choices.mode_help),
        "declare": escape(choices.DECLARE_HELP),
    }
    page = path.read_text(encoding="utf-8")
    for key, html in filled.items():
        marker = f"<!-- fixative:{key} -->"
        if marker not in page:
            raise SystemExit(f"{path}: no {marker} to fill")
        page = page.replace(marker, html)
    path.write_text(page, encoding="utf-8")


def stage_of(zip_path: Path) -> Path:
    """The folder `build` zipped into `zip_path` (the zip's contents, unpacked)."""
    return zip_path.parent / f"stage-{zip_path.stem}"


def build_all(
    out: Path, models_dir: Path, platform: str, *, cache: Path | None = None
) -> list[Path]:
    """One zip per Python that official Krita builds bundle on `platform`."""
    return [
        build(out, models_dir, platform, python, cache=cache)
        for python in host_builds.pythons(HOST, platform)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "krita")
    parser.add_argument("--models", type=Path, default=REPO / "models")
    parser.add_argument("--platform", choices=sorted(PLATFORMS))
    parser.add_argument(
        "--python",
        help="one Python version for the wheels (default with --platform: a zip for each "
        "Python official Krita builds bundle there)",
    )
    parser.add_argument("--cache", type=Path, help="folder to keep downloaded wheels in")
    args = parser.parse_args(argv)
    if args.python and not args.platform:
        parser.error("--python needs --platform (the wheels are per platform)")
    if args.platform and not args.python:
        built = build_all(args.out, args.models, args.platform, cache=args.cache)
        if not built:
            parser.error(f"no official Krita build for {args.platform}; give --python")
    else:
        built = [build(args.out, args.models, args.platform, args.python, cache=args.cache)]
    for path in built:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
