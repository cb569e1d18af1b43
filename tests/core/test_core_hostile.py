"""Hostile files (issue 13 item 3): bombs, lying headers, XML entities, broken EXIF and strips.

Each file is protected in a child process under an address-space limit and a timeout, so a bomb
that slips through fails its test instead of taking the machine down. The promise for every kind:
a correct output, or a FixativeError naming the file (never a traceback); the input unchanged;
nothing outside the file (here /etc/passwd) ever read into the output.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses resource.setrlimit")

LIMIT_AS = 1536 << 20  # 1.5 GB of address space for the child
TIMEOUT_S = 120
BOMB_MB = 2048  # each bomb inflates to 2 GB: more than the child may map


def _bomb() -> bytes:
    """A valid zlib stream of BOMB_MB MB of zeros, about 2 MB long, built without inflating it."""
    zeros = bytes(1 << 20)
    c = zlib.compressobj(9)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)  # stands alone after a full flush
    n = BOMB_MB << 20
    adler = ((n % 65521) << 16) | 1  # adler32 of n zero bytes
    return first + block * (BOMB_MB - 1) + b"\x03\x00" + struct.pack(">I", adler)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(extra: list[bytes], *, sixteen: bool = False, after_idat: bool = False) -> bytes:
    """A small valid PNG (8-bit RGB, or 16-bit RGB for Fixative's own reader) plus chunks."""
    rng = np.random.default_rng(1)
    h, w = 16, 16
    if sixteen:
        arr = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16).astype(">u2")
    else:
        arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    rows = arr.reshape(h, -1).view(np.uint8)
    raw = b"".join(b"\0" + rows[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16 if sixteen else 8, 2, 0, 0, 0)
    idat = _chunk(b"IDAT", zlib.compress(raw))
    body = [idat, *extra] if after_idat else [*extra, idat]
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + b"".join(body) + _chunk(b"IEND", b"")


def _ztxt() -> bytes:
    return _chunk(b"zTXt", b"Comment\0\0" + _bomb())


def _itxt(key: bytes = b"Comment") -> bytes:
    return _chunk(b"iTXt", key + b"\0\1\0\0\0" + _bomb())


def _iccp() -> bytes:
    return _chunk(b"iCCP", b"ICC profile\0\0" + _bomb())


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "hahahahahahahahahaha">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]>"
)
XMP_BODY = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:source>{}</dc:source>'
    "</rdf:Description></rdf:RDF></x:xmpmeta>"
)
BILLION_LAUGHS = (LAUGHS + XMP_BODY.format("&j;")).encode()
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    + XMP_BODY.format("&e;")
).encode()


def _xmp_png(packet: bytes) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        p.write_bytes(_png([_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + packet)]))

    return make


def _xmp_jpeg(packet: bytes) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), (9, 99, 199)).save(buf, "JPEG")
        app1 = b"http://ns.adobe.com/xap/1.0/\0" + packet
        seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
        data = buf.getvalue()
        p.write_bytes(data[:2] + seg + data[2:])

    return make


def _gigapixel_png16(p: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 16, 2, 0, 0, 0)
    idat = _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + idat + _chunk(b"IEND", b""))


def _tiff(
    width: int, height: int, bits: int, strip_at: int, strip_len: int, compression: int = 1
) -> bytes:
    """A little-endian RGB TIFF with one strip at `strip_at` (maybe past the end of the file)."""
    tags = [(256, width), (257, height), (258, None), (259, compression), (262, 2)]
    tags += [(273, strip_at)]
    tags += [(277, 3), (278, height), (279, strip_len)]
    ifd_at, n = 8, len(tags)
    bps_at = ifd_at + 2 + n * 12 + 4
    out = bytearray(b"II*\0" + struct.pack("<I", ifd_at) + struct.pack("<H", n))
    for tag, value in tags:
        if tag == 258:
            out += struct.pack("<HHII", tag, 3, 3, bps_at)
        elif tag in (256, 257, 273, 278, 279):
            out += struct.pack("<HHII", tag, 4, 1, value)
        else:
            out += struct.pack("<HHIHH", tag, 3, 1, value, 0)
    out += struct.pack("<I", 0) + struct.pack("<HHH", bits, bits, bits)
    return bytes(out) + b"\x55" * 64


