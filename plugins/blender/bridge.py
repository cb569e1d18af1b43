"""The only module that knows how Blender holds pixels, and how to get them out as a file.

Blender keeps images as float RGBA rows from the bottom up, in the scene-linear colour space,
and the Render Result has no readable `.pixels` in background mode at all. The core wants a
display-referred, top-left, 8/16-bit image (`fixative.image.pixels`). `Image.save_render` does
exactly that conversion, applying the scene's view transform, look, exposure and gamma, so a render
goes through it into a temporary PNG that the core then reads: the protected file keeps the colour
management a plain "Save As" of the render would have. Ordinary images are read from
`Image.pixels` instead (`image_raw`), as Blender saves them without the view transform.
Protection itself goes through the glue shared with Krita and GIMP (`fixative_host`, see
`host.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bpy

from .fixative_host import RawImage, choices

# Blender's `file_format` id of each format the core writes -> the core's (Pillow's) name. What
# each can store (alpha, 16 bits, quality) and its extensions are the core's table.
BLENDER_IDS = {"PNG": "PNG", "JPEG": "JPEG", "TIFF": "TIFF", "WEBP": "WEBP"}
FORMATS = {bid: choices.FORMATS[name] for bid, name in BLENDER_IDS.items()}
EXTENSIONS = {ext: bid for bid, fmt in FORMATS.items() for ext in fmt.extensions}
_LABELS = [fmt.label for fmt in FORMATS.values()]
FORMAT_NAMES = ", ".join(_LABELS[:-1]) + " or " + _LABELS[-1]  # "PNG, JPEG, TIFF or WebP"
# Scene-referred formats: their values are not display pixels, so no budget is defined on them.
REFUSED = {
    ".exr": "OpenEXR",
    ".hdr": "Radiance HDR",
    "OPEN_EXR": "OpenEXR",
    "OPEN_EXR_MULTILAYER": "OpenEXR",
    "HDR": "Radiance HDR",
}


def format_for_path(path: str | os.PathLike[str]) -> str | None:
    """The Blender format id a file name's extension names, or None."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def refused_reason(path_or_format: str) -> str | None:
    """A message if `path_or_format` (a file path or a Blender format id) cannot be protected."""
    key = path_or_format
    if "." in key or os.sep in key:
        key = Path(key).suffix.lower()
    name = REFUSED.get(key)
    if name is None:
        return None
    return (
        f"{name} is scene-referred (linear light, unbounded): Fixative protects display-referred "
        f"8/16-bit images only. Choose {FORMAT_NAMES}."
    )


def has_alpha(image: bpy.types.Image, scene: bpy.types.Scene) -> bool:
    """Whether the saved pixels carry alpha: a render only with Film › Transparent."""
    if image.type == "RENDER_RESULT":
        return bool(scene.render.film_transparent)
    # depth is bits per pixel: 24/48/96 are RGB buffers (e.g. a loaded JPEG or RGB PNG).
    return image.alpha_mode != "NONE" and image.depth not in (24, 48, 96)


def save_display_png(
    image: bpy.types.Image, scene: bpy.types.Scene, path: Path, *, alpha: bool, sixteen: bool
) -> Path:
    """Write `image` as the display-referred PNG a plain save would give (view transform kept).

    `save_render` takes its file settings from the scene, so they are swapped in for the call
    and restored afterwards, leaving the user's output settings as they were.
    """
    settings = scene.render.image_settings
    saved = (settings.file_format, settings.color_mode, settings.color_depth, settings.compression)
    try:
        settings.file_format = "PNG"
        settings.color_mode = "RGBA" if alpha else "RGB"
        settings.color_depth = "16" if sixteen else "8"
        settings.compression = 15  # temporary file: favour speed
        image.save_render(str(path), scene=scene)
    finally:
        fmt, mode, depth, compression = saved
        settings.file_format = fmt
        settings.color_mode = mode
        settings.color_depth = depth
        settings.compression = compression
    if not path.is_file():
        msg = f"Blender did not write the pixels of '{image.name}' to {path}"
        raise OSError(msg)
    return path


