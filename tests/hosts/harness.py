"""Run GIMP 3.0, Krita 5.2 and Blender 4.3 headless for the ``hosts`` tests.

The hosts run inside a Debian 13 root filesystem built by ``tests/hosts/rootfs.sh`` (outside the
clone, ``$FIXATIVE_HOSTS_ROOT`` or ``/var/cache/fixative-hosts/rootfs``), entered by
``tests/hosts/run_in_rootfs.sh`` as uid 1000 in a private mount + pid namespace. See docs/hosts.md.

API for host tests (``tests/hosts/test_*.py``; ``conftest.py`` puts this folder on ``sys.path``)::

    from harness import run_host, ROOT_SRC, ROOT_RESULTS

    @pytest.mark.hosts
    def test_x(rootfs, host_results):          # fixtures from tests/hosts/conftest.py
        proc = run_host(["gimp-console-3.0", "--version"], timeout=60, results=host_results,
                        env={"QT_QPA_PLATFORM": "offscreen"},
                        files={".config/GIMP/3.0/plug-ins/p/p.py": Path("plugins/gimp/p.py")},
                        home="gimp")
        data = json.loads((host_results / "out.json").read_text())   # judge what the case wrote

``run_host(argv, *, timeout, results, env=None, files=None, home=None, cwd=None)``
    Runs ``argv`` inside the root and returns the ``subprocess.CompletedProcess`` (text stdout and
    stderr captured; never raises on a non-zero exit, 124/137 mean the timeout struck).
    - ``results``: outer folder, mounted writable at ``/results`` (``ROOT_RESULTS``) inside.
    - The clone is mounted read-only at ``/src`` (``ROOT_SRC``); ``HOME`` is ``/home/fixative``, a
      fresh tmpfs each run; ``/tmp`` is a fresh tmpfs.
    - ``env``: extra environment variables (the base is PATH, HOME, USER, LANG=C.UTF-8, TMPDIR).
    - ``files``: ``{destination: content}`` copied in before ``argv`` runs, owned by uid 1000.
      A relative destination is under HOME, an absolute one under ``/tmp/`` or HOME. Content is
      ``bytes``, ``str`` (written as UTF-8 text) or a ``Path`` to a file or folder (copied; a
      ``.py``/``.sh`` file keeps its mode, so make plug-in entry points executable beforehand or
      set ``files`` to a folder you prepared).
    - ``home``: name of a pre-warmed HOME template (``"gimp"``, ``"krita"``, ``"blender"``) to start
      from; start-up is 3-4x faster than with an empty HOME.
    - ``cwd``: working directory inside the root (default HOME).
    Each call appends its command, exit status, stdout and stderr to ``results/host-runs.log`` and
    writes ``results/host-versions.json`` (dpkg versions of the hosts and onnxruntime).

Everything here is plain Python (no pytest) so a case can also be run by hand:
``python3 tests/hosts/harness.py -- blender -b --version``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ROOTFS_SH = HERE / "rootfs.sh"
RUN_SH = HERE / "run_in_rootfs.sh"
ROOT_SRC = "/src"
ROOT_RESULTS = "/results"
ROOT_HOME = "/home/fixative"
VERSION_PACKAGES = ("gimp", "krita", "blender", "python3", "python3-onnxruntime")

FileContent = bytes | str | Path


class HostsUnavailable(RuntimeError):
    """The machine cannot run the host tests (not root, no unshare, build failed...)."""


def root_path() -> Path:
    return Path(os.environ.get("FIXATIVE_HOSTS_ROOT", "/var/cache/fixative-hosts/rootfs"))


def unavailable_reason() -> str | None:
    """Why this machine cannot build or enter the root, or None if it can."""
    if sys.platform != "linux":
        return f"host tests need Linux namespaces; this is {sys.platform}"
    if os.geteuid() != 0:
        return "host tests need root (mmdebstrap, mount and pid namespaces, chroot)"
    for tool in ("unshare", "chroot", "timeout", "flock"):
        if shutil.which(tool) is None:
            return f"host tests need '{tool}', which is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "true"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"cannot create mount+pid namespaces here: {probe.stderr.strip()}"
    return None


def ensure_rootfs(timeout: float = 1800) -> Path:
    """Build the root filesystem if missing or stale (first time ~5 minutes); return its path."""
    reason = unavailable_reason()
    if reason:
        raise HostsUnavailable(reason)
    if subprocess.run([str(ROOTFS_SH), "--check"]).returncode == 0:
        return root_path()
    proc = subprocess.run([str(ROOTFS_SH)], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.splitlines()[-30:])
        msg = f"building the hosts root filesystem failed (exit {proc.returncode}):\n{tail}"
        raise HostsUnavailable(msg)
    return Path(proc.stdout.strip().splitlines()[-1])


def host_versions() -> dict[str, str]:
    """dpkg versions of the hosts in the root (read from its dpkg database, no namespace needed)."""
    admindir = root_path() / "var/lib/dpkg"
    proc = subprocess.run(
        [
            "dpkg-query",
            f"--admindir={admindir}",
            "-W",
            "-f",
            "${Package}\t${Version}\n",
            *VERSION_PACKAGES,
        ],
        capture_output=True,
        text=True,
    )
    versions = {}
    for line in proc.stdout.splitlines():
        name, _, version = line.partition("\t")
        versions[name] = version
    return versions


def _stage(files: Mapping[str, FileContent], stage: Path) -> None:
    for dest, content in files.items():
        if dest.startswith("/tmp/"):
            target = stage / "tmp" / dest[len("/tmp/") :]
        elif dest.startswith(ROOT_HOME + "/"):
            target = stage / "home" / dest[len(ROOT_HOME) + 1 :]
        elif dest.startswith("/"):
            msg = f"run_host files: {dest} must be relative to HOME or under /tmp/ or {ROOT_HOME}/"
            raise ValueError(msg)
        else:
            target = stage / "home" / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            if content.is_dir():
                shutil.copytree(content, target, dirs_exist_ok=True)
            else:
                shutil.copy2(content, target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    for path in stage.rglob("*"):  # the unprivileged user must be able to read the staged copy
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IRGRP | stat.S_IROTH | (0o055 if path.is_dir() else 0))


def run_host(
    argv: Sequence[str],
    *,
    timeout: float,
    results: Path,
    env: Mapping[str, str] | None = None,
    files: Mapping[str, FileContent] | None = None,
    home: str | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside the hosts root; see the module docstring."""
    results = Path(results)
    results.mkdir(parents=True, exist_ok=True)
    cmd = [str(RUN_SH), "--timeout", str(int(timeout)), "--results", str(results)]
    cmd += ["--src", str(REPO)]
    for key, value in (env or {}).items():
        cmd += ["--env", f"{key}={value}"]
    if home:
        cmd += ["--home", home]
    if cwd:
        cmd += ["--cwd", cwd]
    with tempfile.TemporaryDirectory(prefix="fixative-stage-") as tmp:
        if files:
            stage = Path(tmp)
            stage.chmod(0o755)
            _stage(files, stage)
            cmd += ["--stage", str(stage)]
        cmd += ["--", *argv]
        # The outer timeout is a backstop only: run_in_rootfs.sh's own `timeout` strikes first.
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    versions = results / "host-versions.json"
    if not versions.exists():
        versions.write_text(json.dumps(host_versions(), indent=2) + "\n")
    with open(results / "host-runs.log", "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(argv)}\n[exit {proc.returncode}]\n")
        log.write(f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}\n\n")
    return proc


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    ensure_rootfs()
    out = Path(tempfile.mkdtemp(prefix="fixative-results-"))
    done = run_host(args, timeout=300, results=out)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    print(f"[results in {out}]", file=sys.stderr)
    sys.exit(done.returncode)
