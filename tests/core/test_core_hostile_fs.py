"""Hostile file systems, for real: a full disk (a 64 KB tmpfs), a read-only one, and two runs
writing the same output at once. Each gives a complete output or a clear error naming the file,
leaves no partial or temporary file behind, and never touches the input.

The tmpfs is mounted inside a private mount namespace (`unshare --mount`, with
`--map-root-user` when not root), so nothing outside the test sees it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# The test image is noise: it compresses to ~150 KB as PNG, more than the tmpfs holds.
SIDE = 224


def _noise_png(path: Path) -> bytes:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)).save(path)
    return path.read_bytes()


def _in_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` (sh) in a private mount namespace; as a mapped root when not root."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed for the file-system tests")
    cmd = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        cmd.append("--map-root-user")
    return subprocess.run(
        [*cmd, "sh", "-c", script], capture_output=True, text=True, timeout=300, check=False
    )


def _fixative(*args: object) -> str:
    return " ".join([sys.executable, "-m", "fixative", *(f"'{a}'" for a in args)])


@pytest.mark.parametrize(
    ("options", "reason"),
    [("size=64k", "disk full"), ("size=4m,ro", "read-only file system")],
)
def test_full_or_read_only_disk_is_a_clear_error(tmp_path: Path, options: str, reason: str):
    src = tmp_path / "art.png"
    before = _noise_png(src)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    dst = mnt / "art-protected.png"
    proc = _in_namespace(
        f"mount -t tmpfs -o {options} fixative-test '{mnt}' && "
        f"{_fixative('protect', src, '-o', dst, '--mode', 'generator', '-q')}; rc=$?; "
        f"ls -A '{mnt}'; exit $rc"
    )
    assert proc.returncode == 1, proc.stderr
    assert f"{dst}: cannot write the output ({reason}); nothing was written" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip() == ""  # `ls -A` of the tmpfs: no partial or temporary file
    assert src.read_bytes() == before


def test_two_runs_writing_one_output(tmp_path: Path):
    src = tmp_path / "art.png"
    before = _noise_png(src)
    dst = tmp_path / "out" / "art.png"
    dst.parent.mkdir()
    cmd = [sys.executable, "-m", "fixative", "protect", src, "-o", dst, "--mode", "generator"]
    runs = [subprocess.Popen([*map(str, cmd), "--overwrite"], stderr=subprocess.PIPE, text=True)]
    runs.append(
        subprocess.Popen([*map(str, cmd), "--overwrite"], stderr=subprocess.PIPE, text=True)
    )
    errors = [p.communicate(timeout=300)[1] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], errors
    # Both wrote the same complete file through their own temporary names; the last rename won.
    with Image.open(dst) as im:
        im.load()
        assert im.size == (SIDE, SIDE)
    assert sorted(p.name for p in dst.parent.iterdir()) == ["art.png"]
    # Without --overwrite, the run that comes second refuses, naming the output.
    again = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and f"{dst}: output already exists" in again.stderr
    assert src.read_bytes() == before
