"""Add-on preferences: defaults for Save Protected As and for rendered frames.

Whether a scene's frames are protected is the scene's own setting (Output Properties ›
Fixative Protection); the preference here is only the default of scenes that leave it at
"Add-on Default", hence its different label.
"""

from __future__ import annotations

from types import SimpleNamespace

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import items, manual
from .fixative_host import choices

DEFAULT_MODE = choices.DEFAULT_MODE  # thorough: what a single saved image gets
FRAME_MODE = choices.FAST  # rendered frames: the generator plus one step, a few seconds each
FRAME_OUTPUT_ITEMS = [
    (
        "SIBLING",
        "Protected Copy",
        f"Save the protected frame next to the original as NAME{items.SUFFIX}.EXT; the "
        "original render is kept",
    ),
    ("IN_PLACE", "Replace Frame", "Replace each frame file by its protected version"),
]


def draw_help(layout: bpy.types.UILayout, text: str, width: int = 56) -> None:
    """An explanation under a setting, in as many labels as it needs (labels do not wrap and
    Blender elides the middle of a long one): `width` characters suit a panel; the file
    browser's narrow sidebar wants fewer."""
    col = layout.column(align=True)
    for line in items.lines(text, width):
        col.label(text=line)


class FixativePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    strength: EnumProperty(
        name="Strength",
        description=items.STRENGTH_DESCRIPTION + " (Save Protected As and rendered frames)",
        items=items.STRENGTH_ITEMS,
        default=choices.DEFAULT_STRENGTH,
    )
    mode: EnumProperty(
        name="Mode",
        description="Default mode of Save Protected As (rendered frames: each scene's Frame "
        "Mode, in Output Properties)",
        items=items.MODE_ITEMS,
        default=DEFAULT_MODE,
    )
    view: EnumProperty(
        name="AI's View",
        description=items.VIEW_DESCRIPTION,
        items=items.VIEW_ITEMS,
        default=choices.DEFAULT_VIEW,
    )
    device: EnumProperty(
        name="Device",
        description=items.DEVICE_DESCRIPTION,
        items=items.DEVICE_ITEMS,
        default="auto",
    )
    declarations: BoolProperty(
        name=items.DECLARE_NAME, description=items.DECLARE_DESCRIPTION, default=True
    )
    protect_frames: BoolProperty(
        name="Protect Frames by Default",
        description="For scenes whose Output Properties › Fixative Protection says 'Add-on "
        "Default': protect every frame they render. Each scene can say On or Off instead",
        default=False,
    )
    frame_output: EnumProperty(
        name="Protected Frames",
        description="Where a protected frame goes",
        items=FRAME_OUTPUT_ITEMS,
        default="SIBLING",
    )
    suffix: StringProperty(
        name="Suffix",
        description=f"Added to a frame's file name for its protected copy: frame_0001.png "
        f"becomes frame_0001{items.SUFFIX}.png",
        default=items.SUFFIX,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.label(text="Defaults of Save Protected As (Image Editor › Image):")
        layout.prop(self, "strength")
        layout.prop(self, "mode")
        layout.prop(self, "declarations")
        layout.separator()
        layout.label(text="Rendered frames (each scene: Output Properties › Fixative Protection):")
        layout.prop(self, "protect_frames")
        layout.prop(self, "frame_output")
        row = layout.row()
        row.enabled = self.frame_output == "SIBLING"
        row.prop(self, "suffix")
        header, body = layout.panel("FIXATIVE_prefs_advanced", default_closed=True)
        header.label(text="Advanced")
        if body is not None:
            body.prop(self, "view")
            draw_help(body, choices.view_help(self.view))
            body.prop(self, "device")
            draw_help(body, choices.device_help(self.device))
        manual.draw(layout)


# The preference defaults, for when the add-on was enabled without being recorded in the user's
# preferences (`blender --addons ...`): Blender then has no AddonPreferences instance for it.
DEFAULTS = SimpleNamespace(
    strength=choices.DEFAULT_STRENGTH,
    mode=DEFAULT_MODE,
    view=choices.DEFAULT_VIEW,
    device="auto",
    declarations=True,
    protect_frames=False,
    frame_output="SIBLING",
    suffix=items.SUFFIX,
)


def get(context: bpy.types.Context | None = None) -> FixativePreferences | SimpleNamespace:
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    if addon is None or addon.preferences is None:
        return DEFAULTS
    return addon.preferences
