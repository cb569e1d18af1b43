#!/usr/bin/env python3
"""Fixative for GIMP 3: protected export file types and File > Export Protected...

Registers one export procedure per format ("Fixative protected PNG/JPEG/WebP") and one image
procedure. The export types list the core's extensions (`png`, ...) behind GIMP's own
exporters (fixative_gimp/formats.py, PRIORITY), so `.png` still means GIMP's PNG unless the
user picks the protected type, plus one of their own (`fixative-png`, ...) that reaches them by
file name, e.g. from `Gimp.file_save`. The formats' facts and the choices' words are the
core's; pixels are read by `fixative_gimp.bridge`; protection and writing are the core's
(`fixative`), reached through `fixative_host` in process or through an external Python.
"""

from __future__ import annotations

import json
import os
import sys
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
from fixative_gimp import arguments, bridge, dialog, preview, settings  # noqa: E402
from fixative_gimp.formats import EXPORT_TYPES, FORMATS, PRIORITY, GimpFormat, by_procedure  # noqa: E402
from fixative_host import HostCancelled, HostError, RawImage, choices, run_export  # noqa: E402
from fixative_host import help as manual  # noqa: E402
from fixative_host.abi import mismatch  # noqa: E402
from gi.repository import Gimp, GimpUi, Gio, GLib, GObject  # noqa: E402

EXPORT_PROCEDURE = "plug-in-fixative-export-protected"
# Before anything imports numpy from deps/: a package built for another Python (or platform)
# says which one to install instead of failing with an ImportError.
PACKAGE_MISMATCH = mismatch(_HERE, "GIMP")


def _package_refusal(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig):
    """The failure (GIMP shows its message) when deps/ cannot load here and no External
    Python is set to run the core instead; else None."""
    if PACKAGE_MISMATCH and not settings.python(config):
        return _failure(procedure, PACKAGE_MISMATCH)
    return None


def _protect(raw: RawImage, path: str, fmt: GimpFormat, config: Gimp.ProcedureConfig) -> dict:
    name = os.path.basename(path)
    Gimp.progress_init(choices.progress_text(name, ""))

    def progress(fraction: float, message: str) -> None:
        # The core's own words per step and tile ("step 3/8, tile 2/4"). GIMP's progress bar
        # has a cancel button: pressing it ends this plug-in, and nothing is written.
        Gimp.progress_set_text(choices.progress_text(name, message))
        Gimp.progress_update(max(0.0, min(1.0, fraction)))

    try:
        return run_export(
            raw,
            settings.job(path, fmt, config),
            progress=progress,
            python=settings.python(config),
            external=settings.external(),
        )
    finally:
        Gimp.progress_end()


def _failure(procedure: Gimp.Procedure, message: str):
    error = GLib.Error.new_literal(GLib.quark_from_string("fixative-error"), message, 0)
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, error)


def _set_return(values, procedure: Gimp.Procedure, name: str, value: GObject.Value) -> None:
    index = 1 + [v.name for v in procedure.get_return_values()].index(name)
    values.remove(index)
    values.insert(index, value)


def _protect_to(procedure, path: str, fmt: GimpFormat, config, read, after=None):
    """Protect the pixels `read()` returns into `path`; every failure becomes a PDB status.
    `after(values)` adds what else the procedure returns, once the file is written."""
    try:
        report = _protect(read(), path, fmt, config)
        values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)
        if after is not None:
            after(values)
    except HostCancelled:
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    except HostError as exc:
        return _failure(procedure, str(exc))
    except Exception as exc:  # a plug-in bug: a message, never a crashed plug-in
        return _failure(procedure, f"{path}: Fixative failed: {type(exc).__name__}: {exc}")
    if "report" in [v.name for v in procedure.get_return_values()]:
        _set_return(
            values, procedure, "report", GObject.Value(GObject.TYPE_STRING, json.dumps(report))
        )
    return values


