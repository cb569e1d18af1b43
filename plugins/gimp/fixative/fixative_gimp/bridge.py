"""The only module that knows how GIMP stores pixels.

It reads a flattened GIMP image through a babl format that matches the image's precision
(8-bit, 16-bit, float) in the image's own colour space, and returns a `RawImage` in the
core's array contract (rows top to bottom, R'G'B'A, straight alpha, perceptual encoding).
"""

from __future__ import annotations

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from fixative_host import HostError, RawImage  # noqa: E402
from gi.repository import Gegl, Gimp  # noqa: E402

# GIMP precision -> (babl component type, RawImage sample type). 32-bit integer images are
# read as 16-bit (the contract's deepest integer type); half and double as float.
_U8 = ("u8", "u8")
_U16 = ("u16", "u16")
_FLOAT = ("float", "f32")
_BY_PRECISION_PREFIX = {
    "U8": _U8,
    "U16": _U16,
    "U32": _U16,
    "HALF": _FLOAT,
    "FLOAT": _FLOAT,
    "DOUBLE": _FLOAT,
}


def refuse_unsupported(image: Gimp.Image, where: str) -> None:
    """Indexed images are refused: a palette cannot hold a per-pixel perturbation."""
    if image.get_base_type() == Gimp.ImageBaseType.INDEXED:
        msg = (
            f"{where}: the image is indexed (palette colour). Fixative's perturbation needs "
            "full colour; convert it with Image > Mode > RGB, then export again."
        )
        raise HostError(msg)


def sample_format(image: Gimp.Image) -> tuple[str, str]:
    name = image.get_precision().value_nick.upper().replace("-", "_")  # e.g. "U16_NON_LINEAR"
    for prefix, fmt in _BY_PRECISION_PREFIX.items():
        if name.startswith(prefix):
            return fmt
    msg = f"unsupported image precision {name}"
    raise HostError(msg)


def _babl_format(name: str, drawable: Gimp.Drawable):
    """`name` in the drawable's colour space, so values stay in the image's profile.

    Falls back to the plain name (sRGB) when babl is not introspectable; the caller then
    drops the image's profile, since the values were converted to sRGB.
    """
    try:
        gi.require_version("Babl", "0.1")
        from gi.repository import Babl

        # Gegl's Python binding takes format names only; babl registers the space-bound
        # format under its own name.
        return Babl.get_name(Babl.format_with_space(name, drawable.get_format())), True
    except (ImportError, ValueError, AttributeError, TypeError):
        return name, False


def read_flattened(image: Gimp.Image, drawable: Gimp.Drawable) -> RawImage:
    """Read `drawable` (the single layer of a flattened export image) as a RawImage. Alpha
    is kept; formats without it flatten later, onto white (`ExportJob.keep_alpha`)."""
    babl_type, sample = sample_format(image)
    has_alpha = drawable.has_alpha()
    channels = 4 if has_alpha else 3
    name = f"R'G'B'{'A' if has_alpha else ''} {babl_type}"
    if image.get_base_type() == Gimp.ImageBaseType.RGB:
        fmt, in_image_space = _babl_format(name, drawable)
    else:  # grayscale: its profile is a gray one, which an RGB file cannot carry
        fmt, in_image_space = name, False
    width, height = drawable.get_width(), drawable.get_height()
    data = drawable.get_buffer().get(
        Gegl.Rectangle.new(0, 0, width, height), 1.0, fmt, Gegl.AbyssPolicy.CLAMP
    )
    icc = None
    if in_image_space and image.get_color_profile() is not None:
        icc = bytes(image.get_color_profile().get_icc_profile())
    return RawImage(bytes(data), width, height, channels, sample, icc)


def read_merged(image: Gimp.Image) -> RawImage:
    """The visible layers merged, from a copy: the user's image is never touched."""
    duplicate = image.duplicate()
    try:
        layer = duplicate.merge_visible_layers(Gimp.MergeType.CLIP_TO_IMAGE)
        return read_flattened(duplicate, layer)
    finally:
        duplicate.delete()


def image_from_raw(raw: RawImage, name: str) -> Gimp.Image:
    """A new 8-bit RGB GIMP image holding `raw` (the preview sheet), one layer, no display."""
    if (raw.channels, raw.sample) != (3, "u8"):
        msg = f"expected 8-bit RGB, got {raw.channels} channels of {raw.sample}"
        raise HostError(msg)
    image = Gimp.Image.new(raw.width, raw.height, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(
        image,
        name,
        raw.width,
        raw.height,
        Gimp.ImageType.RGB_IMAGE,
        100.0,
        Gimp.LayerMode.NORMAL,
    )
    image.insert_layer(layer, None, 0)
    buffer = layer.get_shadow_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, raw.width, raw.height), "R'G'B' u8", raw.data)
    buffer.flush()
    layer.merge_shadow(True)
    layer.update(0, 0, raw.width, raw.height)
    image.clean_all()  # nothing to save: closing it asks nothing
    return image
