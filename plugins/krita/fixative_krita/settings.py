"""The plug-in's settings, remembered through Krita's `readSetting`/`writeSetting`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from fixative_host import ExportJob, choices

GROUP = "fixative"
FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "webp": "WebP"}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "tiff": "tif", "webp": "webp"}
STRENGTHS = ("low", "medium", "high")


@dataclass(frozen=True)
class KritaSettings:
    output_path: str = ""  # Export Protected...: the file; empty = next to the document
    output_dir: str = ""  # Export All...: the folder; empty = next to each document
    fmt: str = "png"
    strength: str = "medium"
    mode: str = choices.DEFAULT_MODE  # fast | thorough (the core's MODES)
    view: str = choices.DEFAULT_VIEW  # auto (~1 MP) | native (or a side in pixels)
    steps: int = 0  # thorough mode's steps; 0 = the core's default
    declarations: bool = True
    jpeg_quality: int = 90  # also WebP's
    png_alpha: bool = True  # False: flatten onto white, like Krita's own PNG option
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
        if settings.fmt not in FORMATS:
            settings = dataclasses.replace(settings, fmt=cls.fmt)
        if settings.strength not in STRENGTHS:
            settings = dataclasses.replace(settings, strength=cls.strength)
        settings = dataclasses.replace(
            settings,
            mode=choices.valid_mode(settings.mode),
            view=choices.valid_view(settings.view),
            steps=choices.valid_steps(settings.steps),
        )
        if not 1 <= settings.jpeg_quality <= 100:
            settings = dataclasses.replace(settings, jpeg_quality=cls.jpeg_quality)
        return settings

    def save(self, krita) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            krita.writeSetting(
                GROUP, field.name, str(value).lower() if isinstance(value, bool) else str(value)
            )

    def job(self, path: str) -> ExportJob:
        return ExportJob(
            path=path,
            fmt=self.fmt,
            settings=choices.protect_settings(
                strength=self.strength,
                mode=self.mode,
                view=self.view,
                steps=self.steps,
                declarations=self.declarations,
            ),
            quality=self.jpeg_quality if self.fmt in ("jpeg", "webp") else None,
            keep_alpha=self.fmt != "jpeg" and (self.png_alpha or self.fmt != "png"),
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
    return str(base / f"{stem}-protected.{EXTENSIONS[settings.fmt]}")
