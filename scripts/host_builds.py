#!/usr/bin/env python3
"""The one table of host builds: which package each official Krita, GIMP and Blender build takes.

    python scripts/host_builds.py            # print the table (Markdown)
    python scripts/host_builds.py --docs     # rewrite the generated tables in docs/*.md

A row is a host, the host versions it covers, a platform, the Python their official builds
bundle and the package file built for them. The packaging scripts (build_krita_plugin.py,
build_gimp_plugin.py, build_blender_extension.py, build_release.py) build from it, each
package carries its host's rows (`fixative-package.json`, read by the plug-in's Python check,
`fixative_host.abi`), and the host pages of docs/ show it between the markers
`<!-- host-builds:HOST -->` and `<!-- /host-builds -->`, so no version is written twice.

Where the Pythons come from (checked 2026-12): Krita's dependency build
(KDE/krita-deps-management, ext_python) bundles 3.10.7 on the krita/5.2 branch and 3.13.5 on
master, from which 5.3.x and 6.0.x are built; GIMP's macOS build (GNOME/gimp-macos-build)
bundles 3.10 for 3.0.x and 3.2.x; blender.org bundles 3.11 in 4.2-5.0 and 3.13 from 5.1;
distribution Blenders run the system Python (Debian's 5.2: 3.14). Not in the table: Windows
GIMP, whose MSYS2 Python cannot load PyPI's wheels (the External Python route), and Krita 5.3+
on Intel Macs, for which PyPI has no onnxruntime for Python 3.13 (the External Python route).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
HOSTS = {"krita": "Krita", "gimp": "GIMP", "blender": "Blender"}
# Where the user reads the host's version, said when a package does not fit.
VERSION_HINTS = {
    "krita": "Help › About Krita shows its version",
    "gimp": "Help › About GIMP shows its version",
    "blender": "Help › About Blender shows its version",
}
# Blender's platform ids (build_blender_extension.py maps each to pip's wheel tags).
BLENDER_PLATFORMS = ("linux-x64", "linux-arm64", "windows-x64", "macos-arm64")


@dataclass(frozen=True)
class HostBuild:
    host: str  # a key of HOSTS
    versions: str  # the host versions this row covers, as the user reads them
    builds: str  # whose builds: "official installer, AppImage", "distribution packages"
    platform: str | None  # the packaging script's platform id; None: no wheels bundled
    python: str | None  # the Python those builds bundle; None: the system's, with its packages

    @property
    def package(self) -> str:
        return package_name(self.host, self.python, self.platform)

    @property
    def tag(self) -> str:
        """Its Python as "py310" (or "" for a package without compiled modules)."""
        return python_tag(self.python) if self.python else ""


def python_tag(python: str) -> str:
    return "py" + python.replace(".", "")


def blender_version() -> str:
    # Read by pattern: tomllib is not in Python 3.10, which these scripts still run on.
    text = (REPO / "plugins/blender/blender_manifest.toml").read_text(encoding="utf-8")
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def package_name(host: str, python: str | None, platform: str | None) -> str:
    """The file name a package for `python` and `platform` gets (one rule for all hosts)."""
    if host == "blender":
        stem = f"fixative-{blender_version()}"
        stem += f"-{python_tag(python)}" if python else ""
        # `blender --command extension build --split-platforms` names zips by "linux_x64".
        return stem + (f"-{platform.replace('-', '_')}" if platform else "") + ".zip"
    if python is None or platform is None:
        return f"fixative-{host}.zip"
    return f"fixative-{host}-{python_tag(python)}-{platform}.zip"


# Krita's official builds per platform.
_KRITA_BUILDS = {
    "windows-x86_64": "official Windows installer",
    "macos-arm64": "official macOS DMG, Apple silicon",
    "macos-x86_64": "official macOS DMG, Intel",
    "linux-x86_64": "official AppImage",
}
_KRITA_52 = ("5.2", "3.10")
_KRITA_53 = ("5.3, 6.0", "3.13")
_GIMP_MAC = ("3.0, 3.2", "official macOS DMG", "3.10")  # one DMG per architecture
_BLENDER = (
    ("4.2 – 5.0", "blender.org", "3.11"),
    ("5.1 and later", "blender.org", "3.13"),
    ("5.2 (distribution builds, e.g. Debian's)", "distribution packages", "3.14"),
)

BUILDS: tuple[HostBuild, ...] = (
    *(
        HostBuild("krita", _KRITA_52[0], _KRITA_BUILDS[p], p, _KRITA_52[1])
        for p in ("windows-x86_64", "macos-arm64", "macos-x86_64", "linux-x86_64")
    ),
    *(
        HostBuild("krita", _KRITA_53[0], _KRITA_BUILDS[p], p, _KRITA_53[1])
        for p in ("windows-x86_64", "macos-arm64", "linux-x86_64")
    ),
    HostBuild("krita", "5.2, 5.3, 6.0", "Linux distribution packages", None, None),
    *(
        HostBuild("gimp", _GIMP_MAC[0], _GIMP_MAC[1], p, _GIMP_MAC[2])
        for p in ("macos-arm64", "macos-x86_64")
    ),
    HostBuild(
        "gimp",
        "3.0, 3.2",
        "Linux distribution packages and Flatpak; Windows with an External Python",
        None,
        None,
    ),
    *(
        HostBuild("blender", versions, builds, p, python)
        for versions, builds, python in _BLENDER[:2]
        for p in BLENDER_PLATFORMS
    ),
    *(
        HostBuild("blender", _BLENDER[2][0], _BLENDER[2][1], p, _BLENDER[2][2])
        for p in ("linux-x64", "linux-arm64")
    ),
)


def rows(host: str) -> list[HostBuild]:
    return [b for b in BUILDS if b.host == host]


def pythons(host: str, platform: str | None = None) -> list[str]:
    """The Pythons `host`'s official builds bundle (on `platform`), oldest first."""
    found = {
        b.python for b in rows(host) if b.python and (platform is None or b.platform == platform)
    }
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def find(host: str, python: str | None, platform: str | None) -> HostBuild | None:
    return next((b for b in rows(host) if b.python == python and b.platform == platform), None)


