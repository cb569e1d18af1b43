"""Protect rendered frames: a persistent `render_write` handler, and its per-scene toggle.

Each frame Blender writes (stills with Write Still, animation frames) is protected right after
it lands on disk, as a protected copy next to it (`NAME-protected.EXT`, the default: the
original render is kept) or in place. A failing frame is reported and skipped; the render goes
on. Frames are protected in the scene's mode, Fast by default (a few seconds a frame; Thorough
would add under a minute to each, Generator a fraction of a second), chosen in the Output
Properties panel, which is
the one place that says whether a scene's frames are protected (the preferences hold only the
default of scenes left at "Add-on Default").
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import bpy
from bpy.app.handlers import persistent
from bpy.props import EnumProperty, PointerProperty

from . import bridge, host, items, manual, prefs
from .fixative_host import choices

# The id PREFERENCE is kept so that .blend files saved earlier read the same choice.
SCENE_ITEMS = [
    (
        "PREFERENCE",
        "Add-on Default",
        "Follow 'Protect Frames by Default' in Preferences › Add-ons › Fixative (off unless "
        "changed there)",
    ),
    ("ON", "On", "Protect every frame this scene renders to a file"),
    ("OFF", "Off", "Never protect this scene's frames"),
]


@dataclass(frozen=True)
class FrameReport:
    frame: int
    source: str
    output: str | None
    error: str | None
    mode: str | None = None  # the core's report: the mode and steps it ran
    steps: int | None = None


class _State:
    started = 0.0
    reports: ClassVar[list[FrameReport]] = []


def enabled(scene: bpy.types.Scene) -> bool:
    mode = scene.fixative.protect_frames
    if mode == "PREFERENCE":
        return prefs.get().protect_frames
    return mode == "ON"


def output_path(source: Path, p: prefs.FixativePreferences | SimpleNamespace) -> Path:
    if p.frame_output == "IN_PLACE":
        return source
    return source.with_name(source.stem + (p.suffix or items.SUFFIX) + source.suffix)


def output_summary(p: prefs.FixativePreferences | SimpleNamespace, ext: str = ".png") -> str:
    """Where protected frames go, in plain words, for the panel."""
    if p.frame_output == "IN_PLACE":
        return "Each frame file is replaced by its protected version."
    name = f"frame_0001{p.suffix or items.SUFFIX}{ext}"
    return f"A protected copy is saved next to each frame (e.g. {name}); the original is kept."


def last_reports() -> list[FrameReport]:
    """Reports of the current (or last) render, oldest first."""
    return list(_State.reports)


@persistent
def on_render_init(scene: bpy.types.Scene, *_args: object) -> None:
    _State.started = time.time()
    _State.reports = []


@persistent
def on_render_write(scene: bpy.types.Scene, *_args: object) -> None:
    if not enabled(scene):
        return
    frame = scene.frame_current
    source = None
    try:
        source = bridge.written_frame(scene, since=_State.started)
        reason = bridge.frame_refused_reason(scene)
        if reason:
            name = source.name if source else f"frame {frame}"
            msg = f"{name} left unprotected: {reason}"
            raise host.HostError(msg)
        if source is None:
            msg = "Blender wrote no file Fixative could find"
            raise host.HostError(msg)
        host.check()
        p = prefs.get()
        target = output_path(source, p)
        fmt = bridge.FORMATS[scene.render.image_settings.file_format]
        job = host.job(
            target,
            fmt.key,
            strength=p.strength,
            mode=scene.fixative.mode,
            view=p.view,
            steps=0,
            device=p.device,
            declarations=p.declarations,
        )
        report = host.protect_file(source, job)
        mode, steps = report.get("mode"), report.get("steps")
        _State.reports.append(FrameReport(frame, str(source), str(target), None, mode, steps))
        print(f"Fixative: frame {frame}: protected {target} ({mode})")
    except Exception as exc:  # one bad frame must not stop the render
        if not isinstance(exc, host.HostError):
            traceback.print_exc()
        _State.reports.append(FrameReport(frame, str(source or ""), None, str(exc)))
        print(f"Fixative: frame {frame}: NOT protected: {exc}")


class FixativeSceneSettings(bpy.types.PropertyGroup):
    protect_frames: EnumProperty(
        name="Protect Rendered Frames",
        description="Protect each frame this scene's renders write to a file (Write Still, "
        "animations), against AI mimicry, with Fixative",
        items=SCENE_ITEMS,
        default="PREFERENCE",
    )
    mode: EnumProperty(
        name="Frame Mode",
        description="How each rendered frame is protected (Fast keeps renders quick)",
        items=items.MODE_ITEMS,
        default=prefs.FRAME_MODE,
    )


class FIXATIVE_PT_output(bpy.types.Panel):
    bl_label = "Fixative Protection"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "output"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        scene = context.scene
        p = prefs.get(context)
        layout.prop(scene.fixative, "protect_frames")
        if scene.fixative.protect_frames == "PREFERENCE":
            state = "on" if p.protect_frames else "off"
            layout.label(text=f"Add-on default: {state} (Preferences › Add-ons › Fixative)")
        col = layout.column()
        col.enabled = enabled(scene)
        col.prop(scene.fixative, "mode", expand=True)
        prefs.draw_help(col, choices.mode_help(scene.fixative.mode))
        col.label(text=f"Strength: {choices.strength_label(p.strength)} (from the preferences)")
        ext = bridge.FORMATS.get(scene.render.image_settings.file_format)
        prefs.draw_help(col, output_summary(p, ext.extension if ext else ".png"))
        header, body = layout.panel("FIXATIVE_output_advanced", default_closed=True)
        header.label(text="Advanced")
        if body is not None:
            body.label(text=f"AI's view: {choices.view_label(p.view)}")
            prefs.draw_help(body, choices.view_help(p.view))
            body.label(text=f"Device: {items.DEVICE_LABELS.get(p.device, p.device)}")
            prefs.draw_help(body, choices.device_help(p.device))
            body.label(text="Both are set in Preferences › Add-ons › Fixative.")
        failed = [r for r in _State.reports if r.error]
        if failed:
            box = layout.box()
            box.label(text=f"{len(failed)} frame(s) not protected", icon="ERROR")
            for r in failed[-3:]:
                box.label(text=f"{r.frame}: {r.error}")
        manual.draw(layout)


CLASSES = (FixativeSceneSettings, FIXATIVE_PT_output)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.fixative = PointerProperty(type=FixativeSceneSettings)
    bpy.app.handlers.render_init.append(on_render_init)
    bpy.app.handlers.render_write.append(on_render_write)


def unregister() -> None:
    for handlers, fn in (
        (bpy.app.handlers.render_write, on_render_write),
        (bpy.app.handlers.render_init, on_render_init),
    ):
        while fn in handlers:
            handlers.remove(fn)
    del bpy.types.Scene.fixative
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
