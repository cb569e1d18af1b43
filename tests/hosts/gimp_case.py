"""Runs inside `gimp-console-3.x --batch-interpreter python-fu-eval` for tests/hosts/test_gimp.py.

Reads /results/spec.json (images as raw pixel files plus the operations to run on each) and
writes /results/gimp-result.json: each operation's status and GIMP's error message. The test
judges the files and this JSON, never GIMP's exit status alone.
"""

import json
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

RESULTS = "/results"
with open(f"{RESULTS}/spec.json") as fh:
    spec = json.load(fh)
result = {"images": {}}
pdb = Gimp.get_pdb()


def make_image(entry):
    precision = getattr(Gimp.Precision, entry["precision"])
    image = Gimp.Image.new_with_precision(
        entry["width"], entry["height"], Gimp.ImageBaseType.RGB, precision
    )
    for i, spec_layer in enumerate(entry["layers"]):
        w, h = spec_layer["width"], spec_layer["height"]
        layer = Gimp.Layer.new(
            image,
            f"layer{i}",
            w,
            h,
            Gimp.ImageType.RGBA_IMAGE,
            spec_layer.get("opacity", 100.0),
            Gimp.LayerMode.NORMAL,
        )
        image.insert_layer(layer, None, 0)  # each new layer on top
        layer.set_offsets(spec_layer.get("x", 0), spec_layer.get("y", 0))
        with open(spec_layer["raw"], "rb") as fh:
            data = fh.read()
        buffer = layer.get_shadow_buffer()
        buffer.set(Gegl.Rectangle.new(0, 0, w, h), spec_layer["babl"], data)
        buffer.flush()
        layer.merge_shadow(True)
        layer.update(0, 0, w, h)
    if entry.get("icc"):  # assign (not convert): the pixel values stay as written
        image.set_color_profile_from_file(Gio.File.new_for_path(entry["icc"]))
    if entry.get("indexed"):
        image.convert_indexed(
            Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16, False, False, ""
        )
    return image


def last_error():
    try:
        return pdb.get_last_error()
    except Exception as exc:
        return f"(no last error: {exc})"


def run_procedure(name, image, args):
    proc = pdb.lookup_procedure(name)
    config = proc.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    path = args.pop("path")
    if not name.startswith("file-"):
        config.set_core_object_array("drawables", image.get_layers())
    config.set_property("file", Gio.File.new_for_path(path))
    for key, value in args.items():
        config.set_property(key, value)
    values = proc.run(config)
    status = values.index(0)
    outcome = {
        "status": status.value_nick,
        "ok": status == Gimp.PDBStatusType.SUCCESS,
        "error": last_error(),
    }
    returned = [v.name for v in proc.get_return_values()]
    if outcome["ok"] and "report" in returned:
        outcome["report"] = json.loads(values.index(1 + returned.index("report")))
    if outcome["ok"] and "preview" in returned:
        sheet = values.index(1 + returned.index("preview"))
        outcome["preview"] = None
        if sheet is not None:  # saved with GIMP's own PNG exporter, for the test to judge
            out = f"{path.rsplit('.', 1)[0]}-sheet.png"
            Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, sheet, Gio.File.new_for_path(out), None)
            outcome["preview"] = {"path": out, "layers": len(sheet.get_layers())}
            sheet.delete()
    return outcome


def defaults():
    """The mode, view and steps each Fixative procedure uses when a script does not say."""
    found = {}
    for name in (
        "plug-in-fixative-export-protected",
        "file-fixative-png-export",
        "file-fixative-jpeg-export",
        "file-fixative-webp-export",
    ):
        config = pdb.lookup_procedure(name).create_config()
        found[name] = {k: config.get_property(k) for k in ("mode", "view", "steps")}
    return found


def _gtk():
    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk, Gtk

    return Gdk, Gtk


def _all(widget):
    """`widget` and everything inside it, internal children (the dialog's buttons) included."""
    _, Gtk = _gtk()
    found = [widget]
    if isinstance(widget, Gtk.Container):
        children = []
        widget.forall(children.append)
        for child in children:
            found += _all(child)
    return found


def describe(widget):
    """The labels of a dialog, depth-first, its mnemonics and what its Advanced expander holds."""
    Gdk, Gtk = _gtk()
    seen = {"labels": [], "radios": [], "expanders": [], "mnemonics": [], "buttons": []}

    def texts(w):
        return [x.get_text() for x in _all(w) if isinstance(x, Gtk.Label) and x.get_text()]

    for w in _all(widget):
        if isinstance(w, Gtk.RadioButton):
            seen["radios"].append(" ".join(texts(w)))
        elif isinstance(w, Gtk.Button):
            seen["buttons"].append(" ".join(texts(w)))
        if isinstance(w, Gtk.Label) and w.get_text():
            seen["labels"].append(w.get_text())
            key = w.get_mnemonic_keyval()
            if key != Gdk.KEY_VoidSymbol:
                seen["mnemonics"].append([Gdk.keyval_name(Gdk.keyval_to_lower(key)), w.get_label()])
        if isinstance(w, Gtk.Expander):
            title = w.get_label_widget()
            seen["expanders"].append(
                {
                    "title": " ".join(texts(title)) if title is not None else "",
                    "expanded": w.get_expanded(),
                    "contents": texts(w),
                }
            )
    return seen


def pump(seconds=0.0):
    """Let GTK draw (Xvfb): run its events for `seconds`, then until none are pending."""
    import time

    _, Gtk = _gtk()
    end = time.monotonic() + seconds
    while True:
        while Gtk.events_pending():
            Gtk.main_iteration()
        if time.monotonic() >= end:
            return
        time.sleep(0.02)


