"""The imports run one way: core -> host glue -> adapters, never back (read from the source).

The core (`core/`, the package `fixative`) imports no host module, no host glue, nothing from
`scripts/` and no torch; the host glue (`plugins/common/fixative_host`) imports no host module
and no adapter; no adapter imports another. Checked on every `import` statement, wherever it
is (module level or inside a function), so a lazy import cannot hide a layer break.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HOST_MODULES = {"krita", "PyQt5", "PyQt6", "gi", "bpy", "bpy_extras", "mathutils"}
SCRIPTS = {p.stem for p in (REPO / "scripts").glob("*.py")}
ADAPTERS = {
    "krita": {"fixative_krita"},
    "gimp": {"fixative_gimp"},
    "blender": set(),  # relative imports only (`from .bridge import ...`)
}


def _imports(path: Path) -> set[str]:
    """The top-level names of every absolute import in a file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _breaks(folder: Path, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {name}"
        for path in _files(folder)
        for name in sorted(_imports(path) & forbidden)
    ]


def test_the_scan_sees_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os.path\ndef f():\n    from bpy import types\nfrom . import x\n")
    assert _imports(probe) == {"os", "bpy"}


def test_core_imports_no_host_glue_script_or_torch() -> None:
    forbidden = HOST_MODULES | SCRIPTS | {"torch", "fixative_host", "fixative_krita"}
    forbidden |= {"fixative_gimp"}
    assert _breaks(REPO / "core", forbidden) == []


def test_host_glue_imports_no_host_and_no_adapter() -> None:
    forbidden = HOST_MODULES | SCRIPTS | {"torch"} | set().union(*ADAPTERS.values())
    assert _breaks(REPO / "plugins" / "common", forbidden) == []


@pytest.mark.parametrize("host", sorted(ADAPTERS))
def test_adapters_import_no_other_adapter_and_no_script(host: str) -> None:
    others = set().union(*(names for name, names in ADAPTERS.items() if name != host))
    assert _breaks(REPO / "plugins" / host, others | SCRIPTS | {"torch"}) == []
