"""Image editor › Image › Save Protected As…

From the file browser the protection runs off the main thread (the pixels are read from Blender
first, on the main thread): Blender stays responsive, the status bar shows the core's progress
per step and tile, and Esc cancels. From a script (or in background mode) it runs to the end
before the operator returns, as any save operator does. Either way the work, its errors and its
report are the shared glue's (`host`, over `fixative_host`), as in Krita and GIMP.

The menu entry is prepended to Image: Blender's menu API only adds at either end of a menu
(`prepend`/`append`), so it cannot sit right after Save As without replacing Blender's own menu;
the top is where it is seen first (docs/blender.md).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import bridge, host, items, manual, prefs
from .fixative_host import choices

_LAST: dict[str, Any] = {}
SIDEBAR = 34  # characters per explanation line in the file browser's sidebar


def last_save() -> dict[str, Any]:
    """What the last Save Protected As did (for scripts and tests): how it ran ("modal" or
    "blocking"), the progress messages it showed, its outcome and the core's report."""
    return dict(_LAST)


class _Job:
    """One protection running on a worker thread; the modal operator polls it."""

    def __init__(self, work: Callable[..., Any], cleanup: Callable[[], None]) -> None:
        self.work = work
        self.cleanup = cleanup
        self.fraction = 0.0
        self.message = ""
        self.messages: list[str] = []
        self.cancelled = False
        self.report: Any = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def progress(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message
        self.messages.append(message)

    def cancel_requested(self) -> bool:
        return self.cancelled

    def _run(self) -> None:
        try:
            self.report = self.work(progress=self.progress, cancel=self.cancel_requested)
        except Exception as exc:  # reported by the operator on the main thread
            self.error = exc
        finally:
            self.cleanup()

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()


class FIXATIVE_OT_save_protected_as(bpy.types.Operator):
    """Save the image with Fixative's protection against AI mimicry (and no-AI-training tags)"""

    bl_idname = "image.fixative_save_protected_as"
    bl_label = "Save Protected As…"
    bl_options = {"REGISTER"}  # noqa: RUF012 - Blender requires a set

    filepath: StringProperty(
        name="File Path",
        description="Where the protected image is saved",
        subtype="FILE_PATH",
        options={"SKIP_SAVE"},
    )
    check_existing: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_image: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    image_name: StringProperty(
        name="Image",
        description="Image to save (default: the one shown in the Image Editor)",
        options={"HIDDEN", "SKIP_SAVE"},
    )
    file_format: EnumProperty(
        name="Format",
        description="File format of the protected image",
        items=items.FORMAT_ITEMS,
        default="PNG",
    )
    color_depth: EnumProperty(
        name="Color Depth",
        description="Bits per channel of the saved file",
        items=items.DEPTH_ITEMS,
        default="8",
    )
    quality: IntProperty(
        name="Quality",
        description="Compression quality of JPEG and WebP: lower is smaller and blurrier, "
        "which also weakens the protection",
        min=1,
        max=100,
        default=items.DEFAULT_QUALITY,
        subtype="PERCENTAGE",
    )
    strength: EnumProperty(
        name="Strength",
        description=items.STRENGTH_DESCRIPTION,
        items=items.STRENGTH_ITEMS,
        default=choices.DEFAULT_STRENGTH,
    )
    mode: EnumProperty(
        name="Mode",
        description=items.MODE_DESCRIPTION,
        items=items.MODE_ITEMS,
        default=prefs.DEFAULT_MODE,
    )
    view: EnumProperty(
        name="AI's View",
        description=items.VIEW_DESCRIPTION,
        items=items.VIEW_ITEMS,
        default=choices.DEFAULT_VIEW,
    )
    steps: IntProperty(
        name="Steps",
        description=items.STEPS_DESCRIPTION,
        min=0,
        max=choices.MAX_STEPS,
        default=0,
    )
    interactive: BoolProperty(default=False, options={"HIDDEN", "SKIP_SAVE"})
    declarations: BoolProperty(
        name=items.DECLARE_NAME, description=items.DECLARE_DESCRIPTION, default=True
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
        self.mode = p.mode
        self.view = p.view
        self.declarations = p.declarations
        self.interactive = True  # from the UI: run off the main thread, with Esc to cancel
        image = self._image(context)
        if image is None:
            self.report({"ERROR"}, "No image to save: open one in the Image Editor")
            return {"CANCELLED"}
        self.image_name = image.name  # the file browser's context has no Image Editor
        if not self.filepath:  # NAME-protected.EXT, as the CLI, Krita and GIMP name it
            stem = bpy.path.clean_name(Path(image.name).stem) or "image"
            folder = Path(bpy.path.abspath("//")) if bpy.data.filepath else Path.home()
            fmt = bridge.FORMATS[self.file_format]
            self.filepath = str(folder / choices.output_name(stem, fmt.key))
        self.check(context)
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def check(self, context: bpy.types.Context) -> bool:
        """Keep the file name's extension in step with the chosen format (like Save As)."""
        path = Path(self.filepath)
        if bridge.refused_reason(str(path)):
            return False
        ext = bridge.FORMATS[self.file_format].extension
        current = path.suffix.lower()
        if current in bridge.EXTENSIONS and bridge.EXTENSIONS[current] == self.file_format:
            return False
        base = path.with_suffix("") if current in bridge.EXTENSIONS else path
        new = str(base) + ext
        changed = new != self.filepath
        self.filepath = new
        return changed

    def draw(self, context: bpy.types.Context) -> None:
        """The file browser's sidebar: narrow, so explanations come in short lines."""
        layout = self.layout
        layout.use_property_split = True
        fmt = bridge.FORMATS[self.file_format]
        layout.prop(self, "file_format")
        row = layout.row()
        row.enabled = fmt.sixteen
        row.prop(self, "color_depth", expand=True)
        if fmt.lossy:
            layout.prop(self, "quality")
        if not fmt.alpha:
            prefs.draw_help(layout, "transparency is flattened onto white", SIDEBAR)
        layout.prop(self, "strength")
        prefs.draw_help(layout, choices.strength_help(self.strength), SIDEBAR)
        layout.prop(self, "mode", expand=True)
        prefs.draw_help(layout, choices.mode_help(self.mode), SIDEBAR)
        row = layout.row()
        row.use_property_split = False  # the declaration's label is long: the full width
        row.prop(self, "declarations")
        header, body = layout.panel("FIXATIVE_save_advanced", default_closed=True)
        header.label(text="Advanced")
        if body is not None:
            body.prop(self, "view")
            prefs.draw_help(body, choices.view_help(self.view), SIDEBAR)
            row = body.row()
            row.enabled = choices.takes_steps(self.mode)
            row.prop(self, "steps")
            p = prefs.get(context)
            body.label(text=f"Device: {items.DEVICE_LABELS.get(p.device, p.device)}")
            prefs.draw_help(body, choices.device_help(p.device), SIDEBAR)
        manual.draw(layout)

    def execute(self, context: bpy.types.Context) -> set[str]:
        _LAST.clear()
        _LAST.update(mode=self.mode, messages=[], result=None, error=None, report=None)
        try:
            work, cleanup, dst = self._prepare(context)
        except host.HostError as exc:
            return self._failed(str(exc))
        except Exception as exc:  # a bug must never take Blender down; show it and log it
            traceback.print_exc()
            return self._failed(f"Fixative failed unexpectedly: {exc}")
        self._dst = dst
        if self.interactive and context.window is not None and not bpy.app.background:
            return self._start_modal(context, work, cleanup)
        _LAST["run"] = "blocking"
        wm = context.window_manager
        wm.progress_begin(0, 100)

        def progress(fraction: float, message: str) -> None:
            _LAST["messages"].append(message)
            wm.progress_update(5 + 95 * fraction)

        try:
            wm.progress_update(5)
            report = work(progress=progress, cancel=None)
        except host.HostError as exc:
            return self._failed(str(exc), cancelled=isinstance(exc, host.HostCancelled))
        except Exception as exc:
            traceback.print_exc()
            return self._failed(f"Fixative failed unexpectedly: {exc}")
        finally:
            cleanup()
            wm.progress_end()
        return self._finished(report)

    # -- outcomes -----------------------------------------------------------------------------

    def _failed(self, message: str, *, cancelled: bool = False) -> set[str]:
        _LAST.update(result="CANCELLED", error=message, cancelled=cancelled)
        self.report({"WARNING" if cancelled else "ERROR"}, message)
        return {"CANCELLED"}

    def _finished(self, report: dict) -> set[str]:
        how = report.get("mode", "")
        if report.get("steps"):
            how = f"{how}, {report['steps']} steps"
        # Blender's convention for a save: an INFO report, shown in the status bar and the
        # Info editor. It names the file written, with its folder.
        message = f"Saved protected image {self._dst.name} in {self._dst.parent} ({how})"
        _LAST.update(result="FINISHED", report=report, message=message)
        self.report({"INFO"}, message)
        return {"FINISHED"}

    # -- the modal run (from the file browser) ------------------------------------------------

    def _start_modal(self, context: bpy.types.Context, work, cleanup) -> set[str]:
        _LAST["run"] = "modal"
        self._job = _Job(work, cleanup)
        self._job.thread.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        wm.progress_begin(0, 100)
        self._status(context, "starting")
        return {"RUNNING_MODAL"}

    def _status(self, context: bpy.types.Context, message: str | None) -> None:
        workspace = getattr(context, "workspace", None)
        if workspace is None:
            return
        if message is None:
            workspace.status_text_set(None)
        else:
            name = self._dst.name
            workspace.status_text_set(f"Fixative: protecting {name}: {message} (Esc to cancel)")

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        job = self._job
        if event.type == "ESC" and event.value == "PRESS" and not job.cancelled:
            job.cancelled = True
            self._status(context, "cancelling…")
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}  # Blender stays usable while the image is protected
        if not job.done:
            if not job.cancelled:
                self._status(context, job.message or "starting")
            context.window_manager.progress_update(100 * job.fraction)
            return {"RUNNING_MODAL"}
        self._end_modal(context)
        _LAST["messages"] = list(job.messages)
        if isinstance(job.error, host.HostCancelled):
            return self._failed(str(job.error), cancelled=True)
        if isinstance(job.error, host.HostError):
            return self._failed(str(job.error))
        if job.error is not None:
            traceback.print_exception(job.error)
            return self._failed(f"Fixative failed unexpectedly: {job.error}")
        return self._finished(job.report)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the operator (a file is loaded, Blender quits): stop the worker."""
        job = getattr(self, "_job", None)
        if job is not None:
            job.cancelled = True
            job.thread.join(timeout=30)
            self._end_modal(context)

    def _end_modal(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        if getattr(self, "_timer", None) is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        self._status(context, None)

    # -- what to protect ----------------------------------------------------------------------

    def _prepare(self, context: bpy.types.Context):
        """Read what Blender holds (main thread); return (work, cleanup, destination).

        `work(progress=..., cancel=...)` protects and writes, touching no Blender data, so it
        may run on another thread; `cleanup()` removes the temporary render file, if any.
        """
        image = self._image(context)
        if image is None:
            name = self.image_name or "(none in the Image Editor)"
            msg = f"No image named {name} to save"
            raise host.HostError(msg)
        if not self.filepath:
            raise host.HostError("No file name given for the protected image")
        dst = Path(bpy.path.abspath(self.filepath))
        reason = bridge.refused_reason(str(dst))
        if reason:
            msg = f"Cannot save {dst.name}: {reason}"
            raise host.HostError(msg)
        if bridge.format_for_path(dst) is None:
            dst = dst.with_name(dst.name + bridge.FORMATS[self.file_format].extension)
        fmt = bridge.FORMATS[bridge.format_for_path(dst)]
        if not dst.parent.is_dir():
            msg = f"Cannot save {dst}: the folder {dst.parent} does not exist"
            raise host.HostError(msg)
        host.check()  # a missing package is reported before any work

        alpha = bridge.has_alpha(image, context.scene)
        sixteen = fmt.sixteen and self.color_depth == "16"
        p = prefs.get(context)
        job = host.job(
            dst,
            fmt.key,
            strength=self.strength,
            mode=self.mode,
            view=self.view,
            steps=self.steps,
            device=p.device,
            declarations=self.declarations,
            quality=self.quality if fmt.lossy else None,
            # A format without alpha gets the image over white, as in Krita and GIMP.
            keep_alpha=fmt.alpha or not alpha,
        )
        if bridge.is_render(image):
            tmp = Path(tempfile.mkdtemp(prefix="fixative-"))
            src = tmp / "render.png"
            try:
                bridge.save_display_png(image, context.scene, src, alpha=alpha, sixteen=sixteen)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise

            def work(progress, cancel):
                return host.protect_file(src, job, progress=progress, cancel=cancel)

            return work, lambda: shutil.rmtree(tmp, ignore_errors=True), dst
        try:
            raw = bridge.image_raw(image, alpha=alpha, sixteen=sixteen)
        except ValueError as exc:
            raise host.HostError(str(exc)) from exc

        def work(progress, cancel):
            return host.protect_raw(raw, job, progress=progress, cancel=cancel)

        return work, lambda: None, dst


def menu_entry(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    """First in Image (see the module's docstring for why not after Save As)."""
    self.layout.operator(FIXATIVE_OT_save_protected_as.bl_idname, icon="LOCKED")
    self.layout.separator()


def register() -> None:
    bpy.utils.register_class(FIXATIVE_OT_save_protected_as)
    bpy.types.IMAGE_MT_image.prepend(menu_entry)


def unregister() -> None:
    bpy.types.IMAGE_MT_image.remove(menu_entry)
    bpy.utils.unregister_class(FIXATIVE_OT_save_protected_as)