def _export_run(procedure, run_mode, image, file, options, metadata, config, fmt: GimpFormat):
    if (refusal := _package_refusal(procedure, config)) is not None:
        return refusal
    path = file.get_path()
    if run_mode == Gimp.RunMode.INTERACTIVE:
        GimpUi.init("fixative")
        window = dialog.build_export(procedure, config, image, fmt)
        accepted = window.run()
        window.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)

    def read() -> RawImage:
        bridge.refuse_unsupported(image, path)
        exported, flat = options.get_image(image)
        if exported != Gimp.ExportReturn.EXPORT:
            return bridge.read_flattened(image, image.get_layers()[0])  # GIMP's own image
        try:
            return bridge.read_flattened(flat, flat.get_layers()[0])
        finally:
            flat.delete()

    return _protect_to(procedure, path, fmt, config, read)


def _default_output(image: Gimp.Image, fmt: GimpFormat) -> Gio.File | None:
    source = image.get_file() or image.get_imported_file() or image.get_exported_file()
    if source is None or source.get_path() is None:
        return None
    path = Path(source.get_path())
    stem = path.name
    while Path(stem).suffix:
        stem = Path(stem).stem
    return Gio.File.new_for_path(str(path.with_name(choices.output_name(stem, fmt.key))))


def _image_run(procedure, run_mode, image, drawables, config, data):
    if (refusal := _package_refusal(procedure, config)) is not None:
        return refusal
    if run_mode == Gimp.RunMode.INTERACTIVE:
        GimpUi.init("fixative")
        if config.get_property("file") is None:
            config.set_property(
                "file",
                _default_output(
                    image, FORMATS[choices.valid_format(config.get_property("format"))]
                ),
            )
        window = dialog.build_protected(procedure, config, image)
        accepted = window.run()
        window.destroy()
        if not accepted:
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    fmt = FORMATS[choices.valid_format(config.get_property("format"))]
    file = config.get_property("file") or _default_output(image, fmt)
    if file is None or file.get_path() is None:
        return _failure(
            procedure, "Export Protected: no output file given and the image has no file name."
        )
    path = file.get_path()

    def read() -> RawImage:
        bridge.refuse_unsupported(image, path)
        return bridge.read_merged(image)

    def show_preview(values) -> None:
        if not config.get_property("preview"):
            return
        sheet = preview.as_image(preview.sheet(image, config))
        if run_mode == Gimp.RunMode.INTERACTIVE:
            Gimp.Display.new(sheet)
        _set_return(values, procedure, "preview", GObject.Value(Gimp.Image, sheet))

    return _protect_to(procedure, path, fmt, config, read, after=show_preview)


class Fixative(Gimp.PlugIn):
    def do_query_procedures(self):
        # The dialogs' Help: GIMP's help system finds the pages of this package's manual
        # (gimp-help.xml maps every procedure's help id to docs/gimp.html) and opens them in
        # the web browser. A copy without them (a checkout) keeps GIMP's default.
        if (manual.MANUAL / manual.LOCALE / manual.GIMP_HELP_MAP).is_file():
            pages = Gio.File.new_for_path(str(manual.MANUAL))
            self.set_help_domain(manual.GIMP_HELP_DOMAIN, pages)
        return [FORMATS[key].procedure for key in EXPORT_TYPES] + [EXPORT_PROCEDURE]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        if name == EXPORT_PROCEDURE:
            return self._image_procedure(name)
        fmt = by_procedure(name)
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
            f"Export a {fmt.core.label} protected against AI mimicry",
            'Adds Fixative\'s perturbation (and "no AI training" declarations) while exporting.',
            manual.GIMP_HELP_ID,
        )
        procedure.set_attribution("Fixative contributors", "Fixative contributors", "2026")
        procedure.set_format_name(fmt.label)
        procedure.set_mime_types(fmt.core.mime)
        procedure.set_extensions(fmt.extensions)
        procedure.set_priority(PRIORITY)  # behind GIMP's own exporters for `.png` (formats.py)
        procedure.set_capabilities(fmt.capabilities, None, None)
        quality = fmt.core.default_quality if fmt.core.lossy else None
        arguments.add_protection(procedure, quality=quality)
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
            manual.GIMP_HELP_ID,
        )
        procedure.set_attribution("Fixative contributors", "Fixative contributors", "2026")
        arguments.add_export_protected(procedure)
        return procedure


Gimp.main(Fixative.__gtype__, sys.argv)
