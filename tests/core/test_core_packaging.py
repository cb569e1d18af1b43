"""pyproject.toml: the wheel holds the package, the shipped model and the console script."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_package_model_and_entry_point(tmp_path: Path) -> None:
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
    modules = ("__init__", "__main__", "model", "protect", "files", "reading", "writing")
    for module in (*modules, "formats", "png16", "view", "refine", "graphs"):
        assert f"fixative/{module}.py" in names
    for command in ("__init__", "protect", "info", "check", "snippets"):
        assert f"fixative/cli/{command}.py" in names
    assert f"fixative/models/{manifest['default']}" in names
    # Thorough mode's graphs (and the TAEF2 model card with the weights' licence) ship too.
    assert manifest["graphs"]
    for entry in manifest["graphs"].values():
        assert f"fixative/models/{entry['file']}" in names
    assert "fixative/models/taef2.md" in names
    assert "fixative = fixative.cli:main" in scripts
    assert not any(n.startswith(("tests/", "scripts/", "plugins/")) for n in names)
