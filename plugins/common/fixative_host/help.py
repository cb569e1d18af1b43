"""Each dialog's Help: the host's page of the docs (docs/krita.md, gimp.md, blender.md), which
the packaging scripts render to HTML inside this package (scripts/manual.py), so it opens
offline and describes the very version installed.
"""

from __future__ import annotations

from pathlib import Path

from .runner import HostError

HOSTS = ("krita", "gimp", "blender")
MANUAL = Path(__file__).resolve().parent / "manual"  # where the packaging scripts render it
LOCALE = "en"  # GIMP's help system reads MANUAL/<locale>/GIMP_HELP_MAP
GIMP_HELP_MAP = "gimp-help.xml"  # GIMP's map of help ids to pages, in GIMP's manual's format
PAGE = "docs/{host}.html"  # the host's page, under MANUAL/LOCALE, as in the repository
GIMP_HELP_DOMAIN = "fixative"
GIMP_HELP_ID = "fixative"  # every GIMP procedure's help id; gimp-help.xml maps it to the page


def page(host: str) -> Path:
    """The host's rendered page; a HostError when this copy of the plug-in has none (a
    checkout used in place of a built package)."""
    if host not in HOSTS:
        raise ValueError(f"unknown host {host!r}")
    path = MANUAL / LOCALE / PAGE.format(host=host)
    if not path.is_file():
        raise HostError(
            f"the help pages are not in this copy of the plug-in ({path} is missing); "
            f"build the package with scripts/build_*.py, or read docs/{host}.md"
        )
    return path


def url(host: str) -> str:
    """The host's page as a file: URL."""
    return page(host).as_uri()
