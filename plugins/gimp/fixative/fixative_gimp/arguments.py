"""The procedures' arguments, worded with the core's own explanations.

GIMP shows an argument's blurb as its widget's tooltip, and a choice's label in its radio
button, so every choice is explained where it is picked, in the words the CLI and the other
hosts use (`fixative_host.choices`). The mnemonics (the underlined letters) avoid one another
and the dialog's own buttons (_OK/_Export, _Cancel, _Reset, _Load Saved Settings, _Save
Settings), which GIMP 3.0 reports as duplicates otherwise.
"""

from __future__ import annotations

import gi

gi.require_version("Gimp", "3.0")
from fixative.image.formats import QUALITY_RANGE  # noqa: E402
from fixative_host import choices  # noqa: E402
from gi.repository import Gimp, GObject  # noqa: E402

from .formats import FORMATS, LOSSY  # noqa: E402

RW = GObject.ParamFlags.READWRITE
LABELS = {
    "file": "_File",
    "format": "Forma_t",
    "strength": "Stre_ngth",
    "mode": "_Mode",
    "declarations": f"_{choices.DECLARE_LABEL}",
    "quality": "_Quality",
    "preview": "Show _what the AI sees",
    "view": "AI's _view",
    "steps": "Gradient ste_ps",
    "external-python": "E_xternal Python",
}


def sentence(text: str) -> str:
    """The core's lower-case explanation as a tooltip sentence."""
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}"


def _lines(pairs) -> str:
    return "\n".join(f"{label}: {help_text}" for label, help_text in pairs)


STRENGTH_BLURB = "How much the picture may change. " + _lines(
    (choices.strength_label(s), choices.strength_help(s)) for s in choices.STRENGTHS
)
MODE_BLURB = "How the protection is computed. " + _lines(
    (choices.mode_label(m), choices.mode_help(m)) for m in choices.MODES
)
VIEW_BLURB = "The size the protection is computed at. " + _lines(
    (choices.view_label(v), choices.view_help(v)) for v in choices.VIEWS
)
DECLARE_BLURB = sentence(choices.DECLARE_HELP)
FORMAT_BLURB = "The file's format. " + _lines((f.core.label, f.help()) for f in FORMATS.values())
QUALITY_BLURB = (
    f"Compression quality of {' and '.join(FORMATS[k].core.label for k in LOSSY)} "
    f"({QUALITY_RANGE[0]}-{QUALITY_RANGE[1]}); the other formats are lossless and ignore it."
)
STEPS_BLURB = (
    "How many gradient steps of the AI encoder the fast and thorough modes take; "
    f"{choices.STEPS_DEFAULTS_TEXT}."
)
PYTHON_BLURB = (
    "A Python with numpy, Pillow and onnxruntime, used when they do not load inside GIMP "
    "(e.g. on Windows); empty: GIMP's own Python."
)
PREVIEW_BLURB = (
    "Also make the sheet of what the AI sees, at about 512 px a panel, as a new image "
    "(returned as 'preview'); the file is written as usual. " + choices.PREVIEW_CAPTION
)


def add_protection(procedure: Gimp.Procedure, *, quality: int | None) -> None:
    """Strength, mode, view, steps, declarations, quality (when `quality` is its default) and
    the external Python, in the order GIMP lists them when a dialog does not say otherwise."""
    strengths = Gimp.Choice.new()
    for i, name in enumerate(choices.STRENGTHS):
        # Shown as radio buttons: the label carries the explanation (dialog.py).
        strengths.add(name, i, choices.strength_line(name), choices.strength_help(name))
    procedure.add_choice_argument(
        "strength", LABELS["strength"], STRENGTH_BLURB, strengths, choices.DEFAULT_STRENGTH, RW
    )
    modes = Gimp.Choice.new()
    for i, name in enumerate(choices.MODES):
        modes.add(name, i, choices.mode_line(name), choices.mode_help(name))
    procedure.add_choice_argument(
        "mode", LABELS["mode"], MODE_BLURB, modes, choices.DEFAULT_MODE, RW
    )
    views = Gimp.Choice.new()
    for i, name in enumerate(choices.VIEWS):
        views.add(name, i, choices.view_label(name), choices.view_help(name))
    procedure.add_choice_argument(
        "view", LABELS["view"], VIEW_BLURB, views, choices.DEFAULT_VIEW, RW
    )
    procedure.add_int_argument("steps", LABELS["steps"], STEPS_BLURB, 0, choices.MAX_STEPS, 0, RW)
    procedure.add_boolean_argument("declarations", LABELS["declarations"], DECLARE_BLURB, True, RW)
    if quality is not None:
        procedure.add_int_argument(
            "quality", LABELS["quality"], QUALITY_BLURB, *QUALITY_RANGE, quality, RW
        )
    procedure.add_string_argument(
        "external-python", LABELS["external-python"], PYTHON_BLURB, "", RW
    )


def add_export_protected(procedure: Gimp.Procedure) -> None:
    """Export Protected...'s own arguments: the file, its format and the preview."""
    procedure.add_file_argument(
        "file",
        LABELS["file"],
        "The protected file to write; by default <image name>-protected.png beside the image.",
        Gimp.FileChooserAction.SAVE,
        True,
        None,
        RW,
    )
    formats = Gimp.Choice.new()
    for i, fmt in enumerate(FORMATS.values()):
        formats.add(fmt.key, i, fmt.core.label, fmt.help())
    procedure.add_choice_argument(
        "format", LABELS["format"], FORMAT_BLURB, formats, choices.DEFAULT_FORMAT, RW
    )
    lossy_default = FORMATS[LOSSY[0]].core.default_quality
    add_protection(procedure, quality=lossy_default)
    procedure.add_boolean_argument("preview", LABELS["preview"], PREVIEW_BLURB, False, RW)
    procedure.add_string_return_value(
        "report",
        "Report",
        "What the protection did, as JSON (the core's report: mode, steps, view, PSNR...)",
        "",
        RW,
    )
    procedure.add_image_return_value(
        "preview",
        "What the AI sees",
        "The preview sheet as a new image when 'preview' was asked for, else none",
        True,
        RW,
    )
