"""Blender's UI under Xvfb (run by tests/hosts/test_blender.py; not collected by pytest).

    xvfb-run -a blender --factory-startup --enable-event-simulate \
        --python /src/tests/hosts/blender_gui_case.py -- OUTDIR

Timers drive the real window: the Output Properties panel and the Image menu are drawn, an
animation renders as a UI render job (the frame handler then runs off the main thread), Save
Protected As… opens its file browser and saves from it (protecting off the main thread, with
progress in the status bar), and a second, large save is cancelled with Esc (simulated: run with
--enable-event-simulate). Draw counts and outcomes go to OUTDIR/gui.json; screenshots of the
Image menu, the Save Protected As file browser and the Output panel to OUTDIR/blender-*.png.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import addon_utils
import bpy

ADDON = "bl_ext.user_default.fixative"
OUT = Path(sys.argv[sys.argv.index("--") + 1])
state: dict = {"steps": [], "draws": {}, "exception": None}


def counted(cls: type, name: str) -> None:
    """Count the calls Blender makes to a registered class's draw()."""
    original = cls.draw

    def draw(self, context):
        state["draws"][name] = state["draws"].get(name, 0) + 1
        return original(self, context)

    cls.draw = draw


def recorded_help(operator: type, prefs) -> None:
    """Keep the help lines the operator's last draw wrote (prefs.draw_help, in the core's
    words), as the screenshot of its dialog shows them."""
    original_draw, original_help = operator.draw, prefs.draw_help

    drawing: list[list[str]] = []  # the lines of the operator's draw in progress, if any

    def draw(self, context):
        drawing.append([])
        try:
            return original_draw(self, context)
        finally:
            lines = drawing.pop()
            state["operator_help"] = {"strength": self.strength, "mode": self.mode, "lines": lines}

    def draw_help(layout, text, *args, **kwargs):
        if drawing:  # not another panel's
            drawing[-1].append(text)
        return original_help(layout, text, *args, **kwargs)

    operator.draw, prefs.draw_help = draw, draw_help


def areas() -> tuple:
    screen = bpy.context.window_manager.windows[0].screen
    big = sorted(screen.areas, key=lambda a: a.width * a.height, reverse=True)
    return big[0], big[1]


def step(fn):
    def run():
        try:
            delay = fn()
            state["steps"].append(fn.__name__)
            return delay
        except Exception:
            state["exception"] = traceback.format_exc()
            finish()
            return None

    return run


@step
def setup() -> None:
    mod = addon_utils.enable(ADDON, default_set=True)
    state["loaded"] = mod is not None
    frames = sys.modules[ADDON + ".frames"]
    counted(frames.FIXATIVE_PT_output, "output_panel")
    counted(sys.modules[ADDON + ".operators"].FIXATIVE_OT_save_protected_as, "operator")
    recorded_help(
        sys.modules[ADDON + ".operators"].FIXATIVE_OT_save_protected_as,
        sys.modules[ADDON + ".prefs"],
    )
    bpy.types.IMAGE_MT_image.append(menu_probe)
    bpy.context.preferences.addons[ADDON].preferences.protect_frames = True
    bpy.context.preferences.view.render_display_type = "NONE"
    bpy.context.preferences.view.show_tooltips = False  # none over the screenshots' menus
    press(bpy.context.window_manager.windows[0], "ESC")  # closes the splash screen
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = 48
    scene.frame_start, scene.frame_end = 1, 2
    scene.render.filepath = str(OUT / "frames" / "f_")
    props, image = areas()
    props.type = "PROPERTIES"
    image.type = "IMAGE_EDITOR"
    bpy.app.timers.register(show_output, first_interval=1.0)


def menu_probe(self, context) -> None:
    """Appended to the Image menu: counts its draws and checks Fixative's entry is first."""
    entries = bpy.types.IMAGE_MT_image._dyn_ui_initialize()
    ours = sys.modules[ADDON + ".operators"].menu_entry
    state["menu_has_entry"] = ours in entries and entries.index(ours) < entries.index(menu_probe)
    state["menu_first"] = entries.index(ours) == 0  # prepended: before Blender's own items
    state["draws"]["image_menu"] = state["draws"].get("image_menu", 0) + 1


def press(window, key: str) -> None:
    window.event_simulate(type=key, value="PRESS")
    window.event_simulate(type=key, value="RELEASE")


def screenshot(name: str, window, area=None, box: tuple | None = None) -> None:
    """A PNG of a real window, one area of it or a `box` (left, top, right, bottom, from the
    window's top left) as the X server shows it, into OUT.

    Grabbed from the X display with Pillow (XCB): `bpy.ops.screen.screenshot` reads OpenGL's
    front buffer, which Mesa's software renderer under Xvfb leaves black."""
    import os

    from PIL import ImageGrab

    shot = ImageGrab.grab(xdisplay=os.environ["DISPLAY"])
    if area is not None:  # Blender's area rectangles start at the window's bottom left
        top = window.height - area.y - area.height
        box = (area.x, top, area.x + area.width, top + area.height)
    box = box or (0, 0, window.width, window.height)
    left, top, right, bottom = box
    box = (
        max(window.x + left, 0),
        max(window.y + top, 0),
        min(window.x + right, shot.width),
        min(window.y + bottom, shot.height),
    )
    state.setdefault("grabs", {})[name] = {"screen": list(shot.size), "box": list(box)}
    shot.crop(box).save(OUT / name)
    state.setdefault("screenshots", []).append(name)


@step
def show_output() -> None:
    props, image = areas()
    props.spaces[0].context = "OUTPUT"
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window, area=image):
        bpy.ops.render.render("INVOKE_DEFAULT", animation=True)
    bpy.app.timers.register(wait_render, first_interval=1.0)


