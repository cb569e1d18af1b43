"""Files in and out: formats, the pixel contract, reading and writing with metadata.

`formats` (the one table of output formats), `pixels` (the array contract: dtypes, alpha,
quantising), `reading` (`read_image`: pixels, metadata, encoder hints), `writing`
(`write_image`: encode, embed the declarations, write atomically), `png16` and `tiff16`
(the 16-bit encoders Pillow lacks).

May import: `fixative.declarations` (writing embeds them), `fixative.atomic`,
`fixative.errors`. Never the protection: a file is read and written the same way whatever
was done to its pixels.
"""
