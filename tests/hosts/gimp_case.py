"""Runs inside `gimp-console-3.0 --batch-interpreter python-fu-eval` for tests/hosts/test_gimp.py.

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
    if name.startswith("file-"):
        config.set_property("file", Gio.File.new_for_path(args.pop("path")))
    else:
        config.set_core_object_array("drawables", image.get_layers())
        config.set_property("file", Gio.File.new_for_path(args.pop("path")))
    for key, value in args.items():
        config.set_property(key, value)
    values = proc.run(config)
    status = values.index(0)
    outcome = {
        "status": status.value_nick,
        "ok": status == Gimp.PDBStatusType.SUCCESS,
        "error": last_error(),
    }
    if outcome["ok"] and [v.name for v in proc.get_return_values()] == ["report"]:
        outcome["report"] = json.loads(values.index(1))  # the core's report, as JSON
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


def describe(widget):
    """The labels of a dialog, depth-first, and what its Advanced expander holds."""
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    seen = {"labels": [], "radios": [], "expanders": []}

    def texts(w):
        found = [w.get_text()] if isinstance(w, Gtk.Label) and w.get_text() else []
        if isinstance(w, Gtk.Container):
            for child in w.get_children():
                found += texts(child)
        return found

    def walk(w):
        if isinstance(w, Gtk.RadioButton):
            seen["radios"].append(" ".join(texts(w)))
        elif isinstance(w, Gtk.Label) and w.get_text():
            seen["labels"].append(w.get_text())
        if isinstance(w, Gtk.Expander):
            title = w.get_label_widget()
            seen["expanders"].append(
                {
                    "title": " ".join(texts(title)) if title is not None else "",
                    "expanded": w.get_expanded(),
                    "contents": texts(w),
                }
            )
        if isinstance(w, Gtk.Container):
            for child in w.get_children():
                walk(child)

    walk(widget)
    return seen


def dialogs(plugin_dir):
    """Build the plug-in's dialogs as it does (fixative_gimp.dialog), without running them."""
    import sys

    gi.require_version("GimpUi", "3.0")
    from gi.repository import GimpUi

    sys.path[:0] = [plugin_dir, f"{plugin_dir}/lib"]
    from fixative_gimp import dialog as layout

    GimpUi.init("fixative-test")
    found = {}
    for name in ("plug-in-fixative-export-protected", "file-fixative-png-export"):
        proc = pdb.lookup_procedure(name)
        dialog = GimpUi.ProcedureDialog.new(proc, proc.create_config(), name)
        layout.fill(dialog, proc)
        found[name] = describe(dialog)
        dialog.destroy()
    return found


result["defaults"] = defaults()
if spec.get("dialogs"):
    result["dialogs"] = dialogs(spec["dialogs"])


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