def package_facts(host: str, python: str | None, platform: str | None) -> dict:
    """What a built package says of itself (`fixative-package.json`): its own row and the
    others of its host, so a plug-in loaded by the wrong Python can name the right file."""
    return {
        "host": host,
        "host_name": HOSTS[host],
        "package": package_name(host, python, platform),
        "python": python,
        "platform": platform,
        "version_hint": VERSION_HINTS[host],
        "packages": [asdict(b) | {"package": b.package} for b in rows(host) if b.python],
    }


def write_package_facts(folder: Path, host: str, python: str | None, platform: str | None) -> Path:
    path = folder / "fixative-package.json"
    path.write_text(json.dumps(package_facts(host, python, platform), indent=2) + "\n")
    return path


def markdown(host: str) -> str:
    """The host's rows as the Markdown table the docs and PACKAGES.md show."""
    lines = [
        f"| {HOSTS[host]} | builds | platform | Python | package |",
        "| --- | --- | --- | --- | --- |",
    ]
    for b in rows(host):
        python = b.python or "the system's"
        lines.append(
            f"| {b.versions} | {b.builds} | {b.platform or 'any'} | {python} | `{b.package}` |"
        )
    return "\n".join(lines)


MARKER = re.compile(
    r"^([ \t]*)(<!-- host-builds:(\w+) -->\n).*?^[ \t]*(<!-- /host-builds -->)", re.S | re.M
)


def render_docs(text: str) -> str:
    """`text` with every generated table replaced by the current one (indented as its
    markers are, so a table inside a list item stays in it)."""

    def table(m: re.Match[str]) -> str:
        indent = m.group(1)
        body = "".join(f"{indent}{line}\n" for line in markdown(m.group(3)).splitlines())
        return indent + m.group(2) + body + indent + m.group(4)

    return MARKER.sub(table, text)


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if MARKER.search(p.read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", action="store_true", help="rewrite the tables in docs/*.md")
    args = parser.parse_args(argv)
    if not args.docs:
        print("\n\n".join(markdown(h) for h in HOSTS))
        return 0
    for page in doc_pages():
        text = page.read_text(encoding="utf-8")
        new = render_docs(text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"updated {page.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
