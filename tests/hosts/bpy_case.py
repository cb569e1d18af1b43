"""Blender as a Python module (PyPI's `bpy`), for tests/hosts/test_blender.py: the way a studio's
pipeline or a render farm's script runs Blender headless, with no `blender` binary.

    python bpy_case.py install ZIP        install an extension zip into bpy's user repository
    python bpy_case.py -- CASE OUT ARGS   run one case of blender_case.py in this bpy

Results are judged by the JSON files each writes, as with Blender's own binary.
"""

import json
import runpy
import sys
import traceback
from pathlib import Path

import bpy

CASE = Path(__file__).with_name("blender_case.py")


def install(zip_path: str, out: Path) -> None:
    """Blender's own installer (the Extensions add-on's operator), as Install from Disk runs."""
    data: dict = {"version": bpy.app.version_string, "python": sys.version.split()[0]}
    try:
        result = bpy.ops.extensions.package_install_files(
            filepath=zip_path, repo="user_default", enable_on_install=True
        )
        data["result"] = sorted(result)
        data["exception"] = None
    except Exception:
        data["exception"] = traceback.format_exc()
    (out / "bpy-install.json").write_text(json.dumps(data, indent=2))


if __name__ == "__main__":
    if sys.argv[1:2] == ["install"]:
        install(sys.argv[2], Path(sys.argv[3]))
    else:
        runpy.run_path(str(CASE), run_name="__main__")
