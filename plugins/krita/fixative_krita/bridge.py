"""The only module that knows how Krita stores pixels.

`Document.pixelData` gives the projection (the flattened image) row by row, top to bottom,
as B, G, R, A for RGBA/U8 and RGBA/U16 (16-bit in native byte order). This module turns it
into the core's array contract (R, G, B[, A], straight alpha, values encoded by the profile's
curve) as a `RawImage`, with the document's ICC profile when it is not sRGB.

Float depths (F16/F32) are refused: they usually hold scene-referred values above 1, and
protection is defined for display-referred 8/16-bit images. Documents in a linear-light
8/16-bit profile are converted, in a temporary copy, to sRGB first.
"""

from __future__ import annotations

import os
import struct
import tempfile
from array import array

from fixative_host import HostError, RawImage

SRGB_PROFILE = "sRGB-elle-V2-srgbtrc.icc"
# Profile names Krita ships whose curve is sRGB: no ICC needs to travel with the file.
_SRGB_NAMES = {SRGB_PROFILE, "sRGB built-in", "sRGB IEC61966-2.1"}
_LINEAR_MARKERS = ("-g10", "linear", "scrgb")


def document_name(doc) -> str:
    return doc.fileName() or doc.name() or "untitled"


def is_linear(profile: str) -> bool:
    lowered = profile.lower()
    return any(marker in lowered for marker in _LINEAR_MARKERS)


def check_supported(doc) -> None:
    name, model, depth = document_name(doc), doc.colorModel(), doc.colorDepth()
    if model != "RGBA":
        msg = (
            f"{name}: the {model} colour model is not supported. Convert a copy to RGB/Alpha "
            "(Image > Convert Image Color Space) and export that."
        )
        raise HostError(msg)
    if depth not in ("U8", "U16"):
        msg = (
            f"{name}: {depth} (floating-point) documents are not supported: protection is "
            "defined for display-referred 8- and 16-bit images. Convert a copy to 16-bit "
            "integer (Image > Convert Image Color Space) and export that."
        )
        raise HostError(msg)


def read_document(krita, doc) -> RawImage:
    """The document's projection as a RawImage; the document itself is never changed."""
    check_supported(doc)
    depth, profile = doc.colorDepth(), doc.colorProfile()
    if not is_linear(profile):
        return _read(doc, depth, icc_profile(krita, profile))
    # Convert a clone: the artist's document keeps its colour space.
    clone = doc.clone()
    try:
        clone.setBatchmode(True)
        clone.setColorSpace("RGBA", depth, SRGB_PROFILE)
        clone.refreshProjection()
        clone.waitForDone()
        return _read(clone, depth, None)
    finally:
        clone.close()


def _read(doc, depth: str, icc: bytes | None) -> RawImage:
    width, height = doc.width(), doc.height()
    typecode, sample = ("B", "u8") if depth == "U8" else ("H", "u16")
    rgba = bgra_to_rgba(bytes(doc.pixelData(0, 0, width, height)), typecode)
    # Krita documents always have alpha; an opaque one is written as RGB, as Krita's own
    # exporters do, so an RGB file opened and exported stays RGB.
    data, channels = drop_opaque_alpha(rgba, typecode)
    return RawImage(data, width, height, channels, sample, icc)


def bgra_to_rgba(data: bytes, typecode: str) -> bytes:
    """Swap the B and R samples of packed BGRA pixels (C-speed slicing, no numpy)."""
    src = array(typecode, data)
    out = array(typecode, src)
    out[0::4] = src[2::4]
    out[2::4] = src[0::4]
    return out.tobytes()


def drop_opaque_alpha(rgba: bytes, typecode: str) -> tuple[bytes, int]:
    """(RGB bytes, 3) when every pixel is fully opaque, else (rgba, 4)."""
    src = array(typecode, rgba)
    alpha = src[3::4]
    if alpha.count(255 if typecode == "B" else 65535) != len(alpha):
        return rgba, 4
    out = array(typecode, bytes(len(alpha) * 3 * src.itemsize))
    for channel in range(3):
        out[channel::3] = src[channel::4]
    return out.tobytes(), 3


def icc_profile(krita, profile: str) -> bytes | None:
    """The ICC bytes of a named Krita profile (None for sRGB).

    Krita's Python API names profiles but does not expose their bytes, so a 1x1 document in
    that profile is exported as JPEG (Krita's JPEG export always embeds the profile; its PNG
    export does not) and the profile read back from the APP2 segments.
    """
    if profile in _SRGB_NAMES:
        return None
    probe = krita.createDocument(1, 1, "fixative-profile-probe", "RGBA", "U8", profile, 72.0)
    if probe is None:
        return None
    handle, path = tempfile.mkstemp(suffix=".jpg")
    os.close(handle)
    try:
        probe.setBatchmode(True)
        from krita import InfoObject

        if not probe.exportImage(path, InfoObject()):
            return None
        with open(path, "rb") as fh:
            return jpeg_icc(fh.read())
    finally:
        probe.close()
        os.unlink(path)


def jpeg_icc(data: bytes) -> bytes | None:
    """The ICC profile of a JPEG file (APP2 "ICC_PROFILE" chunks, in order), if any."""
    chunks: dict[int, bytes] = {}
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: no more metadata segments
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        if marker == 0xE2 and body.startswith(b"ICC_PROFILE\0"):
            chunks[body[12]] = body[14:]
        pos += 2 + length
    return b"".join(chunks[i] for i in sorted(chunks)) or None
