"""The plug-in's settings, remembered through Krita's `readSetting`/`writeSetting`.

The choices (formats, strengths, modes, views, steps) and what each format can store are the
core's, read through `fixative_host.choices`; this module only remembers which were chosen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from fixative.image.formats import QUALITY_RANGE, Format
from fixative_host import ExportJob, choices

GROUP = "fixative"


@dataclass(frozen=True)
class KritaSettings:
    output_path: str = ""  # Export Protected...: the file; empty = next to the document
    output_dir: str = ""  # Export All...: the folder; empty = next to each document
    fmt: str = choices.DEFAULT_FORMAT  # a key of choices.FORMAT_KEYS
    strength: str = choices.DEFAULT_STRENGTH
    mode: str = choices.DEFAULT_MODE  # fast | thorough (the core's MODES)
    view: str = choices.DEFAULT_VIEW  # auto (~1 MP) | native (or a side in pixels)
    steps: int = 0  # thorough mode's steps; 0 = the core's default
    declarations: bool = True
    # The quality of lossy formats (JPEG, WebP); the key keeps its first name for old kritarcs.
    jpeg_quality: int = choices.format_of("jpeg").default_quality  # type: ignore[assignment]
    # Keep transparency where the format stores it (PNG, TIFF, WebP); False flattens onto
    # white, like Krita's own PNG option. Named for PNG, where it first applied.
    png_alpha: bool = True
    external_python: str = ""  # used when numpy/onnxruntime do not load inside Krita

    @classmethod
    def load(cls, krita) -> KritaSettings:
        values = {}
        for field in dataclasses.fields(cls):
            default = field.default
            text = krita.readSetting(GROUP, field.name, str(default))
            if isinstance(default, bool):
                values[field.name] = text.strip().lower() in ("true", "1", "yes")
            elif isinstance(default, int):
                values[field.name] = int(text) if text.strip().lstrip("-").isdigit() else default
            else:
                values[field.name] = text
        settings = cls(**values)
        # A hand-edited or stale kritarc must not break the plug-in: fall back per field.
        settings = dataclasses.replace(
            settings,
            fmt=choices.valid_format(settings.fmt),
            strength=choices.valid_strength(settings.strength),
            mode=choices.valid_mode(settings.mode),
            view=choices.valid_view(settings.view),
            steps=choices.valid_steps(settings.steps),
        )
        if not QUALITY_RANGE[0] <= settings.jpeg_quality <= QUALITY_RANGE[1]:
            settings = dataclasses.replace(settings, jpeg_quality=cls.jpeg_quality)
        return settings

    def save(self, krita) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            krita.writeSetting(
                GROUP, field.name, str(value).lower() if isinstance(value, bool) else str(value)
            )

    @property
    def format(self) -> Format:
        return choices.format_of(self.fmt)

    @property
    def keep_alpha(self) -> bool:
        """Whether transparency is written: only where the format stores it, and if asked."""
        return self.format.alpha and self.png_alpha

    def protect_settings(self) -> dict:
        """The core's settings for this choice (an export's, and its preview's)."""
        return choices.protect_settings(
            strength=self.strength,
            mode=self.mode,
            view=self.view,
            steps=self.steps,
            declarations=self.declarations,
        )

    def job(self, path: str) -> ExportJob:
        return ExportJob(
            path=path,
            fmt=self.fmt,
            settings=self.protect_settings(),
            quality=self.jpeg_quality if self.format.lossy else None,
            keep_alpha=self.keep_alpha,
        )


def document_stem(doc, index: int = 0) -> tuple[Path | None, str]:
    """(folder of the document's file or None, its name without extension)."""
    name = doc.fileName()
    if name:
        path = Path(name)
        return path.parent, path.stem
    return None, (doc.name() or f"untitled-{index + 1}")


def default_output(doc, settings: KritaSettings, folder: str = "", index: int = 0) -> str:
    doc_folder, stem = document_stem(doc, index)
    base = Path(folder) if folder else (doc_folder or Path.home())
    return str(base / choices.output_name(stem, settings.fmt))
