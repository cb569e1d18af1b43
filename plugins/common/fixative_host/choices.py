"""What the hosts' dialogs offer for mode, view and steps, taken from the core.

The choices themselves (`fixative.protection.settings.MODES`, the view's `auto`/`native`, the step
range and its default) are the core's; this module only words them for a dialog, so Krita and GIMP
say the same thing. Importing it needs neither numpy nor onnxruntime (the core's settings are plain
Python), so a host that runs the core in an external Python can still build its dialog.
"""

from __future__ import annotations

from fixative.image import formats as _formats
from fixative.protection import families as _families
from fixative.protection import settings as _settings
from fixative.protection import view as _view

STRENGTHS = _settings.STRENGTHS
DEFAULT_STRENGTH = _settings.ProtectSettings.strength
DEVICES = _settings.DEVICES
FORMATS = _formats.FORMATS  # Pillow name -> fixative.image.formats.Format
FORMAT_KEYS = _formats.KEYS  # png, jpeg, tiff, webp: the order the dialogs list them
DEFAULT_FORMAT = "png"
QUALITY_RANGE = _formats.QUALITY_RANGE  # JPEG / WebP quality, as the CLI's --quality
DECLARE_LABEL = _settings.DECLARE_LABEL
DECLARE_HELP = _settings.DECLARE_HELP
MODES = _settings.MODES
FAST = _settings.FAST
THOROUGH = _settings.THOROUGH
GENERATOR = _settings.GENERATOR
STEPPED_MODES = _settings.STEPPED_MODES  # the modes whose steps a dialog lets the user set
DEFAULT_MODE = _settings.ProtectSettings.mode  # thorough: single-image exports default to it
VIEWS = (_view.AUTO, _view.NATIVE)
DEFAULT_VIEW = _settings.ProtectSettings.view
MAX_STEPS = _settings.MAX_STEPS
DEFAULT_STEPS = _settings.MODE_TABLE[THOROUGH].steps
DEFAULT_STEPS_TEXT = f"Default ({DEFAULT_STEPS})"  # thorough's; `default_steps_text` per mode
STEPS_DEFAULTS_TEXT = (
    "0 = the mode's default ("
    + ", ".join(f"{_settings.MODE_TABLE[m].steps} {m}" for m in STEPPED_MODES)
    + ")"
)

_OTHERS = [f for f in _families.FAMILIES if not f.target]
# What the protection is aimed at and what it barely moves, said by every dialog (the families
# table's words; the figures are docs/strength.md's).
AIMED_AT = (
    f"Aimed at {_families.TARGET.short}'s image encoder ({_families.TARGET.autoencoder}). "
    + " and ".join(f.name for f in _OTHERS)
    + " see it about as they see faint noise: for them the no-AI-training declarations are "
    "what speaks."
)
PREVIEW_CAPTION = (
    "Top row: the original; bottom row: the protected copy. First column: the picture; then "
    "what each model family reconstructs from it: "
    + ", ".join(
        f"{f.short} ({'aimed at' if f.target else 'not aimed at'})" for f in _families.FAMILIES
    )
    + ". The more a bottom panel differs from the one above it, the more that family is "
    "disturbed."
)

_MODE_HELP = _settings.MODE_HELP  # the core's one wording, as the CLI's and Blender's
_VIEW_LABELS = {v: label for v, (label, _help) in _view.VIEW_HELP.items()}


def strength_label(strength: str) -> str:
    return strength.capitalize()


def strength_help(strength: str) -> str:
    return _settings.STRENGTH_HELP.get(strength, "")


def strength_line(strength: str) -> str:
    """'Medium: barely visible ...': label and explanation on one line."""
    return f"{strength_label(strength)}: {strength_help(strength)}"


def device_help(device: str) -> str:
    return _settings.DEVICE_HELP.get(device, "")


def valid_strength(value: object, default: str = DEFAULT_STRENGTH) -> str:
    return value if isinstance(value, str) and value in STRENGTHS else default


def format_of(key: str) -> _formats.Format:
    """The core's format for a settings key ('png', 'jpeg', ...), or SettingsError."""
    return _formats.get(key)


def valid_format(value: object, default: str = DEFAULT_FORMAT) -> str:
    return value if isinstance(value, str) and value in FORMAT_KEYS else default


def output_name(stem: str, fmt: str) -> str:
    """'art' + 'png' -> 'art-protected.png': the core's default output name."""
    return _formats.output_name(stem, fmt)


def mode_label(mode: str) -> str:
    return mode.capitalize()


def mode_help(mode: str) -> str:
    return _MODE_HELP.get(mode, "")


def mode_line(mode: str) -> str:
    """'Thorough: under a minute ...': label and explanation on one line."""
    help_text = mode_help(mode)
    return f"{mode_label(mode)}: {help_text}" if help_text else mode_label(mode)


def view_label(view: str) -> str:
    return _VIEW_LABELS.get(view, f"{view} px")


def view_help(view: str) -> str:
    return _view.VIEW_HELP.get(view, ("", ""))[1]


def valid_mode(value: object, default: str = DEFAULT_MODE) -> str:
    return value if isinstance(value, str) and value in MODES else default


def valid_view(value: object, default: str = DEFAULT_VIEW) -> str:
    """A remembered view setting as the core reads it ('auto', 'native' or a side in pixels)."""
    try:
        return str(_view.parse(value))
    except Exception:  # a hand-edited or stale setting must not break the plug-in
        return default


def takes_steps(mode: str) -> bool:
    """Whether `mode` runs gradient steps (a dialog's step count is then enabled)."""
    return mode in STEPPED_MODES


def default_steps_text(mode: str) -> str:
    """'Default (3)': what a step box shows for 0 under `mode`."""
    table = _settings.MODE_TABLE
    return f"Default ({table[mode].steps if mode in table else DEFAULT_STEPS})"


def valid_steps(value: object) -> int:
    """0 (the core's default number of steps) or 1..MAX_STEPS."""
    try:
        steps = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return steps if 0 <= steps <= MAX_STEPS else 0


def protect_settings(
    *, strength: str, mode: str, view: str, steps: int, declarations: bool
) -> dict:
    """`fixative.ProtectSettings.to_dict()`-style settings for an `ExportJob`."""
    return {
        "strength": strength,
        "mode": mode,
        "view": valid_view(view),
        "steps": (valid_steps(steps) or None) if takes_steps(mode) else None,
        "declarations": {"enabled": bool(declarations)},
    }


def progress_text(label: str, message: str) -> str:
    """What a progress dialog shows: what is protected, and the core's step (e.g. 'step 3/8')."""
    return f"Protecting {label}: {message}" if message else f"Protecting {label}..."
