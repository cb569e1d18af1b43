"""Fixtures for the declaration tests: an isolated config folder for the C2PA identity, a test
image, and an independent XMP reader (exiftool)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own config folder: the local CA is never the developer's real one."""
    home = tmp_path / "config-home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def image() -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), "RGB")


@pytest.fixture
def exiftool() -> Callable[[Path], dict]:
    """Read a file's XMP with exiftool (an independent implementation), as group:tag -> value.

    Not installed by the tests: scripts/run-tests.sh installs libimage-exiftool-perl when root.
    """
    exe = shutil.which("exiftool")
    if exe is None:
        pytest.fail(
            "exiftool is needed as the independent XMP reader: "
            "apt-get install -y libimage-exiftool-perl"
        )

    def read(path: Path) -> dict:
        out = subprocess.run(
            [exe, "-j", "-a", "-G1", "-s", "-XMP:all", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out)[0]

    return read
