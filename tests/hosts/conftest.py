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
        "markers", "hosts: runs GIMP/Krita/Blender in the hosts roots (tests/hosts/rootfs.sh)"
    )
    config.addinivalue_line("markers", "blender_gui: needs Blender's own binary and a window")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test in this folder needs the hosts, whether or not its author marked it.
    for item in items:
        if HOSTS_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.hosts)
    # PyPI's bpy is Python 3.13 only, so it lives in the trixie root; it has no window for the
    # GUI test. Those combinations are not collected (deselected, not skipped).
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        bpy = params.get("blender_ext") == "bpy"
        gui = item.get_closest_marker("blender_gui") is not None
        (dropped if bpy and (params.get("rootfs") != "trixie" or gui) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=harness.FLAVOURS)
def rootfs(request: pytest.FixtureRequest) -> Path:
    """The built (or reused) root of each flavour, in turn; every host test runs in both.

    Fails (skips with FIXATIVE_SKIP_HOSTS=1) where the machine cannot build or enter it; the
    newest root skips, quoting apt, when the day's sid/experimental cannot resolve its packages
    (a root that was built must pass every test)."""
    flavour = request.param
    try:
        path = harness.ensure_rootfs(flavour=flavour)
    except harness.ArchiveUnresolved as exc:
        pytest.skip(f"the {flavour} root cannot be built today; apt says:\n{exc}")
    except (harness.HostsUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        reason = f"host tests cannot run ({flavour} root): {exc}"
        if os.environ.get("FIXATIVE_SKIP_HOSTS") == "1":
            pytest.skip(f"{reason} (FIXATIVE_SKIP_HOSTS=1)")
        pytest.fail(f"{reason}\nSet FIXATIVE_SKIP_HOSTS=1 to skip them explicitly.", pytrace=False)
    harness.use(flavour)
    harness.RAN[f"{flavour} root"] = harness.host_versions()
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for where, versions in harness.RAN.items():
        shown = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        terminalreporter.write_line(f"hosts ({where}): {shown}")


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