def grab(window, path):
    """A screenshot of a shown window. Drawn by GTK itself into an image where pycairo is
    there (the newest root, which takes the docs' screenshots): Xvfb has no compositor, and
    what the X server holds had a black box over the buttons. Else as the X server shows it."""
    Gdk, _ = _gtk()
    pump(1.0)
    gdk_window = window.get_window()
    width, height = gdk_window.get_width(), gdk_window.get_height()
    try:
        gi.require_foreign("cairo")
        import cairo
    except ImportError:
        shot = Gdk.pixbuf_get_from_window(gdk_window, 0, 0, width, height)
        shot.savev(path, "png", [], [])
        return [width, height]
    surface = cairo.ImageSurface(cairo.FORMAT_RGB24, width, height)
    window.draw(cairo.Context(surface))
    surface.write_to_png(path)
    return [width, height]


def sensitive(dialog, prop):
    from gi.repository import GObject

    return dialog.get_widget(prop, GObject.TYPE_NONE).get_sensitive()


def dialogs(plugin_dir, screenshots):
    """Build the plug-in's dialogs as it does (fixative_gimp.dialog), show them under Xvfb,
    drive their controls and, if asked, take screenshots; nothing is exported."""
    import sys

    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi

    # lib/ first, as fixative.py does: `fixative` is the vendored core, not the entry script.
    sys.path[:0] = [f"{plugin_dir}/lib", plugin_dir]
    from fixative_gimp import dialog as layout
    from fixative_gimp.formats import FORMATS

    _, Gtk = _gtk()
    GimpUi.init("fixative-test")
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(spec["sample"]))
    found = {}
    for name in ("plug-in-fixative-export-protected", "file-fixative-png-export"):
        proc = pdb.lookup_procedure(name)
        config = proc.create_config()
        if name.startswith("file-"):
            # An ExportProcedureDialog needs the plug-in's own procedure object; from outside
            # it is a PDB procedure, so GIMP's plain ProcedureDialog holds the same layout.
            dialog = GimpUi.ProcedureDialog.new(proc, config, proc.get_menu_label())
            layout.fill_export(dialog, proc, config, FORMATS["png"])
        else:
            config.set_property("file", Gio.File.new_for_path("/tmp/tiger-protected.png"))
            dialog = layout.build_protected(proc, config, image)
        dialog.show()
        pump(0.5)
        seen = describe(dialog)
        seen["title"] = dialog.get_title()
        seen["blurbs"] = {p.name: p.get_blurb() for p in proc.get_arguments()}
        if name.startswith("plug-in"):
            states = {}
            for fmt in ("png", "jpeg", "webp", "tiff", "png"):
                config.set_property("format", fmt)
                pump()
                states[fmt] = sensitive(dialog, "quality")
            seen["quality_sensitive"] = states
            if screenshots:
                seen["screenshot"] = grab(dialog, f"{RESULTS}/gimp-dialog.png")
                # What the AI sees, as an artist asks for it: the dialog's button.
                config.set_property("steps", 2)  # thorough, kept short for the test
                [button] = [
                    w
                    for w in _all(dialog)
                    if isinstance(w, Gtk.Button) and "AI sees" in (w.get_label() or "")
                ]
                button.clicked()
                shown = [
                    w
                    for w in Gtk.Window.list_toplevels()
                    if w.get_title() == "What the AI sees" and w.get_visible()
                ]
                seen["preview_windows"] = len(shown)
                if shown:
                    seen["preview_labels"] = describe(shown[0])["labels"]
                    seen["preview_images"] = [
                        [w.get_pixbuf().get_width(), w.get_pixbuf().get_height()]
                        for w in _all(shown[0])
                        if isinstance(w, Gtk.Image) and w.get_pixbuf() is not None
                    ]
                    seen["preview_screenshot"] = grab(shown[0], f"{RESULTS}/gimp-preview.png")
                    shown[0].destroy()
        elif screenshots:
            seen["screenshot"] = grab(dialog, f"{RESULTS}/gimp-export-png-dialog.png")
        found[name] = seen
        dialog.destroy()
    image.delete()
    return found


result["defaults"] = defaults()
if spec.get("dialogs"):
    result["dialogs"] = dialogs(spec["dialogs"], spec.get("screenshots", False))


for entry in spec["images"]:
    record = {}
    result["images"][entry["name"]] = record
    try:
        image = make_image(entry)
        for op in entry["ops"]:
            key = op["key"]
            try:
                if op["op"] == "file_save":
                    ok = Gimp.file_save(
                        Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(op["path"]), None
                    )
                    record[key] = {"ok": bool(ok), "error": None if ok else last_error()}
                else:
                    record[key] = run_procedure(op["procedure"], image, dict(op.get("args", {})))
                # The image itself must not change: still the same layers, size and type.
                record[key]["layers_after"] = len(image.get_layers())
                record[key]["base_type_after"] = image.get_base_type().value_nick
            except Exception:
                record[key] = {"ok": False, "exception": traceback.format_exc()}
        image.delete()
    except Exception:
        record["exception"] = traceback.format_exc()

# GIMP is still alive and answers the PDB after every failure above.
probe = Gimp.Image.new(8, 8, Gimp.ImageBaseType.RGB)
result["alive"] = probe.get_width() == 8
probe.delete()
with open(f"{RESULTS}/gimp-result.json", "w") as fh:
    json.dump(result, fh, indent=1)
