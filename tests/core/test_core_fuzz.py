"""Fuzz (issue 13 item 4): mutated PNG, JPEG, TIFF and WebP files keep the bad-input promise.

Valid small files get byte flips, truncations and duplicated chunks (PNG chunks with their
checksums fixed up, so the damage reaches past the CRC check). Each mutant either protects to
an output that decodes, or raises a FixativeError naming the file; the input is never changed.

The CI share is small and deterministic; a longer, random run:
    FIXATIVE_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/core/test_core_fuzz.py -x -q
"""

from __future__ import annotations

import functools
import io
import os
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import fixative.jobs.files as ff
import numpy as np
import pytest
from fixative import FixativeError, ProtectSettings, protect_file
from fixative.image import png16, tiff16
from hypothesis import HealthCheck, given, settings  # the test extra: never skipped without it
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

LONG = os.environ.get("FIXATIVE_FUZZ_EXAMPLES")
EXAMPLES = int(LONG or 50)
FUZZ_MAX_PIXELS = 1 << 20  # a flipped header byte may claim a huge image: keep memory bounded


def _noise(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)


@functools.cache
def seeds() -> dict[str, bytes]:
    """Valid 16x16 files, each with some metadata for the mutations to hit."""
    out = {}
    rgb = Image.fromarray(_noise(16, 16))
    exif = Image.Exif()
    exif[0x010F] = "Fuzz Camera"
    png_info = PngImagePlugin.PngInfo()
    png_info.add_text("Title", "fuzz")
    png_info.add_itxt("Description", "ünïcode", zip=True)
    for name, kwargs in {
        "png": {"format": "PNG", "pnginfo": png_info},
        "jpg": {"format": "JPEG", "quality": 80, "exif": exif.tobytes()},
        "tif": {"format": "TIFF", "compression": "tiff_deflate"},
        "webp": {"format": "WEBP", "lossless": True},
        "lossy.webp": {"format": "WEBP", "quality": 70},
    }.items():
        buf = io.BytesIO()
        rgb.save(buf, **kwargs)
        out[name] = buf.getvalue()
    arr16 = np.random.default_rng(1).integers(0, 65536, (16, 16, 3), dtype=np.uint16)
    meta = png16.PngMeta(text={"Title": "fuzz16"}, dpi=(300.0, 300.0))
    out["16.png"] = png16.encode(arr16, meta)
    out["16.tif"] = tiff16.encode(arr16, tiff16.TiffMeta())
    buf = io.BytesIO()
    Image.fromarray(_noise(16, 16, 1)[..., 0], "L").save(buf, "PNG")
    out["grey.png"] = buf.getvalue()
    return out


def _png_chunks(data: bytes) -> list[tuple[int, int]] | None:
    """(start, end) of each chunk of an intact PNG, or None."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    spans, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 12 + length
        if end > len(data):
            return None
        spans.append((pos, end))
        pos = end
    return spans


def _fix_crcs(data: bytearray) -> None:
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 12 + length
        if end > len(data):
            return
        data[end - 4 : end] = struct.pack(">I", zlib.crc32(bytes(data[pos + 4 : end - 4])))
        pos = end


MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(1, 255)),
    st.tuples(st.just("set"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16), st.just(0)),
    st.tuples(st.just("dup"), st.integers(0, 1 << 16), st.integers(1, 512)),
    st.tuples(st.just("dup-chunk"), st.integers(0, 64), st.integers(0, 64)),
)


def mutate(data: bytes, mutations: list[tuple[str, int, int]], fix_crc: bool) -> bytes:
    out = bytearray(data)
    spans = _png_chunks(data)
    for kind, a, b in mutations:
        if not out:
            break
        if kind == "flip":
            out[a % len(out)] ^= b
        elif kind == "set":
            out[a % len(out)] = b
        elif kind == "truncate":
            del out[a % len(out) :]
        elif kind == "dup":
            start = a % len(out)
            out[start:start] = out[start : start + b]
        elif kind == "dup-chunk" and spans:  # a whole chunk again, after another one
            s, e = spans[a % len(spans)]
            at = spans[b % len(spans)][1]
            if e <= len(out) and at <= len(out):
                out[at:at] = out[s:e]
    if fix_crc and spans:
        _fix_crcs(out)
    return bytes(out)


@pytest.fixture
def bounded_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    read = ff.read_image
    monkeypatch.setattr(ff, "read_image", functools.partial(read, max_pixels=FUZZ_MAX_PIXELS))


@settings(
    max_examples=EXAMPLES,
    derandomize=not LONG,
    deadline=10_000,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(sorted(seeds())),
    mutations=st.lists(MUTATION, min_size=1, max_size=4),
    fix_crc=st.booleans(),
)
def test_mutated_files_keep_the_promise(
    conv_model: Path,
    bounded_reads: None,
    seed: str,
    mutations: list[tuple[str, int, int]],
    fix_crc: bool,
) -> None:
    data = mutate(seeds()[seed], mutations, fix_crc)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"in.{seed}"
        src.write_bytes(data)
        dst = Path(tmp) / f"out.{seed}"
        try:
            with warnings.catch_warnings():  # a damaged file is refused or read, not warned about
                warnings.filterwarnings("error", category=UserWarning, module="PIL")
                protect_file(src, dst, ProtectSettings(mode="generator"))
        except FixativeError as exc:
            assert str(src) in str(exc), str(exc)
            assert not dst.exists()
        else:
            with Image.open(dst) as im:
                im.load()
        assert src.read_bytes() == data, "the input was modified"
        left = sorted(p.name for p in Path(tmp).iterdir())
        assert left in ([src.name], sorted([src.name, dst.name])), left


# Mutants the fuzzer once found giving a traceback (a 16-bit TIFF with a broken next IFD or a
# lost width tag); kept as plain tests so they run whatever hypothesis draws.
REGRESSIONS = [
    ("16.tif", [("dup", 25212, 30)]),
    ("16.tif", [("truncate", 20239, 178)]),
    ("16.tif", [("dup-chunk", 1171, 25), ("flip", 28635, 41)]),
]


@pytest.mark.parametrize(("seed", "mutations"), REGRESSIONS)
def test_found_mutants(
    conv_model: Path, bounded_reads: None, tmp_path: Path, seed: str, mutations: list
) -> None:
    data = mutate(seeds()[seed], mutations, False)
    src = tmp_path / f"in.{seed}"
    src.write_bytes(data)
    with pytest.raises(FixativeError, match="corrupt") as info:
        protect_file(src, tmp_path / f"out.{seed}", ProtectSettings(mode="generator"))
    assert str(src) in str(info.value)
    assert src.read_bytes() == data


def test_mutations_do_change_the_files() -> None:
    """The fuzzer is not a no-op: each kind of mutation changes a seed file."""
    data = seeds()["png"]
    for m in [("flip", 40, 1), ("set", 40, 0), ("truncate", 100, 0), ("dup", 30, 20)]:
        assert mutate(data, [m], False) != data
    assert len(mutate(data, [("dup-chunk", 1, 1)], True)) > len(data)
