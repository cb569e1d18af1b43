"""GIMP's side of the output formats: procedure names, extension lists and capabilities.

What a format is (label, extensions, mime type, lossy, alpha, 16 bits, default quality) is the
core's (`fixative.image.formats`, through `fixative_host.choices`); only how GIMP registers it is
here. Importing this needs no numpy: GIMP queries the plug-in before any export runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import gi

gi.require_version("Gimp", "3.0")
from fixative.image.formats import Format  # noqa: E402
from fixative_host import choices  # noqa: E402
from gi.repository import Gimp  # noqa: E402

# GIMP uses the file procedure with the LOWEST priority number when several match a file name
# (libgimp/gimpfileprocedure.c, gimp_file_procedure_set_priority; GIMP's own exporters are 0).
# 100 keeps `art.png` going to GIMP's own PNG: ours is chosen in Export As, or by its
# `fixative-png` style extension. tests/hosts/test_gimp.py checks both directions.
PRIORITY = 100
# TIFF is offered by Export Protected... only; GIMP's Export As lists PNG, JPEG and WebP.
EXPORT_TYPES = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class GimpFormat:
    core: Format

    @property
    def key(self) -> str:
        return self.core.key

    @property
    def procedure(self) -> str:
        return f"file-fixative-{self.key}-export"

    @property
    def label(self) -> str:
        return f"Fixative protected {self.core.label}"

    @property
    def own_extension(self) -> str:
        """'fixative-png': reaches the protected type by file name alone (GIMP matches the
        text after the last dot, so `art.protected.png` cannot)."""
        return f"fixative-{self.core.extension.lstrip('.')}"

    @property
    def extensions(self) -> str:
        """GIMP's comma-separated list: the core's extensions (so a protected file keeps a
        normal name), then our own."""
        return ",".join([*(e.lstrip(".") for e in self.core.extensions), self.own_extension])

    @property
    def capabilities(self) -> Gimp.ExportCapabilities:
        # Without CAN_HANDLE_ALPHA GIMP flattens onto the background colour, as for its own JPEG.
        caps = Gimp.ExportCapabilities.CAN_HANDLE_RGB
        if self.core.alpha:
            caps |= Gimp.ExportCapabilities.CAN_HANDLE_ALPHA
        return caps

    def help(self) -> str:
        """One line from the core's facts: 'lossless, keeps transparency and 16 bits'."""
        kept = [
            n for n, ok in (("transparency", self.core.alpha), ("16 bits", self.core.sixteen)) if ok
        ]
        compression = "lossy (quality setting)" if self.core.lossy else "lossless"
        if not self.core.alpha:
            return f"{compression}, 8 bits, no transparency (flattened)"
        return f"{compression}, keeps {' and '.join(kept)}"


FORMATS: dict[str, GimpFormat] = {k: GimpFormat(choices.format_of(k)) for k in choices.FORMAT_KEYS}
LOSSY = tuple(k for k, f in FORMATS.items() if f.core.lossy)


def by_procedure(name: str) -> GimpFormat:
    return next(f for f in FORMATS.values() if f.procedure == name)
