"""pyproject.toml: the wheel holds the package, the shipped model and the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_package_model_and_entry_point(tmp_path: Path) -> None:
    # setuptools never empties build/lib: a module moved since an earlier build would ship
    # again from there (as scripts/build_blender_extension.py also guards against).
    shutil.rmtree(ROOT / "build" / "lib" / "fixative", ignore_errors=True)
    # The PEP 517 backend directly: what pip runs, without pip's index lookups.
    code = f"from setuptools import build_meta; build_meta.build_wheel({str(tmp_path)!r})"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("fixative-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("fixative/models/manifest.json"))
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = zf.read(entry_points).decode()
    # Every module of every package by job, and nothing else (no stale build output).
    core = ROOT / "core"
    sources = {
        "fixative/" + p.relative_to(core).as_posix()
        for p in core.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert {"fixative/protection/refine.py", "fixative/cli/batch.py"} <= sources
    packaged = {n for n in names if n.endswith(".py") and not n.startswith("fixative/models/")}
    assert packaged == sources
    assert f"fixative/models/{manifest['default']}" in names
    # Thorough mode's graphs (and the TAEF2 model card with the weights' licence) ship too.
    assert manifest["graphs"]
    for entry in manifest["graphs"].values():
        assert f"fixative/models/{entry['file']}" in names
    assert "fixative/models/taef2.md" in names
    assert "fixative = fixative.cli:main" in scripts
    assert not any(n.startswith(("tests/", "scripts/", "plugins/")) for n in names)
