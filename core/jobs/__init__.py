"""Work on files: protect one file, check one, plan and run a batch.

`files` (`protect_file`: read, protect, write), `check` (what a file declares and how far its
AI view moved), `batch` (inputs and folders turned into input/output jobs), `shards` (a
batch's unit of work and its manifests, resumable), `engines` (who runs the shards: local
threads or Ray workers; Ray is imported only there, only when asked for).

May import every package below it: `fixative.protection`, `fixative.image`,
`fixative.declarations`, `fixative.atomic`, `fixative.errors`. Only the command line
(`fixative.cli`) and the public API (`fixative/__init__.py`) import it.
"""
