"""GIMP-specific parts of the Fixative plug-in (the entry point is ../fixative.py)."""
