"""Fixative for Blender: Save Protected As… and protection of rendered frames.

Only Blender's UI and pixel access live here. Protection is the `fixative` core (installed
from the extension's wheels), reached through the glue shared with Krita and GIMP
(`fixative_host`, copied in by scripts/build_blender_extension.py). Registering imports only
their plain-Python parts, so a missing numpy or onnxruntime never fails the load: the message
comes when the user protects something.
"""

from __future__ import annotations

import sys

from . import frames, host, manual, operators, prefs


def register() -> None:
    import bpy

    bpy.utils.register_class(prefs.FixativePreferences)
    manual.register()
    operators.register()
    frames.register()
    if host.PACKAGE_MISMATCH:  # in the console at start; every action reports it too
        print(f"Fixative: {host.PACKAGE_MISMATCH}", file=sys.stderr)


def unregister() -> None:
    import bpy

    frames.unregister()
    operators.unregister()
    manual.unregister()
    bpy.utils.unregister_class(prefs.FixativePreferences)
