"""Fixative's manual, from Blender: the extension's own copy of docs/blender.md (rendered into
`fixative_host/manual` by the build), opened in the web browser by Blender's own URL operator.
"""

from __future__ import annotations

import bpy

from .fixative_host import help as host_help
from .fixative_host.runner import HostError


class FIXATIVE_OT_manual(bpy.types.Operator):
    bl_idname = "fixative.manual"
    bl_label = "Fixative Manual"
    bl_description = (
        "Fixative's manual for Blender, in your web browser (installed with the extension)"
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            link = host_help.url("blender")
        except HostError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return bpy.ops.wm.url_open(url=link)


def draw(layout: bpy.types.UILayout) -> None:
    """The Help button, where each of Fixative's panels ends."""
    layout.operator(FIXATIVE_OT_manual.bl_idname, text="Help", icon="HELP")


def register() -> None:
    bpy.utils.register_class(FIXATIVE_OT_manual)


def unregister() -> None:
    bpy.utils.unregister_class(FIXATIVE_OT_manual)
