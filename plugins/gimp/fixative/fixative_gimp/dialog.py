"""The layout of the plug-in's dialogs (GIMP builds the widgets from the procedure's arguments).

The main options first (file, format, strength, mode, declarations, quality), then an Advanced
expander, folded, with the AI's view, thorough mode's steps and the external Python. The mode is
shown as radio buttons, so each mode's one-line explanation, carried in its label, is visible
without opening anything.
"""

from __future__ import annotations

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
from gi.repository import Gimp, GimpUi  # noqa: E402

ADVANCED = ("view", "steps", "external-python")
ADVANCED_ID = "fixative-advanced"
# The standard arguments GIMP fills itself (export procedures) or that have no widget.
_STANDARD = {"run-mode", "image", "drawables", "options", "metadata"}


def fill(dialog: GimpUi.ProcedureDialog, procedure: Gimp.Procedure) -> None:
    names = [p.name for p in procedure.get_arguments()]
    export = isinstance(dialog, GimpUi.ExportProcedureDialog)
    main = [
        n
        for n in names
        if n not in _STANDARD and n not in ADVANCED and not (export and n == "file")
    ]
    if "mode" in names:  # radio buttons (GIMP 3.0 makes every choice a combo box otherwise)
        dialog.get_widget("mode", GimpUi.IntRadioFrame.__gtype__)
    advanced = [n for n in ADVANCED if n in names]
    dialog.fill_box(f"{ADVANCED_ID}-box", advanced)
    dialog.get_label(f"{ADVANCED_ID}-title", "Advanced", False, False)
    dialog.fill_expander(ADVANCED_ID, f"{ADVANCED_ID}-title", False, f"{ADVANCED_ID}-box")
    dialog.fill([*main, ADVANCED_ID])
