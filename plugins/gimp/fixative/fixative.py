#!/usr/bin/env python3
"""Fixative for GIMP 3: protected export file types and File > Export Protected...

Registers one export procedure per format ("Fixative protected PNG/JPEG/WebP") and one image
procedure. The export types list `png` (etc.) with a lower priority than GIMP's own exporters,
so `.png` still means GIMP's PNG unless the user picks the protected type, plus a distinct
extension (`fixative-png`, ...) that reaches them by file name, e.g. from `Gimp.file_save`.
Pixels are read by `fixative_gimp.bridge`; protection and writing are the core's (`fixative`),
reached through `fixative_host` in process or through an external Python.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# lib/: the vendored core and host glue (pure Python), ahead of this folder itself, where
# `import fixative` would otherwise find this very script; deps/: wheels unpacked for one
# platform by scripts/build_gimp_plugin.py, after the system's packages.
if (_HERE / "lib").is_dir():
    sys.path.insert(0, str(_HERE / "lib"))
if (_HERE / "deps").is_dir():
    sys.path.append(str(_HERE / "deps"))

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
from fixative_gimp import bridge  # noqa: E402
from fixative_gimp import dialog as dialog_layout  # noqa: E402
from fixative_host import ExportJob, HostCancelled, HostError, choices, run_export  # noqa: E402
from gi.repository import Gimp, GimpUi, Gio, GLib, GObject  # noqa: E402

EXPORT_PROCEDURE = "plug-in-fixative-export-protected"
STRENGTHS = ("low", "medium", "high")


@dataclass(frozen=True)
class Format:
    key: str  # the core's format name
    label: str
    extensions: str  # GIMP's comma-separated list; the first is the default
    mime: str
    alpha: bool
    quality: bool

    @property
    def procedure(self) -> str:
        return f"file-fixative-{self.key}-export"


FORMATS = {
    f.key: f
    for f in (
        Format(
            "png",
            "Fixative protected PNG",
            "png,fixative-png",
            "image/png",
            alpha=True,
            quality=False,
        ),
        Format(
            "jpeg",
            "Fixative protected JPEG",
            "jpg,jpeg,fixative-jpg",
            "image/jpeg",
            alpha=False,
            quality=True,
        ),
        Format(
            "webp",
            "Fixative protected WebP",
            "webp,fixative-webp",
            "image/webp",
            alpha=True,
            quality=True,
        ),
        Format(
            "tiff",
            "Fixative protected TIFF",
            "tif,tiff,fixative-tif",
            "image/tiff",
            alpha=True,
            quality=False,
        ),
    )
}
# TIFF is offered by Export Protected... only; GIMP's Export As lists PNG, JPEG and WebP.
EXPORT_TYPES = ("png", "jpeg", "webp")


def _add_protection_arguments(procedure: Gimp.Procedure, *, quality: bool) -> None:
    strengths = Gimp.Choice.new()
    for i, name in enumerate(STRENGTHS):
        strengths.add(name, i, name.capitalize(), f"{name} perturbation budget")
    procedure.add_choice_argument(
        "strength",
        "_Strength",
        "Protection strength",
        strengths,
        "medium",
        GObject.ParamFlags.READWRITE,
    )
    modes = Gimp.Choice.new()
    for i, name in enumerate(choices.MODES):
        # The label carries the one-line explanation: GIMP shows two choices as radio buttons.
        modes.add(name, i, choices.mode_line(name), choices.mode_help(name))
    procedure.add_choice_argument(
        "mode",
        "_Mode",
        "Fast: the generator alone. Thorough: refined with the AI encoder's own gradient",
        modes,
        choices.DEFAULT_MODE,
        GObject.ParamFlags.READWRITE,
    )
    views = Gimp.Choice.new()
    for i, name in enumerate(choices.VIEWS):
        views.add(name, i, choices.view_label(name), choices.view_help(name))
    procedure.add_choice_argument(
        "view",
        "AI's _view",
        "The size the protection is computed at: AI models read pictures at about 1 MP",
        views,
        choices.DEFAULT_VIEW,
        GObject.ParamFlags.READWRITE,
    )
    procedure.add_int_argument(
        "steps",
        "Thorough ste_ps",
        f"Gradient steps of thorough mode; 0 = the core's default ({choices.DEFAULT_STEPS})",
        0,
        choices.MAX_STEPS,
        0,
        GObject.ParamFlags.READWRITE,
    )
    procedure.add_boolean_argument(
        "declarations",
        '"No AI training" _declarations',
        "Write IPTC/XMP declarations that AI training is not allowed",
        True,
        GObject.ParamFlags.READWRITE,
    )
    if quality:
        procedure.add_int_argument(
            "quality",
            "_Quality",
            "JPEG/WebP quality (1-100)",
            1,
            100,
            90,
            GObject.ParamFlags.READWRITE,
        )
    procedure.add_string_argument(
        "external-python",
        "E_xternal Python",
        "Python with numpy and onnxruntime, used when they do not load inside GIMP (e.g. Windows)",
        "",
        GObject.ParamFlags.READWRITE,
    )


def _job(path: str, fmt: Format, config: Gimp.ProcedureConfig) -> ExportJob:
    settings = choices.protect_settings(
        strength=config.get_property("strength"),
        mode=config.get_property("mode"),
        view=config.get_property("view"),
        steps=config.get_property("steps"),
        declarations=config.get_property("declarations"),
    )
    quality = config.get_property("quality") if fmt.quality else None
    return ExportJob(
        path=path, fmt=fmt.key, settings=settings, quality=quality, keep_alpha=fmt.alpha
    )


def _protect(raw, job: ExportJob, config: Gimp.ProcedureConfig) -> dict:
    name = os.path.basename(job.path)
    Gimp.progress_init(choices.progress_text(name, ""))

    def progress(fraction: float, message: str) -> None:
        # The core's own words per step and tile ("step 3/8, tile 2/4"). GIMP's progress bar
        # has a cancel button: pressing it ends this plug-in, and nothing is written.
        Gimp.progress_set_text(choices.progress_text(name, message))
        Gimp.progress_update(max(0.0, min(1.0, fraction)))

    python = config.get_property("external-python") or os.environ.get("FIXATIVE_PYTHON") or None
    external = os.environ.get("FIXATIVE_OUT_OF_PROCESS") == "1"
    try:
        return run_export(raw, job, progress=progress, python=python, external=external)
    finally:
        Gimp.progress_end()


def _failure(procedure: Gimp.Procedure, message: str):
    error = GLib.Error.new_literal(GLib.quark_from_string("fixative-error"), message, 0)
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, error)


def _export_run(procedure, run_mode, image, file, options, metadata, config, fmt: Format):
    path = file.get_path()
    if run_mode == Gimp.RunMode.INTERACTIVE:
        GimpUi.init("fixative")
        dialog = GimpUi.ExportProcedureDialog.new(procedure, config, image)
        dialog_layout.fill(dialog, procedure)
        accepted = dialog.run()
        dialog.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)

    def read() -> bridge.RawImage:
        bridge.refuse_unsupported(image, path)
        exported, flat = options.get_image(image)
        if exported != Gimp.ExportReturn.EXPORT:
            return bridge.read_flattened(image, image.get_layers()[0])  # GIMP's own image
        try:
            return bridge.read_flattened(flat, flat.get_layers()[0])
        finally:
            flat.delete()

    return _protect_to(procedure, path, fmt, config, read)


def _protect_to(procedure, path: str, fmt: Format, config, read):
    """Protect the pixels `read()` returns into `path`; every failure becomes a PDB status."""
    try:
        report = _protect(read(), _job(path, fmt, config), config)
    except HostCancelled:
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    except HostError as exc:
        return _failure(procedure, str(exc))
    except Exception as exc:  # a plug-in bug: a message, never a crashed plug-in
        return _failure(procedure, f"{path}: Fixative failed: {type(exc).__name__}: {exc}")
    values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
    if [v.name for v in procedure.get_return_values()] == ["report"]:
        values.remove(1)
        values.insert(1, GObject.Value(GObject.TYPE_STRING, json.dumps(report)))
    return values


def _default_output(image: Gimp.Image, fmt: Format) -> Gio.File | None:
    source = image.get_file() or image.get_imported_file() or image.get_exported_file()
    if source is None or source.get_path() is None:
        return None
    stem = Path(source.get_path())
    while stem.suffix:
        stem = stem.with_suffix("")
    return Gio.File.new_for_path(f"{stem}-protected.{fmt.extensions.split(',')[0]}")


def _image_run(procedure, run_mode, image, drawables, config, data):
    if run_mode == Gimp.RunMode.INTERACTIVE:
        GimpUi.init("fixative")
        if config.get_property("file") is None:
            config.set_property(
                "file", _default_output(image, FORMATS[config.get_property("format")])
            )
        dialog = GimpUi.ProcedureDialog.new(procedure, config, "Export Protected")
        dialog_layout.fill(dialog, procedure)
        accepted = dialog.run()
        dialog.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    fmt = FORMATS[config.get_property("format")]
    file = config.get_property("file") or _default_output(image, fmt)
    if file is None or file.get_path() is None:
        return _failure(
            procedure, "Export Protected: no output file given and the image has no file name."
        )
    path = file.get_path()

    def read() -> bridge.RawImage:
        bridge.refuse_unsupported(image, path)
        duplicate = image.duplicate()  # merged in a copy: the user's image is never touched
        try:
            layer = duplicate.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
            return bridge.read_flattened(duplicate, layer)
        finally:
            duplicate.delete()

    return _protect_to(procedure, path, fmt, config, read)


class Fixative(Gimp.PlugIn):
    def do_query_procedures(self):
        return [FORMATS[key].procedure for key in EXPORT_TYPES] + [EXPORT_PROCEDURE]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        if name == EXPORT_PROCEDURE:
            return self._image_procedure(name)
        fmt = next(f for f in FORMATS.values() if f.procedure == name)
        procedure = Gimp.ExportProcedure.new(
            self,
            name,
            Gimp.PDBProcType.PLUGIN,
            False,
            lambda *args: _export_run(*args[:-1], fmt),
            None,
        )
        procedure.set_image_types("*")
        procedure.set_menu_label(fmt.label)
        procedure.set_documentation(
            f"Export a {fmt.key.upper()} protected against AI mimicry",
            'Adds Fixative\'s perturbation (and "no AI training" declarations) while exporting.',
            name,
        )
        procedure.set_attribution("Fixative contributors", "Fixative contributors", "2026")
        procedure.set_format_name(fmt.label)
        procedure.set_mime_types(fmt.mime)
        procedure.set_extensions(fmt.extensions)
        # Above GIMP's own exporters (priority 0): a plain `.png` keeps going to GIMP's PNG;
        # ours is used when chosen in Export As, or for the `fixative-png` style extension.
        procedure.set_priority(100)
        capabilities = Gimp.ExportCapabilities.CAN_HANDLE_RGB
        if fmt.alpha:
            capabilities |= Gimp.ExportCapabilities.CAN_HANDLE_ALPHA
        procedure.set_capabilities(capabilities, None, None)
        _add_protection_arguments(procedure, quality=fmt.quality)
        return procedure

    def _image_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, _image_run, None)
        procedure.set_image_types("*")
        procedure.set_sensitivity_mask(
            Gimp.ProcedureSensitivityMask.NO_DRAWABLES
            | Gimp.ProcedureSensitivityMask.DRAWABLE
            | Gimp.ProcedureSensitivityMask.DRAWABLES
        )
        procedure.set_menu_label("Export Protected...")
        procedure.add_menu_path("<Image>/File/[Export]")
        procedure.set_documentation(
            "Export the image protected against AI mimicry",
            "Flattens a copy of the image, protects it with Fixative and writes PNG, JPEG, WebP "
            'or TIFF with "no AI training" declarations. The image itself is not changed.',
            name,
        )
        procedure.set_attribution("Fixative contributors", "Fixative contributors", "2026")
        procedure.add_file_argument(
            "file",
            "_File",
            "Output file",
            Gimp.FileChooserAction.SAVE,
            True,
            None,
            GObject.ParamFlags.READWRITE,
        )
        formats = Gimp.Choice.new()
        for i, fmt in enumerate(FORMATS.values()):
            formats.add(fmt.key, i, fmt.key.upper(), fmt.label)
        procedure.add_choice_argument(
            "format", "F_ormat", "Output format", formats, "png", GObject.ParamFlags.READWRITE
        )
        _add_protection_arguments(procedure, quality=True)
        procedure.add_string_return_value(
            "report",
            "Report",
            "What the protection did, as JSON (the core's report: mode, steps, view, PSNR...)",
            "",
            GObject.ParamFlags.READWRITE,
        )
        return procedure


Gimp.main(Fixative.__gtype__, sys.argv)
