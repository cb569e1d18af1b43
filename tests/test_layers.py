"""The imports run one way: core -> host glue -> adapters, never back (read from the source).

The core (`core/`, the package `fixative`) imports no host module, no host glue, nothing from
`scripts/` and no torch; the host glue (`plugins/common/fixative_host`) imports no host module
and no adapter; no adapter imports another. Inside the core, the packages by job run one way
too, from the command line down to errors (`CORE_LAYERS`). Checked on every `import`
statement, wherever it is (module level, inside a function, under TYPE_CHECKING), so a lazy
or type-only import cannot hide a layer break.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parent.parent
HOST_MODULES = {"krita", "PyQt5", "PyQt6", "gi", "bpy", "bpy_extras", "mathutils"}
SCRIPTS = {p.stem for p in (REPO / "scripts").glob("*.py")}
ADAPTERS = {
    "krita": {"fixative_krita"},
    "gimp": {"fixative_gimp"},
    "blender": set(),  # relative imports only (`from .bridge import ...`)
}


# The core's layers, top first: a module may import its own layer and those below, never one
# above. `fixative/__init__.py` (the lazy public API) and `__main__.py` stand above them all.
CORE_LAYERS = ("cli", "jobs", "protection", "image", "declarations", "atomic", "errors")
CORE_TOP = {"__init__", "__main__"}
# What a core module may take from the package root itself (`from .. import __version__`).
ROOT_FACTS = {"__version__"}


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


def _core_module(path: Path) -> tuple[str, ...]:
    """A core file's module path under `fixative` (`core/image/writing.py` -> image, writing)."""
    parts = path.relative_to(REPO / "core").with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts


def _core_targets(path: Path) -> list[tuple[str, ...]]:
    """Every module (or root name) a core file imports from `fixative`, as paths under it."""
    here = _core_module(path)
    package = here if path.name == "__init__.py" else here[:-1]
    targets: list[tuple[str, ...]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = tuple(alias.name.split("."))
                if parts[0] == "fixative":
                    targets.append(parts[1:])
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        elif node.module and node.module.split(".")[0] == "fixative":
            base = ()
        else:
            continue
        module = tuple(node.module.split(".")) if node.module else ()
        module = module[1:] if not node.level else module
        # `from X import name`: name may be a module of X or a name defined in X.
        targets += [(*base, *module, alias.name) for alias in node.names]
    return targets


def _layer(parts: tuple[str, ...]) -> int | None:
    return CORE_LAYERS.index(parts[0]) if parts and parts[0] in CORE_LAYERS else None


def core_layer_breaks(path: Path) -> list[str]:
    """Imports of one core file that run back up the layers (or into the root's lazy API)."""
    here = _core_module(path)
    if here[0] in CORE_TOP:
        return []
    own = _layer(here)
    breaks = []
    for target in _core_targets(path):
        layer = _layer(target)
        if layer is None:
            if len(target) == 1 and target[0] in ROOT_FACTS:
                continue
            breaks.append(f"{path.relative_to(REPO)} imports fixative.{'.'.join(target)}")
        elif own is None or layer < own:
            breaks.append(f"{path.relative_to(REPO)} imports fixative.{'.'.join(target)}")
    return breaks


def test_every_core_module_has_a_layer() -> None:
    """A new module or package must take its place in CORE_LAYERS before it can be checked."""
    lost = [
        str(p.relative_to(REPO))
        for p in _files(REPO / "core")
        if _core_module(p)[0] not in CORE_TOP and _layer(_core_module(p)) is None
    ]
    assert lost == []


def test_core_packages_run_one_way() -> None:
    assert [b for p in _files(REPO / "core") for b in core_layer_breaks(p)] == []


def test_the_core_scan_sees_a_break(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan itself: upward, root-API and absolute imports are caught; downward pass."""
    core = tmp_path / "core"
    (core / "image").mkdir(parents=True)
    probe = core / "image" / "probe.py"
    probe.write_text(
        "from ..jobs import files\n"  # up: jobs sits above image
        "from .. import atomic, __version__\n"  # down, and the one root fact
        "from .formats import FORMATS\n"  # same package
        "def f():\n"
        "    from ..protection.settings import ProtectSettings\n"  # up, lazily
        "    import fixative.cli\n"  # up, absolute
        "    from .. import protect_file\n"  # the root's lazy API: a cycle in waiting
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert core_layer_breaks(probe) == [
        "core/image/probe.py imports fixative.jobs.files",
        "core/image/probe.py imports fixative.protection.settings.ProtectSettings",
        "core/image/probe.py imports fixative.cli",
        "core/image/probe.py imports fixative.protect_file",
    ]


def test_each_core_package_says_what_it_may_import() -> None:
    for package in CORE_LAYERS:
        init = REPO / "core" / package / "__init__.py"
        if init.is_file():
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
            assert "May import" in doc, f"{init.relative_to(REPO)}: say what the package may import"


def test_pyproject_ships_every_core_package() -> None:
    """setuptools takes only the packages listed: a package missing there is missing from the
    wheel (and from the Blender extension built on it)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(("fixative", *p.parent.relative_to(REPO / "core").parts))
        for p in (REPO / "core").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk <= listed, sorted(on_disk - listed)