@step
def wait_render() -> float | None:
    if bpy.app.is_job_running("RENDER"):
        return 0.5
    frames = sys.modules[ADDON + ".frames"]
    state["reports"] = [r.__dict__ for r in frames.last_reports()]
    _props, image = areas()
    image.spaces[0].image = bpy.data.images["Render Result"]
    window = bpy.context.window_manager.windows[0]
    region = next(r for r in image.regions if r.type == "WINDOW")
    # The menu opens under the pointer: put it in the Image Editor, below its header.
    x, y = image.x + 30, image.y + image.height - 60
    window.event_simulate(type="MOUSEMOVE", value="NOTHING", x=x, y=y)
    state["menu_at"] = [x, y]
    with bpy.context.temp_override(window=window, area=image, region=region):
        bpy.ops.wm.call_menu(name="IMAGE_MT_image")
    bpy.app.timers.register(shoot_menu, first_interval=1.0)
    return None


@step
def shoot_menu() -> None:
    """The open Image menu with the editor it belongs to, then closed."""
    window = bpy.context.window_manager.windows[0]
    _props, image = areas()
    top = window.height - image.y - image.height
    left = min(image.x - 40, window.width - 560)
    screenshot("blender-image-menu.png", window, box=(left, top, left + 560, top + 480))
    press(window, "ESC")
    bpy.app.timers.register(open_browser, first_interval=0.5)


@step
def open_browser() -> None:
    _props, image = areas()
    window = bpy.context.window_manager.windows[0]
    region = next(r for r in image.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=image, region=region):
        result = bpy.ops.image.fixative_save_protected_as("INVOKE_DEFAULT")
    state["invoke"] = sorted(result)
    bpy.app.timers.register(fill_browser, first_interval=1.5)


def file_browser() -> tuple:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "FILE_BROWSER":
                return window, area
    msg = "no file browser window opened"
    raise RuntimeError(msg)


@step
def fill_browser() -> None:
    """Type a folder and name in the file browser and choose JPEG (its options redraw)."""
    _window, area = file_browser()
    params = area.spaces[0].params
    state["default_name"] = params.filename  # NAME-protected.EXT, as the CLI names outputs
    params.directory = str(OUT).encode()
    params.filename = "gui-protected"
    op = area.spaces[0].active_operator
    op.file_format = "JPEG"
    op.filepath = str(OUT / "gui-protected")
    state["checked"] = op.check(bpy.context) if hasattr(op, "check") else None
    for region in area.regions:
        region.tag_redraw()
    bpy.app.timers.register(save_in_browser, first_interval=1.0)


@step
def save_in_browser() -> None:
    """Photograph the dialog as the user sees it, then press Save."""
    window, area = file_browser()
    screenshot("blender-save-dialog.png", window)
    state["save_dialog_texts"] = dict(state.get("operator_help", {}))
    region = next(r for r in area.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=area, region=region):
        bpy.ops.file.execute()
    state["waits"] = 0
    bpy.app.timers.register(wait_saved, first_interval=0.5)


def last_save() -> dict:
    return sys.modules[ADDON + ".operators"].last_save()


@step
def wait_saved() -> float | None:
    """From the file browser the save runs off the main thread: wait for its outcome."""
    state["waits"] += 1
    if last_save().get("result") is None and state["waits"] < 240:
        return 0.25
    state["gui_save"] = last_save()
    props, _image = areas()
    window = bpy.context.window_manager.windows[0]
    region = next(r for r in props.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=props, region=region):
        for _ in range(20):  # Fixative's panel comes last in the Output tab
            bpy.ops.view2d.scroll_down(page=True)
    bpy.app.timers.register(shoot_output, first_interval=1.0)
    return None


@step
def shoot_output() -> None:
    props, _image = areas()
    screenshot("blender-output-panel.png", bpy.context.window_manager.windows[0], props)
    bpy.app.timers.register(start_cancelled_save, first_interval=0.5)


@step
def start_cancelled_save() -> None:
    """A 1 MP thorough save started as from the UI, then Esc pressed while it runs."""
    big = bpy.data.images.new("big", 1024, 1024)
    big.generated_type = "COLOR_GRID"
    _props, image = areas()
    window = bpy.context.window_manager.windows[0]
    region = next(r for r in image.regions if r.type == "WINDOW")
    with bpy.context.temp_override(window=window, area=image, region=region):
        result = bpy.ops.image.fixative_save_protected_as(
            "EXEC_DEFAULT",
            image_name=big.name,
            filepath=str(OUT / "big-protected.png"),
            mode="thorough",
            interactive=True,
        )
    state["cancel_started"] = sorted(result)
    bpy.app.timers.register(press_escape, first_interval=1.5)


@step
def press_escape() -> None:
    window = bpy.context.window_manager.windows[0]
    window.event_simulate(type="ESC", value="PRESS")
    window.event_simulate(type="ESC", value="RELEASE")
    state["waits"] = 0
    bpy.app.timers.register(wait_cancelled, first_interval=0.5)


@step
def wait_cancelled() -> float | None:
    state["waits"] += 1
    if last_save().get("result") is None and state["waits"] < 240:
        return 0.25
    state["cancelled_save"] = last_save()
    state["big_written"] = (OUT / "big-protected.png").exists()
    bpy.app.timers.register(finish_step, first_interval=0.2)
    return None


@step
def finish_step() -> None:
    finish()


def finish() -> None:
    state["alive"] = True
    (OUT / "gui.json").write_text(json.dumps(state, indent=2))
    bpy.ops.wm.quit_blender()


bpy.app.timers.register(setup, first_interval=1.0)
