"""What one protection did, returned by every call and printed by `fixative protect --json`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..image.writing import Written


@dataclass(frozen=True)
class ProtectReport:
    """Budget used and the measured change. `max_abs_diff` is in [0, 1] units (1 = full scale)."""

    strength: str
    epsilon: float
    psnr: float  # dB over the RGB channels; inf when nothing changed
    max_abs_diff: float
    seconds: float
    model_id: str
    model_sha256: str
    device: str  # the onnxruntime execution provider that ran the model
    width: int
    height: int
    tiles: int
    mode: str = "generator"  # one of `settings.MODES`
    steps: int = 0  # gradient steps with the encoder's gradient (0: the generator alone)
    view_width: int = 0  # the size the perturbation was computed at (the AI's view)
    view_height: int = 0
    src: str | None = None
    dst: str | None = None
    format: str | None = None
    quality: int | None = None
    declarations: bool = False
    c2pa: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if math.isinf(self.psnr):
            data["psnr"] = None  # JSON has no infinity
        return data

    def for_output(
        self, written: Written, *, src: str | None = None, seconds: float | None = None
    ) -> ProtectReport:
        """This report with the facts of the file written (`fixative.image.writing.Written`)."""
        return dataclasses.replace(
            self,
            src=src,
            dst=written.dst,
            format=written.format,
            quality=written.quality,
            declarations=written.declarations,
            c2pa=written.c2pa,
            seconds=self.seconds if seconds is None else seconds,
        )

    def summary(self) -> str:
        psnr = "inf" if math.isinf(self.psnr) else f"{self.psnr:.1f}"
        how = f"{self.mode}, {self.steps} steps" if self.steps else self.mode
        return (
            f"{self.strength} {how} at {self.view_width}x{self.view_height} "
            f"(eps {self.epsilon * 255:.1f}/255), PSNR {psnr} dB, "
            f"max diff {self.max_abs_diff * 255:.1f}/255, {self.seconds:.2f} s on {self.device}"
        )
