"""Host-neutral glue shared by the Krita, GIMP and Blender adapters (vendored into each).

Nothing here knows a host's pixel layout (each host's `bridge` does) and nothing here
protects pixels (the core does). It carries a host's pixels (or, for Blender's renders, a
file) to the core, in process when numpy/onnxruntime import, else through an external Python,
with the same code path, errors and reports.
"""

from .preview import run_preview
from .raw import RawImage
from .runner import ExportJob, HostCancelled, HostError, run_export, run_file_export

__all__ = [
    "ExportJob",
    "HostCancelled",
    "HostError",
    "RawImage",
    "run_export",
    "run_file_export",
    "run_preview",
]
