"""The harness itself: isolation, staging, timeouts, and that each host starts in the root."""

from __future__ import annotations

import json
import time
from pathlib import Path

import harness
from harness import ROOT_HOME, ROOT_RESULTS, run_host

PROBE = r"""
import json, os, pathlib
src_writable = os.access("/src", os.W_OK)
try:
    pathlib.Path("/src/x").write_text("x")
    wrote_src = True
except OSError:
    wrote_src = False
out = {
    "uid": os.getuid(), "home": os.environ["HOME"], "pid1": open("/proc/1/cmdline").read(),
    "wrote_src": wrote_src, "staged": pathlib.Path("staged/a.txt").read_text(),
    "staged_tmp": pathlib.Path("/tmp/b.bin").read_bytes().hex(), "extra": os.environ.get("EXTRA"),
    "has_src": pathlib.Path("/src/tests/hosts/harness.py").exists(),
}
pathlib.Path("/results/probe.json").write_text(json.dumps(out))
"""


def test_isolation_staging_and_versions(rootfs: Path, host_results: Path) -> None:
    proc = run_host(
        ["python3", "probe.py"],
        timeout=60,
        results=host_results,
        env={"EXTRA": "yes"},
        files={"probe.py": PROBE, "staged/a.txt": "hello", "/tmp/b.bin": b"\x00\xff"},
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads((host_results / "probe.json").read_text())
    assert out["uid"] == 1000
    assert out["home"] == ROOT_HOME
    assert "run_in_rootfs.sh" in out["pid1"]  # the wrapper shell, not the command, is PID 1
    assert out["wrote_src"] is False
    assert out["has_src"] is True
    assert out["staged"] == "hello"
    assert out["staged_tmp"] == "00ff"
    assert out["extra"] == "yes"
    versions = json.loads((host_results / "host-versions.json").read_text())
    for host, prefix in harness.EXPECTED[harness.flavour()].items():
        assert versions[host].startswith(prefix), (host, versions)
    assert "python3 probe.py" in (host_results / "host-runs.log").read_text()


def test_timeout_kills_the_whole_namespace(rootfs: Path, host_results: Path) -> None:
    start = time.monotonic()
    proc = run_host(
        ["sh", "-c", f"(sleep 100; touch {ROOT_RESULTS}/late) & sleep 100"],
        timeout=3,
        results=host_results,
    )
    assert proc.returncode in (124, 137)
    assert time.monotonic() - start < 30
    time.sleep(1)
    assert not (host_results / "late").exists()


def test_each_host_starts(rootfs: Path, host_results: Path) -> None:
    expected = harness.EXPECTED[harness.flavour()]
    blender = run_host(["blender", "-b", "--version"], timeout=120, results=host_results)
    assert blender.returncode == 0, blender.stderr
    assert f"Blender {expected['blender']}" in blender.stdout
    gimp = run_host([harness.gimp_console(), "--version"], timeout=120, results=host_results)
    assert gimp.returncode == 0, gimp.stderr
    assert expected["gimp"] in gimp.stdout
    # kritarunner always exits 0: judge by the file the script writes.
    krita = run_host(
        ["kritarunner", "-s", "probe", "-f", "main"],
        timeout=120,
        results=host_results,
        env={"QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ROOT_HOME},
        files={
            "probe.py": "def main(*args):\n"
            "    from krita import Krita\n"
            "    open('/results/krita.txt', 'w').write(Krita.instance().version())\n"
        },
        home="krita",
    )
    krita_version = expected["krita"].split(":")[-1]  # the dpkg epoch is not Krita's
    assert (host_results / "krita.txt").read_text().startswith(krita_version), krita.stderr
