"""The plug-in's dialogs (GIMP builds the widgets from the procedures' arguments).

The main options first (file, format, strength, mode, declarations, quality), each explained
where it is picked: strength and mode as radio buttons whose labels carry the core's one-line
explanation, a line of help under the format and the declarations, and every argument's blurb
as its tooltip (arguments.py). Then an Advanced expander, folded, with the AI's view, thorough
mode's steps and the external Python. Quality is greyed out unless the format is lossy.
Export Protected... also has a button that shows what the AI sees (preview.py).
"""

from __future__ import annotations

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from fixative_host import choices  # noqa: E402
from gi.repository import Gimp, GimpUi, GObject, Gtk  # noqa: E402

from . import preview  # noqa: E402
from .arguments import sentence  # noqa: E402
from .formats import FORMATS, LOSSY, GimpFormat  # noqa: E402

ADVANCED = ("view", "steps", "external-python")
ADVANCED_ID = "fixative-advanced"
RADIOS = ("strength", "mode")  # GIMP 3.0 makes every other choice a combo box
HEADER_ID = "fixative-header"
EXPORT_HEADER = (
    "<b>{label}</b>\nWritten with Fixative's protection against generative-AI mimicry "
    '(a small change to the pixels) and, if chosen, "no AI training" declarations. '
    + choices.AIMED_AT
)
PROTECTED_HEADER = (
    "<b>Export a protected copy</b>\nThe image itself is not changed; the file gets Fixative's "
    'protection against generative-AI mimicry and, if chosen, "no AI training" declarations. '
    + choices.AIMED_AT
)


def _help_line(dialog: GimpUi.ProcedureDialog, label_id: str, text: str) -> Gtk.Label:
    label = dialog.get_label(label_id, text, False, False)
    label.set_xalign(0.0)
    label.set_line_wrap(True)
    label.set_max_width_chars(60)
    label.get_style_context().add_class("dim-label")
    return label


def _header(dialog: GimpUi.ProcedureDialog, markup: str) -> None:
    label = dialog.get_label(HEADER_ID, markup, True, False)
    label.set_xalign(0.0)
    label.set_line_wrap(True)
    label.set_max_width_chars(60)


def _declarations(dialog: GimpUi.ProcedureDialog) -> str:
    _help_line(dialog, "fixative-declarations-help", sentence(choices.DECLARE_HELP))
    dialog.fill_box("fixative-declarations-box", ["declarations", "fixative-declarations-help"])
    return "fixative-declarations-box"


def _format(dialog: GimpUi.ProcedureDialog, config: Gimp.ProcedureConfig) -> str:
    label = _help_line(
        dialog, "fixative-format-help", FORMATS[config.get_property("format")].help()
    )

    def changed(*_args) -> None:
        fmt = FORMATS.get(config.get_property("format"))
        if fmt is not None:
            label.set_text(fmt.help())

    config.connect("notify::format", changed)
    dialog.fill_box("fixative-format-box", ["format", "fixative-format-help"])
    values = Gimp.ValueArray.new(len(LOSSY))
    for key in LOSSY:
        values.append(GObject.Value(GObject.TYPE_STRING, key))
    # GIMP keeps the quality widget insensitive while the format is not one of these.
    dialog.set_sensitive_if_in("quality", None, "format", values, True)
    return "fixative-format-box"


def _advanced(dialog: GimpUi.ProcedureDialog, names: list[str]) -> str:
    dialog.fill_box(f"{ADVANCED_ID}-box", [n for n in ADVANCED if n in names])
    dialog.get_label(f"{ADVANCED_ID}-title", "Advanced", False, False)
    dialog.fill_expander(ADVANCED_ID, f"{ADVANCED_ID}-title", False, f"{ADVANCED_ID}-box")
    return ADVANCED_ID


def _layout(
    dialog: GimpUi.ProcedureDialog,
    procedure: Gimp.Procedure,
    config: Gimp.ProcedureConfig,
    *,
    with_file: bool,
) -> list[str]:
    names = [p.name for p in procedure.get_arguments()]
    for name in RADIOS:
        if name in names:
            dialog.get_widget(name, GimpUi.IntRadioFrame.__gtype__)
    main = [HEADER_ID]
    if with_file:  # an export type's file was chosen in GIMP's own Export dialog
        main.append("file")
    if "format" in names:
        main.append(_format(dialog, config))
    main += [n for n in ("strength", "mode") if n in names]
    main.append(_declarations(dialog))
    main += [n for n in ("quality",) if n in names]
    main.append(_advanced(dialog, names))
    return main


def build_export(
    procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, image: Gimp.Image, fmt: GimpFormat
) -> GimpUi.ExportProcedureDialog:
    """The options dialog of a protected export type (File > Export As...); GIMP titles it
    "Export Image as Fixative protected PNG" (the format name), the header says it again."""
    dialog = GimpUi.ExportProcedureDialog.new(procedure, config, image)
    fill_export(dialog, procedure, config, fmt)
    return dialog


def fill_export(
    dialog: GimpUi.ProcedureDialog,
    procedure: Gimp.Procedure,
    config: Gimp.ProcedureConfig,
    fmt: GimpFormat,
) -> None:
    _header(dialog, EXPORT_HEADER.format(label=fmt.label))
    dialog.fill(_layout(dialog, procedure, config, with_file=False))


def build_protected(
    procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, image: Gimp.Image
) -> GimpUi.ProcedureDialog:
    """File > Export Protected...: the same options, the file and format, and the preview
    button (below the options, outside GIMP's layout: ProcedureDialog places only widgets it
    made, but its content area takes a plain Gtk button)."""
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Export Protected")
    dialog.set_ok_label("_Export")
    _header(dialog, PROTECTED_HEADER)
    dialog.fill(_layout(dialog, procedure, config, with_file=True))
    button = Gtk.Button.new_with_mnemonic(preview.BUTTON)
    button.set_tooltip_text(preview.EXPLANATION)
    button.connect("clicked", lambda _b: preview.show_window(dialog, image, config))
    dialog.get_content_area().pack_start(button, False, False, 6)
    button.show()
    return dialog
