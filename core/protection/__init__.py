"""The perturbation: how to protect, the ONNX models, and what the protection measures.

`settings` (`ProtectSettings`, the one table of modes and strengths), `model` (the generator
and its manifest), `graphs` (the encoder and its gradients), `view` (the AI's view: downscale
and enlargement), `refine` (steps with the encoder's own gradient), `protect`
(`protect_array`: array in, array out), `preview` (before/after sheets), `measures` (the
sceptic's figures), `report` (`ProtectReport`, what one protection did).

May import: `fixative.image` (the pixel contract), `fixative.declarations` (settings hold
them), `fixative.atomic`, `fixative.errors`. Never files, jobs or the command line: arrays in,
arrays out.
"""
