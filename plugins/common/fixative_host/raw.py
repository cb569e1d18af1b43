"""Pixels as plain bytes, so a host without numpy can still hand them on.

A host's bridge fills a `RawImage` in the order of the core's array contract (rows top to
bottom, RGB or RGBA, straight alpha, sRGB-encoded values, native byte order); only
`to_array` needs numpy.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

# sample type -> (numpy dtype name, bytes per sample)
SAMPLE_TYPES = {
    "u8": ("uint8", 1),
    "u16": ("uint16", 2),
    "f16": ("float16", 2),
    "f32": ("float32", 4),
}


@dataclass(frozen=True)
class RawImage:
    data: bytes
    width: int
    height: int
    channels: int  # 3 (RGB) or 4 (RGBA)
    sample: str  # a key of SAMPLE_TYPES
    icc_profile: bytes | None = None

    def __post_init__(self) -> None:
        if self.sample not in SAMPLE_TYPES:
            msg = f"unknown sample type {self.sample!r}"
            raise ValueError(msg)
        if self.channels not in (3, 4):
            msg = f"expected 3 or 4 channels, got {self.channels}"
            raise ValueError(msg)
        expected = self.width * self.height * self.channels * SAMPLE_TYPES[self.sample][1]
        if len(self.data) != expected:
            msg = f"pixel buffer holds {len(self.data)} bytes, expected {expected}"
            raise ValueError(msg)

    def header(self) -> dict:
        """What a reader needs besides the bytes (for the out-of-process worker)."""
        return {
            "width": self.width,
            "height": self.height,
            "channels": self.channels,
            "sample": self.sample,
            "byteorder": sys.byteorder,
        }

    def to_array(self):
        """The core's array contract: (H, W, C) uint8, uint16 or float32 in [0, 1]."""
        import numpy as np

        dtype = np.dtype(SAMPLE_TYPES[self.sample][0])
        arr = np.frombuffer(self.data, dtype=dtype).reshape(self.height, self.width, self.channels)
        if dtype.kind == "f":
            # Float documents may hold values outside [0, 1] (HDR, wide gamut): the contract
            # is display-referred, so they are clipped, which the plug-in docs state.
            return np.clip(arr.astype(np.float32), 0.0, 1.0)
        return arr


def raw_from_header(header: dict, data: bytes, icc_profile: bytes | None) -> RawImage:
    if header["byteorder"] != sys.byteorder and SAMPLE_TYPES[header["sample"]][1] > 1:
        msg = "pixel data was written with a different byte order"
        raise ValueError(msg)
    return RawImage(
        data=data,
        width=header["width"],
        height=header["height"],
        channels=header["channels"],
        sample=header["sample"],
        icc_profile=icc_profile,
    )
