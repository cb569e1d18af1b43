"""Fixative for Blender: Save Protected As… and protection of rendered frames.

Only Blender's UI lives here; protection itself is the `fixative` core (installed from the
extension's wheels) and is imported on first use, so a missing dependency never fails the load.
"""

from __future__ import annotations

from . import frames, operators, prefs


def register() -> None:
    import bpy

    bpy.utils.register_class(prefs.FixativePreferences)
    operators.register()
    frames.register()


def unregister() -> None:
    import bpy

    frames.unregister()
    operators.unregister()
    bpy.utils.unregister_class(prefs.FixativePreferences)