def is_render(image: bpy.types.Image) -> bool:
    """Render and compositor results: pixels only through `save_render`, with the view transform."""
    return image.type in {"RENDER_RESULT", "COMPOSITING"}


def image_raw(image: bpy.types.Image, *, alpha: bool, sixteen: bool) -> RawImage:
    """Pixels of an ordinary image (loaded, painted, generated) for the shared glue.

    Saved as they are, like Blender's own Save As does for non-render images (no view
    transform). `Image.pixels` is float RGBA, rows bottom-up. Byte images hold their colour
    space's values (sRGB for artwork) with straight alpha: exact as uint8. Float images hold
    scene-linear values with premultiplied alpha: un-premultiplied and sRGB-encoded.
    """
    pixels = image_array(image, alpha=alpha, sixteen=sixteen)
    height, width, channels = pixels.shape
    sample = "u16" if pixels.dtype.itemsize == 2 else "u8"
    return RawImage(pixels.tobytes(), width, height, channels, sample)


def image_array(image: bpy.types.Image, *, alpha: bool, sixteen: bool) -> Any:
    """`image_raw`'s pixels as the core's array (top row first, RGB or RGBA, uint8/uint16)."""
    import numpy as np

    width, height = image.size
    if width == 0 or height == 0:
        msg = f"the image '{image.name}' has no pixels (is its file missing?)"
        raise ValueError(msg)
    flat = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(flat)
    rgba = flat.reshape(height, width, 4)[::-1]  # top row first
    if image.is_float:
        a = rgba[..., 3:4]
        rgb = np.where(a > 0, rgba[..., :3] / np.maximum(a, 1e-8), 0.0)
        rgb = np.clip(rgb, 0.0, 1.0)
        rgb = np.where(rgb <= 0.0031308, rgb * 12.92, 1.055 * rgb ** (1 / 2.4) - 0.055)
        rgba = np.concatenate([rgb, a], axis=2)
    out = rgba if alpha else rgba[..., :3]
    if sixteen and image.is_float:
        return np.ascontiguousarray(np.round(np.clip(out, 0, 1) * 65535).astype(np.uint16))
    return np.ascontiguousarray(np.round(np.clip(out, 0, 1) * 255).astype(np.uint8))


def written_frame(scene: bpy.types.Scene, since: float) -> Path | None:
    """The file Blender has just written for the current frame (render_write gives no path).

    An animation frame goes to `frame_path(frame)`; a still (`write_still`) to the output path
    itself, plus the extension when Blender adds it. The newest candidate written since the
    render started is the one.
    """
    render = scene.render
    candidates = [Path(render.frame_path(frame=scene.frame_current))]
    still = Path(bpy.path.abspath(render.filepath))
    candidates.append(still)
    if render.use_file_extension:
        ext = render.file_extension
        if not still.name.lower().endswith(ext.lower()):
            candidates.append(still.with_name(still.name + ext))
    found = [(p.stat().st_mtime, p) for p in candidates if p.is_file()]
    found = [(t, p) for t, p in found if t >= since - 1.0]
    if not found:
        return None
    return max(found)[1]


def frame_refused_reason(scene: bpy.types.Scene) -> str | None:
    """A message if the scene writes frames in a format the core cannot protect in place."""
    fmt = scene.render.image_settings.file_format
    if fmt in FORMATS:
        return None
    reason = refused_reason(fmt)
    if reason:
        return reason
    if scene.render.is_movie_format:
        return (
            f"{fmt} movies are not protected: render {FORMAT_NAMES} frames "
            "(protected one by one) and encode the movie from them."
        )
    return f"Fixative writes {FORMAT_NAMES}, not {fmt}: choose one of those."