def _strip_past_end(bits: int) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        w = h = 16
        p.write_bytes(_tiff(w, h, bits, 10_000, w * h * 3 * bits // 8))

    return make


def _deflate_bomb_tiff16(p: Path) -> None:
    bomb = _bomb()
    head = _tiff(64, 64, 16, 0, 0)
    head = _tiff(64, 64, 16, len(head) - 64, len(bomb), compression=8)
    p.write_bytes(head[:-64] + bomb)


def _gigapixel_tiff(p: Path) -> None:
    p.write_bytes(_tiff(100_000, 100_000, 8, 8, 30_000_000_000 % (1 << 32)))


def _gigapixel_jpeg(p: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65535, 65535)  # height, width
    p.write_bytes(bytes(data))


def _gigapixel_webp(p: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, "WEBP", lossless=True)
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    data[21:25] = struct.pack("<I", 16383 | (16383 << 14))  # 16384x16384, no alpha
    p.write_bytes(bytes(data))


def _garbage_exif_png(p: Path) -> None:
    junk = np.random.default_rng(5).integers(0, 256, 300, dtype=np.uint8).tobytes()
    p.write_bytes(_png([_chunk(b"eXIf", b"MM\0*" + junk)]))


def _garbage_exif_jpeg(p: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buf, "JPEG")
    junk = np.random.default_rng(6).integers(0, 256, 300, dtype=np.uint8).tobytes()
    app1 = b"Exif\0\0II*\0\x08\0\0\0" + junk
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    data = buf.getvalue()
    p.write_bytes(data[:2] + seg + data[2:])


def _apng(sixteen: bool) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        if not sixteen:
            frames = [Image.new("RGB", (16, 16), (s * 80, 0, 0)) for s in range(3)]
            frames[0].save(p, "PNG", save_all=True, append_images=frames[1:])
            return
        # 16-bit colour goes through Fixative's own reader: acTL + fcTL + a second frame (fdAT)
        data = _png([], sixteen=True)
        actl = _chunk(b"acTL", struct.pack(">II", 2, 0))
        fctl = lambda seq: _chunk(  # noqa: E731
            b"fcTL", struct.pack(">IIIIIHHBB", seq, 16, 16, 0, 0, 1, 10, 0, 0)
        )
        ihdr_end = 8 + 25
        idat_start = ihdr_end
        iend = data.rindex(b"IEND") - 4
        idat = data[idat_start:iend]
        frame2 = zlib.compress(b"\0" * (16 * (1 + 16 * 6)))
        fdat = _chunk(b"fdAT", struct.pack(">I", 2) + frame2)
        p.write_bytes(data[:ihdr_end] + actl + fctl(0) + idat + fctl(1) + fdat + data[iend:])

    return make


# name: (maker, declarations on, required outcome: "error" (which FixativeError) or "either")
HOSTILE: dict[str, tuple[Callable[[Path], None], bool, str]] = {
    "ztxt-bomb.png": (lambda p: p.write_bytes(_png([_ztxt()])), True, "either"),
    "ztxt-bomb-late.png": (
        lambda p: p.write_bytes(_png([_ztxt()], after_idat=True)),
        True,
        "either",
    ),
    "itxt-bomb.png": (lambda p: p.write_bytes(_png([_itxt()])), True, "either"),
    "xmp-bomb.png": (lambda p: p.write_bytes(_png([_itxt(b"XML:com.adobe.xmp")])), True, "either"),
    "iccp-bomb.png": (lambda p: p.write_bytes(_png([_iccp()])), True, "either"),
    "ztxt-bomb16.png": (lambda p: p.write_bytes(_png([_ztxt()], sixteen=True)), True, "either"),
    "itxt-bomb16.png": (lambda p: p.write_bytes(_png([_itxt()], sixteen=True)), True, "either"),
    "xmp-bomb16.png": (
        lambda p: p.write_bytes(_png([_itxt(b"XML:com.adobe.xmp")], sixteen=True)),
        True,
        "either",
    ),
    "iccp-bomb16.png": (lambda p: p.write_bytes(_png([_iccp()], sixteen=True)), True, "either"),
    "gigapixel16.png": (_gigapixel_png16, True, "ImageTooLargeError"),
    "gigapixel.tif": (_gigapixel_tiff, True, "ImageTooLargeError"),
    "gigapixel.jpg": (_gigapixel_jpeg, True, "ImageTooLargeError"),
    "gigapixel.webp": (_gigapixel_webp, True, "ImageTooLargeError"),
    "laughs.png": (_xmp_png(BILLION_LAUGHS), True, "CorruptXmpError"),
    "laughs.jpg": (_xmp_jpeg(BILLION_LAUGHS), True, "CorruptXmpError"),
    "laughs-kept.png": (_xmp_png(BILLION_LAUGHS), False, "either"),
    "external.png": (_xmp_png(EXTERNAL), True, "CorruptXmpError"),
    "external.jpg": (_xmp_jpeg(EXTERNAL), True, "CorruptXmpError"),
    "external-kept.jpg": (_xmp_jpeg(EXTERNAL), False, "either"),
    "garbage-exif.png": (_garbage_exif_png, True, "either"),
    "garbage-exif.jpg": (_garbage_exif_jpeg, True, "either"),
    "deflate-bomb16.tif": (_deflate_bomb_tiff16, True, "either"),
    "strip-past-end.tif": (_strip_past_end(8), True, "ImageReadError"),
    "strip-past-end16.tif": (_strip_past_end(16), True, "ImageReadError"),
    "animated.png": (_apng(False), True, "UnsupportedImageError"),
    "animated16.png": (_apng(True), True, "UnsupportedImageError"),
}

CHILD = r"""
import json, resource, sys
limit = int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
if sys.argv[5] == "1":
    sys.modules["defusedxml"] = None  # the runtime must be safe without it
from fixative import DeclarationSettings, FixativeError, ProtectSettings, protect_file
declare = DeclarationSettings(enabled=sys.argv[3] == "1")
settings = ProtectSettings(mode="generator", threads=1, declarations=declare)
try:
    protect_file(sys.argv[1], sys.argv[2], settings)
except FixativeError as exc:
    names = [k.__name__ for k in type(exc).__mro__]
    print(json.dumps({"ok": False, "types": names, "message": str(exc)}))
else:
    print(json.dumps({"ok": True}))
"""


def run_child(src: Path, dst: Path, declare: bool, no_defusedxml: bool = False) -> dict:
    """protect_file(src, dst) in a child under LIMIT_AS and TIMEOUT_S; its JSON verdict."""
    import resource

    def limit() -> None:  # also before exec, so the interpreter itself starts under it
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))

    args = [str(src), str(dst), "1" if declare else "0", str(LIMIT_AS)]
    args.append("1" if no_defusedxml else "0")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=limit,
        # one model thread and few malloc arenas: on a many-core machine, per-thread stacks
        # and arenas alone would use up the address-space limit
        env={**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2"},
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.strip(), (
        f"child failed (rc {proc.returncode}): {proc.stderr[-3000:]}"
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_promise(src: Path, dst: Path, before: bytes, verdict: dict, want: str) -> None:
    assert src.read_bytes() == before, "the input was modified"
    leftovers = sorted(p.name for p in src.parent.iterdir() if p.name not in (src.name, dst.name))
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    if verdict["ok"]:
        assert want == "either", f"expected {want}, got an output"
        with Image.open(dst) as im:
            im.load()
        out = dst.read_bytes()
        assert b"root:" not in out and b"/bin/" not in out  # nothing of /etc/passwd
        return
    assert str(src) in verdict["message"], verdict["message"]
    assert not dst.exists()
    if want != "either":
        assert want in verdict["types"], verdict


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files(conv_model: Path, tmp_path: Path, name: str) -> None:
    make, declare, want = HOSTILE[name]
    folder = tmp_path / "in"
    folder.mkdir()
    src = folder / name
    make(src)
    before = src.read_bytes()
    dst = folder / f"out-{name}"
    verdict = run_child(src, dst, declare)
    check_promise(src, dst, before, verdict, want)


@pytest.mark.parametrize("name", ["laughs.png", "external.jpg"])
def test_xml_entities_are_refused_without_defusedxml(
    conv_model: Path, tmp_path: Path, name: str
) -> None:
    make, declare, want = HOSTILE[name]
    folder = tmp_path / "in"
    folder.mkdir()
    src = folder / name
    make(src)
    before = src.read_bytes()
    dst = folder / f"out-{name}"
    verdict = run_child(src, dst, declare, no_defusedxml=True)
    check_promise(src, dst, before, verdict, want)
