"""Fixative for Krita: File > Export Protected... and Export All Open Documents Protected...

The package is `fixative_krita`, not `fixative`: Krita imports plug-ins by their folder name,
and `fixative` is the core that this plug-in vendors in `lib/`.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# lib/: the vendored core and host glue (pure Python); deps/: numpy, onnxruntime and Pillow
# unpacked for one platform by scripts/build_krita_plugin.py (official Krita builds bundle a
# Python without them), after anything the Python already has.
if (_HERE / "lib").is_dir() and str(_HERE / "lib") not in sys.path:
    sys.path.insert(0, str(_HERE / "lib"))
if (_HERE / "deps").is_dir() and str(_HERE / "deps") not in sys.path:
    sys.path.append(str(_HERE / "deps"))

try:
    from krita import Krita
except ImportError:  # imported outside Krita (packaging, unit tests): register nothing
    Krita = None

if Krita is not None:
    # Before anything imports numpy from deps/: a package built for another Python (or
    # platform) says which one to install instead of failing with an ImportError.
    from fixative_host.abi import mismatch

    from .extension import FixativeExtension

    Krita.instance().addExtension(
        FixativeExtension(Krita.instance(), package_mismatch=mismatch(_HERE, "Krita"))
    )
