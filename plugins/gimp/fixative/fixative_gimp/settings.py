"""A procedure's config as the host glue's job: settings, quality, alpha and which Python."""

from __future__ import annotations

import os

import gi

gi.require_version("Gimp", "3.0")
from fixative_host import ExportJob, choices  # noqa: E402
from gi.repository import Gimp  # noqa: E402

from .formats import GimpFormat  # noqa: E402


def protect_settings(config: Gimp.ProcedureConfig) -> dict:
    return choices.protect_settings(
        strength=choices.valid_strength(config.get_property("strength")),
        mode=choices.valid_mode(config.get_property("mode")),
        view=config.get_property("view"),
        steps=config.get_property("steps"),
        declarations=config.get_property("declarations"),
    )


def job(path: str, fmt: GimpFormat, config: Gimp.ProcedureConfig) -> ExportJob:
    # Quality only where the format is lossy; alpha kept where it can be stored, else flattened
    # onto white (GIMP's Export As has flattened already: CAN_HANDLE_ALPHA is not set).
    quality = config.get_property("quality") if fmt.core.lossy else None
    return ExportJob(
        path=path,
        fmt=fmt.key,
        settings=protect_settings(config),
        quality=quality,
        keep_alpha=fmt.core.alpha,
    )


def python(config: Gimp.ProcedureConfig) -> str | None:
    """The external Python: the dialog's, else FIXATIVE_PYTHON."""
    return config.get_property("external-python") or os.environ.get("FIXATIVE_PYTHON") or None


def external() -> bool:
    """FIXATIVE_OUT_OF_PROCESS=1 forces the external Python even when the core loads here."""
    return os.environ.get("FIXATIVE_OUT_OF_PROCESS") == "1"
