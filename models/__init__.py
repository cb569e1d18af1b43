"""Shipped perturbation models (data only): `manifest.json` and the `.onnx` files it lists.

A package so that `pip install .` installs the models with `fixative` (as `fixative.models`);
`fixative.protection.model.default_model_path()` finds them here.
"""
