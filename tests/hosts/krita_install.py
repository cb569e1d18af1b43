"""Installs a plug-in zip with Krita's own importer (the code behind Tools > Scripts > Import
Python Plugin from File...), run inside the hosts root by tests/hosts/test_krita.py.

    python3 krita_install.py ZIP RESOURCES_DIR   -> prints the imported plug-ins as JSON
"""

import builtins
import json
import sys

sys.path.insert(0, "/usr/share/krita/pykrita/plugin_importer")
builtins.i18n = str  # Krita's importer translates its error messages with i18n()

from plugin_importer import PluginImporter  # noqa: E402

imported = PluginImporter(sys.argv[1], sys.argv[2], lambda plugin: True).import_all()
print(
    json.dumps(
        [{k: plugin[k] for k in ("name", "ui_name", "module", "action")} for plugin in imported]
    )
)
