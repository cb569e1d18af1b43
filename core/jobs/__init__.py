"""Work on files: protect one file, check one, plan a batch.

`files` (`protect_file`: read, protect, write), `check` (what a file declares and how far its
AI view moved), `batch` (inputs and folders turned into input/output jobs).

May import every package below it: `fixative.protection`, `fixative.image`,
`fixative.declarations`, `fixative.atomic`, `fixative.errors`. Only the command line
(`fixative.cli`) and the public API (`fixative/__init__.py`) import it.
"""
