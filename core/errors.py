"""One error hierarchy for everything Fixative raises on purpose.

Each class also subclasses the closest builtin so callers that already catch `OSError` or
`ValueError` keep working. Messages name the file (when there is one) and the problem.
"""

from __future__ import annotations


class FixativeError(Exception):
    """Base of every error Fixative raises deliberately; `str(err)` is a user-facing message."""


class Cancelled(FixativeError):
    """The caller's `cancel()` callback asked to stop; nothing was written."""


class SettingsError(FixativeError, ValueError):
    """A setting has a value Fixative cannot use."""


class UnsupportedImageError(FixativeError, ValueError):
    """The image is readable but Fixative cannot protect it (format, mode, animation...)."""


class ImageTooLargeError(UnsupportedImageError):
    """The image has more pixels than the configured limit."""


class ImageReadError(FixativeError, OSError):
    """The file cannot be read or decoded (missing, unreadable, corrupt, truncated)."""


class ImageWriteError(FixativeError, OSError):
    """The output could not be written (disk full, permissions...); no partial file is left."""


class OutputExistsError(ImageWriteError, FileExistsError):
    """The output exists and overwriting was not asked for."""


class ModelError(FixativeError):
    """The perturbation model is missing, does not follow the contract, or fails to run."""


class MissingDependencyError(FixativeError, ImportError):
    """A runtime package (numpy, onnxruntime, ...) is not installed in this Python."""


def missing(package: str, purpose: str) -> MissingDependencyError:
    """Build the error for an absent package, with the install hint hosts can show as-is."""
    msg = (
        f"the Python package '{package}' is needed to {purpose} but is not installed "
        f"in this Python; install it with: python -m pip install {package}"
    )
    return MissingDependencyError(msg)
