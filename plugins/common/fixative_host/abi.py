"""Does a plug-in package's bundled compiled code fit the Python that loads it?

A package built for official host builds carries numpy, onnxruntime and Pillow unpacked into
its `deps/` folder, compiled for one Python (cp310, cp313, ...) and one platform. Loaded by
another Python, the first `import numpy` fails with an ImportError that names no remedy. So
each plug-in asks `mismatch()` at start, before anything imports them, and shows the answer as
a message instead.

What is compared: the `Tag:` lines of the unpacked wheels' `*.dist-info/WHEEL` files (the
tags the compiled modules were built for) against the running interpreter. Which package to
install instead comes from `fixative-package.json`, which the packaging scripts write from
their table of host builds (scripts/host_builds.py); this module keeps no table of its own.

Plain standard library: it runs before numpy is known to load.
"""

from __future__ import annotations

import json
import platform as _platform
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE_FILE = "fixative-package.json"
# Platform ids as the packaging scripts name them, in words for a message.
PLATFORM_WORDS = {
    "windows-x86_64": "Windows (x86-64)",
    "linux-x86_64": "Linux (x86-64)",
    "linux-arm64": "Linux (ARM64)",
    "macos-arm64": "macOS (Apple silicon)",
    "macos-x86_64": "macOS (Intel)",
}


@dataclass(frozen=True)
class Bundle:
    """What a `deps/` folder was built for: Python versions ("3.10") and platform ids."""

    pythons: frozenset[str]
    platforms: frozenset[str]


def tag_python(tag: str) -> str | None:
    """The Python of a wheel tag: cp310-cp310-win_amd64 -> "3.10"; None for a tag that any
    Python 3 loads (py3-none, cp311-abi3)."""
    interpreter, abi, _ = [*tag.split("-"), "", ""][:3]
    if abi in ("none", "abi3") or not interpreter.startswith("cp"):
        return None
    digits = interpreter[2:]
    return f"{digits[0]}.{digits[1:]}" if len(digits) >= 2 and digits.isdigit() else None


def tag_platform(tag: str) -> str | None:
    """The platform of a wheel tag: ..._manylinux_2_17_x86_64 -> "linux-x86_64"; None for "any"."""
    plat = tag.rsplit("-", 1)[-1]
    if plat == "any":
        return None
    if plat.startswith("win"):
        return "windows-x86_64" if plat.endswith("amd64") else f"windows-{plat[4:]}"
    arch = "arm64" if plat.endswith(("arm64", "aarch64")) else "x86_64"
    if plat.startswith("macosx"):
        return "macos" if plat.endswith("universal2") else f"macos-{arch}"
    if "linux" in plat:
        return f"linux-{arch}"
    return plat


def running_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def running_platform() -> str:
    machine = _platform.machine().lower()
    arch = "arm64" if machine in ("arm64", "aarch64") else "x86_64"
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    if system.startswith("linux"):
        system = "linux"
    return f"{system}-{arch}"


def bundle(deps: Path) -> Bundle:
    """The Pythons and platforms the wheels unpacked into `deps` were built for."""
    pythons: set[str] = set()
    platforms: set[str] = set()
    for wheel_file in sorted(deps.glob("*.dist-info/WHEEL")):
        for line in wheel_file.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("Tag:"):
                continue
            tag = line.partition(":")[2].strip()
            if (py := tag_python(tag)) is not None:
                pythons.add(py)
            if (plat := tag_platform(tag)) is not None:
                platforms.add(plat)
    return Bundle(frozenset(pythons), frozenset(platforms))


def read_package(folder: Path) -> dict:
    """The package's own facts (host, python, platform, the other packages), or {}."""
    try:
        return json.loads((folder / PACKAGE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def platform_id(name: str) -> str:
    """Blender's platform names ("linux-x64") as the others' ("linux-x86_64")."""
    return name[: -len("x64")] + "x86_64" if name.endswith("-x64") else name


def _fits(platforms: frozenset[str], here: str) -> bool:
    return all(p == here or (p == "macos" and here.startswith("macos-")) for p in platforms)


def mismatch(
    folder: Path,
    host: str,
    *,
    python: str | None = None,
    platform: str | None = None,
) -> str | None:
    """None when the compiled modules in `folder/deps` load in this Python (or there are
    none); else the message to show, naming the package to install instead."""
    python = python or running_python()
    platform = platform or running_platform()
    package = read_package(folder)
    deps = folder / "deps"
    if deps.is_dir():
        found = bundle(deps)
    elif package.get("python"):  # Blender installs the wheels itself; the package says
        found = Bundle(frozenset([package["python"]]), frozenset())
    else:
        return None
    python_ok = not found.pythons or found.pythons == {python}
    if python_ok and _fits(found.platforms, platform):
        return None
    built_for = " and ".join(sorted(found.pythons)) or "any Python"
    where = ", ".join(PLATFORM_WORDS.get(p, p) for p in sorted(found.platforms))
    name = package.get("package") or folder.name
    words = f"This Fixative package ({name}) is for Python {built_for}"
    words += f" on {where}" if where else ""
    words += f"; your {host} runs Python {python} on {PLATFORM_WORDS.get(platform, platform)}"
    return words + ": " + remedy(package, python, platform)


def remedy(package: dict, python: str, platform: str) -> str:
    """Which package of the same host fits this Python and platform, in words."""
    fitting = [
        p
        for p in package.get("packages", [])
        if p.get("python") == python and platform_id(p.get("platform") or "") == platform
    ]
    if fitting:
        row = fitting[0]
        host = package.get("host_name", "")
        notes = [f"for {host} {row['versions']}".strip()] if row.get("versions") else []
        notes += [package["version_hint"]] if package.get("version_hint") else []
        return f"install {row['package']} instead" + (f" ({'; '.join(notes)})." if notes else ".")
    return (
        "no Fixative package is made for it; set an External Python with numpy, Pillow and "
        "onnxruntime installed (see the Fixative documentation for your host)."
    )
