"""Fixtures for the tests that run GIMP, Krita and Blender for real (marker ``hosts``).

Where the machine cannot run them (not root, no namespaces, build failed) they FAIL with the
reason; they skip only if ``FIXATIVE_SKIP_HOSTS=1`` was set explicitly. See docs/hosts.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

HOSTS_DIR = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "hosts: runs GIMP/Krita/Blender in the Debian 13 root (tests/hosts/rootfs.sh)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test in this folder needs the hosts, whether or not its author marked it.
    for item in items:
        if HOSTS_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.hosts)


@pytest.fixture(scope="session")
def rootfs() -> Path:
    """The built (or reused) root; fails (skips with FIXATIVE_SKIP_HOSTS=1) if impossible."""
    try:
        return harness.ensure_rootfs()
    except (harness.HostsUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        reason = f"host tests cannot run: {exc}"
    if os.environ.get("FIXATIVE_SKIP_HOSTS") == "1":
        pytest.skip(f"{reason} (FIXATIVE_SKIP_HOSTS=1)")
    pytest.fail(f"{reason}\nSet FIXATIVE_SKIP_HOSTS=1 to skip them explicitly.", pytrace=False)


@pytest.fixture
def host_results(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A per-test results folder (mounted at /results); under $FIXATIVE_HOST_RESULTS if set."""
    base = os.environ.get("FIXATIVE_HOST_RESULTS")
    if base:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        path = Path(base) / name
        if path.exists():
            shutil.rmtree(path)
    else:
        path = tmp_path / "results"
    path.mkdir(parents=True)
    return path
