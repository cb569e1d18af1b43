"""Settings as frozen dataclasses, with `to_dict`/`from_dict` so hosts can persist them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .declarations import DeclarationSettings
from .errors import SettingsError

STRENGTHS = ("low", "medium", "high")
DEVICES = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class ProtectSettings:
    """How to protect: the strength preset (budgets come from the model), device, threads."""

    strength: str = "medium"
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
