"""Host-neutral glue shared by the Krita and GIMP plug-ins (vendored into both).

Nothing here knows a host's pixel layout (each host's `bridge` does) and nothing here
protects pixels (the core does). It carries a host's pixels to the core, in process when
numpy/onnxruntime import, else through an external Python, with the same code path.
"""

from .raw import RawImage
from .runner import ExportJob, HostCancelled, HostError, run_export

__all__ = ["ExportJob", "HostCancelled", "HostError", "RawImage", "run_export"]
