"""The "no AI training" declarations: what goes into a file and what a site publishes.

`xmp` (IPTC/PLUS/XMP statements: `DeclarationSettings`, `xmp_for`, `read_declarations`),
`c2pa_sign` (a signed C2PA manifest carrying the same statements, with the optional
c2pa-python), `snippets` (robots.txt, ai.txt, TDMRep and HTML lines for a site).

May import: `fixative.errors`, `fixative.atomic`, and each other. Nothing about pixels.
"""
