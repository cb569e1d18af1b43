"""Image editor › Image › Save Protected As…"""

from __future__ import annotations

import tempfile
import traceback
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import bridge, engine, prefs

FORMAT_ITEMS = [
    ("PNG", "PNG", "Lossless, 8 or 16 bits, alpha"),
    ("JPEG", "JPEG", "Lossy, 8 bits, no alpha"),
    ("TIFF", "TIFF", "Lossless, 8 or 16 bits, alpha"),
    ("WEBP", "WebP", "Lossy, 8 bits, alpha"),
]
DEPTH_ITEMS = [("8", "8", "8 bits per channel"), ("16", "16", "16 bits per channel (PNG, TIFF)")]


class FIXATIVE_OT_save_protected_as(bpy.types.Operator):
    """Save the image with Fixative's protection against AI mimicry (and no-AI-training tags)"""

    bl_idname = "image.fixative_save_protected_as"
    bl_label = "Save Protected As…"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender requires a set

    filepath: StringProperty(subtype="FILE_PATH", options={"SKIP_SAVE"})
    check_existing: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    image_name: StringProperty(
        name="Image",
        description="Image to save (default: the one shown in the Image Editor)",
        options={"HIDDEN", "SKIP_SAVE"},
    )
    file_format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="PNG")
    color_depth: EnumProperty(name="Color Depth", items=DEPTH_ITEMS, default="8")
    quality: IntProperty(name="Quality", min=1, max=100, default=90, subtype="PERCENTAGE")
    strength: EnumProperty(name="Strength", items=prefs.STRENGTH_ITEMS, default="medium")
    declarations: BoolProperty(
        name="No-AI-Training Declarations",
        description="Embed the IPTC data-mining prohibition (XMP) in the file",
        default=True,
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        space = context.space_data
        if space is not None and space.type == "IMAGE_EDITOR":
            return space.image is not None
        return True  # from a script: `image_name` says which image

    def _image(self, context: bpy.types.Context) -> bpy.types.Image | None:
        if self.image_name:
            return bpy.data.images.get(self.image_name)
        space = context.space_data
        return getattr(space, "image", None) if space is not None else None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        p = prefs.get(context)
        self.strength = p.strength
        self.declarations = p.declarations
        image = self._image(context)
        if image is None:
            self.report({"ERROR"}, "No image to save: open one in the Image Editor")
            return {"CANCELLED"}
        self.image_name = image.name  # the file browser's context has no Image Editor
        if not self.filepath:
            stem = bpy.path.clean_name(Path(image.name).stem) or "image"
            folder = Path(bpy.path.abspath("//")) if bpy.data.filepath else Path.home()
            self.filepath = str(folder / (stem + "_protected"))
        self.check(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def check(self, context: bpy.types.Context) -> bool:
        """Keep the file name's extension in step with the chosen format (like Save As)."""
        path = Path(self.filepath)
        if bridge.refused_reason(str(path)):
            return False
        ext = bridge.FORMATS[self.file_format][1]
        current = path.suffix.lower()
        if current in bridge.EXTENSIONS and bridge.EXTENSIONS[current] == self.file_format:
            return False
        base = path.with_suffix("") if current in bridge.EXTENSIONS else path
        new = str(base) + ext
        changed = new != self.filepath
        self.filepath = new
        return changed

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "file_format")
        alpha_16 = bridge.FORMATS[self.file_format][3]
        row = layout.row()
        row.enabled = alpha_16
        row.prop(self, "color_depth", expand=True)
        if self.file_format in {"JPEG", "WEBP"}:
            layout.prop(self, "quality")
        layout.prop(self, "strength")
        layout.prop(self, "declarations")

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            message = self._save(context)
        except engine.EngineError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except Exception as exc:  # a bug must never take Blender down; show it and log it
            traceback.print_exc()
            self.report({"ERROR"}, f"Fixative failed unexpectedly: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def _save(self, context: bpy.types.Context) -> str:
        image = self._image(context)
        if image is None:
            name = self.image_name or "(none in the Image Editor)"
            msg = f"No image named {name} to save"
            raise engine.EngineError(msg)
        if not self.filepath:
            raise engine.EngineError("No file name given for the protected image")
        dst = Path(bpy.path.abspath(self.filepath))
        reason = bridge.refused_reason(str(dst))
        if reason:
            msg = f"Cannot save {dst.name}: {reason}"
            raise engine.EngineError(msg)
        if dst.suffix.lower() not in bridge.EXTENSIONS:
            dst = dst.with_name(dst.name + bridge.FORMATS[self.file_format][1])
        fmt_id = bridge.EXTENSIONS[dst.suffix.lower()]
        core_fmt, _, alpha_ok, sixteen_ok = bridge.FORMATS[fmt_id]
        if not dst.parent.is_dir():
            msg = f"Cannot save {dst}: the folder {dst.parent} does not exist"
            raise engine.EngineError(msg)

        p = prefs.get(context)
        options = {
            "strength": self.strength,
            "device": p.device,
            "declarations": self.declarations,
            "fmt": core_fmt,
            "quality": self.quality if fmt_id in {"JPEG", "WEBP"} else None,
        }
        alpha = alpha_ok and bridge.has_alpha(image, context.scene)
        sixteen = sixteen_ok and self.color_depth == "16"
        wm = context.window_manager
        wm.progress_begin(0, 100)

        def progress(fraction: float, _message: str) -> None:
            wm.progress_update(5 + 95 * fraction)

        try:
            if bridge.is_render(image):
                with tempfile.TemporaryDirectory(prefix="fixative-") as tmp:
                    src = Path(tmp) / "render.png"
                    bridge.save_display_png(image, context.scene, src, alpha=alpha, sixteen=sixteen)
                    wm.progress_update(5)
                    # The file browser has already asked before replacing a file.
                    engine.protect_file(src, dst, overwrite=True, progress=progress, **options)
            else:
                try:
                    pixels = bridge.image_array(image, alpha=alpha, sixteen=sixteen)
                except ValueError as exc:
                    raise engine.EngineError(str(exc)) from exc
                except ImportError as exc:  # numpy missing from Blender's Python
                    raise engine.EngineError(engine.missing_message(exc)) from exc
                wm.progress_update(5)
                engine.protect_pixels(pixels, dst, progress=progress, **options)
        finally:
            wm.progress_end()
        return f"Saved protected image to {dst}"


def menu_entry(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    self.layout.separator()
    self.layout.operator(FIXATIVE_OT_save_protected_as.bl_idname, icon="LOCKED")


def register() -> None:
    bpy.utils.register_class(FIXATIVE_OT_save_protected_as)
    bpy.types.IMAGE_MT_image.append(menu_entry)


def unregister() -> None:
    bpy.types.IMAGE_MT_image.remove(menu_entry)
    bpy.utils.unregister_class(FIXATIVE_OT_save_protected_as)
