"""Add-on preferences: defaults for Save Protected As and the rendered-frames handler."""

from __future__ import annotations

from types import SimpleNamespace

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

# The choices are the core's (pure Python: importing these needs neither numpy nor onnxruntime,
# so the add-on still loads where those are missing); only their wording is here.
from fixative.refine import DEFAULT_STEPS
from fixative.settings import FAST, MAX_STEPS, MODE_HELP, MODES, ProtectSettings
from fixative.view import AUTO, NATIVE, VIEW_HELP


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


MODE_ITEMS = [(m, m.capitalize(), _sentence(MODE_HELP.get(m, ""))) for m in MODES]
VIEW_ITEMS = [(v, VIEW_HELP[v][0], _sentence(VIEW_HELP[v][1])) for v in (AUTO, NATIVE)]
DEFAULT_MODE = ProtectSettings.mode  # thorough: what a single saved image gets
FRAME_MODE = FAST  # rendered frames: a fraction of a second each, so renders are not slowed
STEPS_HELP = (
    f"Gradient steps of thorough mode, up to {MAX_STEPS}; 0 = the default ({DEFAULT_STEPS})"
)


def mode_help(mode: str) -> str:
    return _sentence(MODE_HELP.get(mode, ""))


STRENGTH_ITEMS = [
    ("low", "Low", "Smallest perturbation, weakest protection"),
    ("medium", "Medium", "Balanced (recommended)"),
    ("high", "High", "Strongest protection, most visible"),
]
DEVICE_ITEMS = [
    ("auto", "Automatic", "Use a GPU when onnxruntime offers one, else the CPU"),
    ("cpu", "CPU", "Always run on the CPU"),
    ("gpu", "GPU", "Require a GPU execution provider"),
]
FRAME_OUTPUT_ITEMS = [
    ("SIBLING", "Sibling File", "Write the protected frame next to the original, with a suffix"),
    ("IN_PLACE", "In Place", "Replace each written frame by its protected version"),
]


class FixativePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    strength: EnumProperty(name="Strength", items=STRENGTH_ITEMS, default="medium")
    mode: EnumProperty(
        name="Mode",
        description="Default mode of Save Protected As (rendered frames: the scene's setting)",
        items=MODE_ITEMS,
        default=DEFAULT_MODE,
    )
    view: EnumProperty(
        name="AI's View",
        description="The size the protection is computed at",
        items=VIEW_ITEMS,
        default=AUTO,
    )
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")
    declarations: BoolProperty(
        name="Write No-AI-Training Declarations",
        description="Embed the IPTC data-mining prohibition (XMP) in protected files",
        default=True,
    )
    protect_frames: BoolProperty(
        name="Protect Rendered Frames",
        description="Protect every frame Blender writes when rendering (scenes may override)",
        default=False,
    )
    frame_output: EnumProperty(name="Frame Output", items=FRAME_OUTPUT_ITEMS, default="SIBLING")
    suffix: StringProperty(
        name="Suffix",
        description="Added to the file name of a protected sibling frame",
        default="_protected",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "strength")
        layout.prop(self, "mode")
        layout.prop(self, "view")
        layout.prop(self, "device")
        layout.prop(self, "declarations")
        layout.separator()
        layout.prop(self, "protect_frames")
        layout.prop(self, "frame_output")
        row = layout.row()
        row.enabled = self.frame_output == "SIBLING"
        row.prop(self, "suffix")


# The preference defaults, for when the add-on was enabled without being recorded in the user's
# preferences (`blender --addons ...`): Blender then has no AddonPreferences instance for it.
DEFAULTS = SimpleNamespace(
    strength="medium",
    mode=DEFAULT_MODE,
    view=AUTO,
    device="auto",
    declarations=True,
    protect_frames=False,
    frame_output="SIBLING",
    suffix="_protected",
)


def get(context: bpy.types.Context | None = None) -> FixativePreferences | SimpleNamespace:
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    if addon is None or addon.preferences is None:
        return DEFAULTS
    return addon.preferences
