"""Blender enum items and tooltips, worded by the core (`fixative_host.choices`).

Blender shows an item's description as its tooltip, so each says what the choice means in the
words the CLI, Krita and GIMP use. Importing this needs neither numpy nor onnxruntime (the
core's tables are plain Python): the extension still registers where those are missing.
"""

from __future__ import annotations

import textwrap

from fixative.image.formats import OUTPUT_SUFFIX, Format

from . import bridge
from .fixative_host import choices

EnumItems = list[tuple[str, str, str]]


def sentence(text: str) -> str:
    """'the GPU when ...' -> 'The GPU when ...' (Blender adds no full stop to tooltips)."""
    return text[:1].upper() + text[1:]


STRENGTH_ITEMS: EnumItems = [
    (s, choices.strength_label(s), sentence(choices.strength_help(s))) for s in choices.STRENGTHS
]
MODE_ITEMS: EnumItems = [
    (m, choices.mode_label(m), sentence(choices.mode_help(m))) for m in choices.MODES
]
VIEW_ITEMS: EnumItems = [
    (v, choices.view_label(v), sentence(choices.view_help(v))) for v in choices.VIEWS
]
DEVICE_LABELS = {"auto": "Automatic", "cpu": "CPU", "gpu": "GPU"}
DEVICE_ITEMS: EnumItems = [
    (d, DEVICE_LABELS.get(d, d.upper()), sentence(choices.device_help(d))) for d in choices.DEVICES
]


def format_help(fmt: Format) -> str:
    """'Lossless, 8 or 16 bits, transparency kept': what the core's format can store."""
    parts = ["Lossy" if fmt.lossy else "Lossless"]
    parts.append("8 or 16 bits" if fmt.sixteen else "8 bits")
    parts.append("transparency kept" if fmt.alpha else "no transparency (flattened onto white)")
    return ", ".join(parts)


FORMAT_ITEMS: EnumItems = [
    (bid, fmt.label, format_help(fmt)) for bid, fmt in bridge.FORMATS.items()
]
SIXTEEN_NAMES = " and ".join(f.label for f in bridge.FORMATS.values() if f.sixteen)
DEPTH_ITEMS: EnumItems = [
    ("8", "8", "8 bits per channel"),
    ("16", "16", f"16 bits per channel ({SIXTEEN_NAMES} only)"),
]
DEFAULT_QUALITY = next(f.default_quality for f in bridge.FORMATS.values() if f.default_quality)

DECLARE_NAME = choices.DECLARE_LABEL
DECLARE_DESCRIPTION = sentence(choices.DECLARE_HELP)
STRENGTH_DESCRIPTION = (
    "How strongly the picture is protected: a stronger protection shows more. "
    + choices.AIMED_AT.rstrip(".")
)
MODE_DESCRIPTION = (
    "How the protection is computed: quickly, thoroughly and more strongly, or with the "
    "generator alone"
)
VIEW_DESCRIPTION = "The size the AI reads the picture at, where the protection is computed"
DEVICE_DESCRIPTION = "Where the protection is computed: the CPU, or a GPU onnxruntime offers"
STEPS_DESCRIPTION = (
    f"How many gradient steps the fast and thorough modes take, up to {choices.MAX_STEPS}; "
    f"{choices.STEPS_DEFAULTS_TEXT}"
)
SUFFIX = OUTPUT_SUFFIX  # frame_0001.png -> frame_0001-protected.png, as the CLI names outputs


def lines(text: str, width: int = 56) -> list[str]:
    """A sentence cut for `layout.label`, which does not wrap: one label per line."""
    return textwrap.wrap(sentence(text), width) or [""]
