"""Protect rendered frames: a persistent `render_write` handler, and its per-scene toggle.

Each frame Blender writes (stills with Write Still, animation frames) is protected right after
it lands on disk, as a sibling file with a suffix (default: the original render is kept) or in
place. A failing frame is reported and skipped; the render goes on. Frames are protected in the
scene's mode, Fast by default (a fraction of a second a frame; Thorough would add about half a
minute to each), chosen in the Output Properties panel.
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

from . import bridge, engine, prefs

SCENE_ITEMS = [
    ("PREFERENCE", "Use Preference", "Follow the add-on preference 'Protect Rendered Frames'"),
    ("ON", "On", "Protect every frame this scene writes"),
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
    return source.with_name(source.stem + (p.suffix or "_protected") + source.suffix)


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
            raise engine.EngineError(msg)
        if source is None:
            msg = "Blender wrote no file Fixative could find"
            raise engine.EngineError(msg)
        p = prefs.get()
        target = output_path(source, p)
        report = engine.protect_file(
            source,
            target,
            strength=p.strength,
            mode=scene.fixative.mode,
            view=p.view,
            device=p.device,
            declarations=p.declarations,
            overwrite=True,
        )
        _State.reports.append(
            FrameReport(frame, str(source), str(target), None, report.mode, report.steps)
        )
        print(f"Fixative: frame {frame}: protected {target} ({report.mode})")
    except Exception as exc:  # one bad frame must not stop the render
        if not isinstance(exc, engine.EngineError):
            traceback.print_exc()
        _State.reports.append(FrameReport(frame, str(source or ""), None, str(exc)))
        print(f"Fixative: frame {frame}: NOT protected: {exc}")


class FixativeSceneSettings(bpy.types.PropertyGroup):
    protect_frames: EnumProperty(
        name="Protect Rendered Frames",
        description="Protect each frame written by a render, with Fixative",
        items=SCENE_ITEMS,
        default="PREFERENCE",
    )
    mode: EnumProperty(
        name="Frame Mode",
        description="How each rendered frame is protected (Fast keeps renders quick)",
        items=prefs.MODE_ITEMS,
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
        layout.prop(scene.fixative, "protect_frames")
        p = prefs.get(context)
        col = layout.column()
        col.enabled = enabled(scene)
        col.prop(scene.fixative, "mode", expand=True)
        col.label(text=prefs.mode_help(scene.fixative.mode))
        where = "in place" if p.frame_output == "IN_PLACE" else f"as '…{p.suffix}' siblings"
        col.label(text=f"{p.strength.capitalize()} strength, written {where}")
        failed = [r for r in _State.reports if r.error]
        if failed:
            box = layout.box()
            box.label(text=f"{len(failed)} frame(s) not protected", icon="ERROR")
            for r in failed[-3:]:
                box.label(text=f"{r.frame}: {r.error}")


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
