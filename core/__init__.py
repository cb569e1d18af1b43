"""Fixative: protect artists' images against generative-AI mimicry at export time.

The public API, used by the CLI and the host adapters. Importing this package never needs
numpy or onnxruntime; they are imported when an image is actually protected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    Cancelled,
    FixativeError,
    ImageReadError,
    ImageTooLargeError,
    ImageWriteError,
    MissingDependencyError,
    ModelError,
    OutputExistsError,
    SettingsError,
    UnsupportedImageError,
)

__version__ = "0.1.0"

__all__ = [
    "Cancelled",
    "DeclarationSettings",
    "FixativeError",
    "ImageReadError",
    "ImageTooLargeError",
    "ImageWriteError",
    "MissingDependencyError",
    "ModelError",
    "OutputExistsError",
    "ProtectReport",
    "ProtectSettings",
    "SettingsError",
    "UnsupportedImageError",
    "__version__",
    "default_model_path",
    "protect_array",
    "protect_file",
    "read_image",
    "write_image",
]

if TYPE_CHECKING:
    from .declarations.xmp import DeclarationSettings
    from .image.reading import read_image
    from .image.writing import write_image
    from .jobs.files import protect_file
    from .protection.model import default_model_path
    from .protection.protect import protect_array
    from .protection.report import ProtectReport
    from .protection.settings import ProtectSettings

# Attribute -> submodule. Resolved on first use (PEP 562) so `import fixative` stays light.
_LAZY = {
    "DeclarationSettings": "declarations.xmp",
    "protect_file": "jobs.files",
    "read_image": "image.reading",
    "write_image": "image.writing",
    "default_model_path": "protection.model",
    "protect_array": "protection.protect",
    "ProtectReport": "protection.report",
    "ProtectSettings": "protection.settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'fixative' has no attribute {name!r}"
        raise AttributeError(msg)
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
