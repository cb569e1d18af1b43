"""Read compiled files as a stranger would: the header says the platform and architecture,
the file name or the imports say the Python. Independent of the wheel tags that the
packaging scripts and the plug-ins' start-up check go by."""

from __future__ import annotations

import re
import struct
from pathlib import Path

COMPILED = (".so", ".pyd", ".dylib", ".dll")
# e_machine (ELF), Machine (PE), cputype (Mach-O) -> architecture
ELF_MACHINES = {62: "x86_64", 183: "arm64"}
PE_MACHINES = {0x8664: "x86_64", 0xAA64: "arm64"}
MACHO_CPUS = {0x01000007: "x86_64", 0x0100000C: "arm64"}


def binary_platform(data: bytes) -> tuple[str, set[str]]:
    """(system, architectures) from a compiled file's header."""
    if data[:4] == b"\x7fELF":
        (machine,) = struct.unpack_from("<H", data, 18)
        return "linux", {ELF_MACHINES.get(machine, str(machine))}
    if data[:2] == b"MZ":
        (offset,) = struct.unpack_from("<I", data, 0x3C)
        assert data[offset : offset + 4] == b"PE\0\0"
        (machine,) = struct.unpack_from("<H", data, offset + 4)
        return "windows", {PE_MACHINES.get(machine, hex(machine))}
    magic = data[:4]
    if magic in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe"):  # thin Mach-O, little-endian
        (cpu,) = struct.unpack_from("<I", data, 4)
        return "macos", {MACHO_CPUS.get(cpu, hex(cpu))}
    if magic == b"\xca\xfe\xba\xbe":  # fat (universal) Mach-O, big-endian
        (count,) = struct.unpack_from(">I", data, 4)
        cpus = {struct.unpack_from(">I", data, 8 + 20 * i)[0] for i in range(count)}
        return "macos", {MACHO_CPUS.get(c, hex(c)) for c in cpus}
    raise AssertionError(f"not a compiled file: {data[:8]!r}")


def python_marks(name: str, data: bytes) -> set[str]:
    """The Python versions a compiled module names: its file name's tag
    (`.cpython-313-...so`, `.cp313-win_amd64.pyd`) and, on Windows, the pythonXY.dll it
    imports. Empty for a module that names none (an abi3 module, a plain library)."""
    marks = {f"3.{m}" for m in re.findall(r"\.(?:cpython-|cp)3(\d+)[-.]", Path(name).name)}
    marks |= {f"3.{m.decode()}" for m in re.findall(rb"(?i)python3(\d+)\.dll", data)}
    return marks
