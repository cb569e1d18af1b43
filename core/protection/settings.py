"""Settings as frozen dataclasses, with `to_dict`/`from_dict` so hosts can persist them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..declarations.xmp import DeclarationSettings
from ..errors import SettingsError
from .view import parse as view_setting

STRENGTHS = ("low", "medium", "high")
# The budget of each strength is the model's (`ModelSpec.epsilon`); these are its words.
STRENGTH_HELP = {
    "low": "least visible, lightest protection",
    "medium": "barely visible on most art, solid protection (the default)",
    "high": "may show as fine grain on flat colour, strongest protection",
}
DEVICES = ("auto", "cpu", "gpu")
FAST = "fast"
THOROUGH = "thorough"
GENERATOR = "generator"


@dataclass(frozen=True)
class Mode:
    """One way of computing the protection: the generator's perturbation, then `steps` signed
    steps with the image encoder's own gradient (`fixative.protection.refine`), computed at `view`
    when the view setting is "auto" (`fixative.protection.view`: "auto" is about 1 MP, an int N
    about N×N)."""

    name: str
    steps: int  # gradient steps when none are asked for (0: the generator alone)
    view: str | int
    help: str  # what the choice means, in the words the CLI and every host show
    step_scale: float = 2.5  # α = step_scale / steps budgets per step (`refine.refine`)


# The one table of modes, read by the CLI, the host glue and each host's dialog. New modes go
# last: hosts store a mode's index. Figures: docs/strength.md.
MODE_TABLE = {
    FAST: Mode(
        FAST,
        steps=1,
        view=512,
        # One step of 1.5 budgets: of 2.5, 1.5 and 1.0 (scripts/sweep_fast.py --crops), the
        # strongest and quietest (docs/evaluation-fast.md; 2.5 budgets: 41.7 dB PSNR).
        step_scale=1.5,
        help=(
            "a few seconds, solid protection (the generator plus one step of the image "
            "encoder's gradient, at about 512×512)"
        ),
    ),
    THOROUGH: Mode(
        THOROUGH,
        steps=3,
        view="auto",
        help=(
            "under a minute per image on 2 CPU cores, the strongest protection "
            "(refined with the image encoder's own gradient at about 1 megapixel)"
        ),
    ),
    GENERATOR: Mode(
        GENERATOR,
        steps=0,
        view="auto",
        help="a fraction of a second, light protection, about as strong as noise",
    ),
}
MODES = tuple(MODE_TABLE)
MODE_HELP = {name: m.help for name, m in MODE_TABLE.items()}
STEPPED_MODES = tuple(name for name, m in MODE_TABLE.items() if m.steps)  # take `steps`
MAX_STEPS = 200
DEVICE_HELP = {
    "auto": "the GPU when onnxruntime has one, else the CPU",
    "cpu": "always the CPU",
    "gpu": "the GPU (CUDA, DirectML or CoreML, whichever onnxruntime offers)",
}
# The declarations' one label and explanation (fixative.declarations.xmp writes them).
DECLARE_LABEL = 'Declare "no AI training"'
DECLARE_HELP = (
    "write machine-readable statements into the file that it may not be used for AI training "
    "or text and data mining (IPTC Data Mining and TDMRep's tdm:reservation in its XMP)"
)


@dataclass(frozen=True)
class ProtectSettings:
    """How to protect: strength (budgets come from the model), mode, view, device, threads.

    `mode`: one of `MODE_TABLE`: "thorough" and "fast" refine the generator's perturbation
    with the encoder's own gradient (`steps` of them, default the mode's), "generator" is the
    generator alone. `view`: "auto" computes where the mode does (thorough and generator at the
    AI's view, about 1 MP; fast at about 512×512), "native" at the file's size, an int N at
    about N×N pixels (see `fixative.protection.view`).
    """

    strength: str = "medium"
    mode: str = THOROUGH
    steps: int | None = None
    view: str | int = "auto"
    device: str = "auto"
    threads: int | None = None
    model_path: str | None = None
    declarations: DeclarationSettings = field(default_factory=DeclarationSettings)

    def __post_init__(self) -> None:
        if self.strength not in STRENGTHS:
            msg = f"strength {self.strength!r} is not one of: {', '.join(STRENGTHS)}"
            raise SettingsError(msg)
        if self.device not in DEVICES:
            msg = f"device {self.device!r} is not one of: {', '.join(DEVICES)}"
            raise SettingsError(msg)
        if self.mode not in MODES:
            msg = f"mode {self.mode!r} is not one of: {', '.join(MODES)}"
            raise SettingsError(msg)
        if self.steps is not None and (
            isinstance(self.steps, bool)
            or not isinstance(self.steps, int)
            or not 1 <= self.steps <= MAX_STEPS
        ):
            msg = f"steps must be an integer from 1 to {MAX_STEPS} or None, not {self.steps!r}"
            raise SettingsError(msg)
        if self.steps is not None and self.mode not in STEPPED_MODES:
            msg = f"mode {self.mode!r} takes no gradient steps (steps={self.steps})"
            raise SettingsError(msg)
        object.__setattr__(self, "view", view_setting(self.view))
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            msg = f"threads must be a positive integer or None, not {self.threads!r}"
            raise SettingsError(msg)
        if self.model_path is not None:
            object.__setattr__(self, "model_path", str(self.model_path))
        if isinstance(self.declarations, dict):
            object.__setattr__(
                self, "declarations", DeclarationSettings.from_dict(self.declarations)
            )
        if not isinstance(self.declarations, DeclarationSettings):
            msg = "declarations must be a DeclarationSettings"
            raise SettingsError(msg)

    @property
    def n_steps(self) -> int:
        """The gradient steps this protection takes: `steps`, or the mode's default."""
        return MODE_TABLE[self.mode].steps if self.steps is None else self.steps

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["declarations"] = self.declarations.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProtectSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            msg = f"unknown setting(s): {', '.join(unknown)}"
            raise SettingsError(msg)
        return cls(**data)

    def replace(self, **changes: Any) -> ProtectSettings:
        return dataclasses.replace(self, **changes)
