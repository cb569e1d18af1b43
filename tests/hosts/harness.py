"""Run GIMP, Krita and Blender headless for the ``hosts`` tests, in each flavour of root.

The hosts run inside a root filesystem built by ``tests/hosts/rootfs.sh`` (outside the clone),
entered by ``tests/hosts/run_in_rootfs.sh`` as uid 1000 in a private mount + pid namespace. Two
flavours (``FLAVOURS``): ``trixie`` (Debian 13: GIMP 3.0, Krita 5.2, Blender 4.3;
``$FIXATIVE_HOSTS_ROOT`` or ``/var/cache/fixative-hosts/rootfs``) and ``newest`` (sid +
experimental: GIMP 3.2, Krita 6, Blender 5.x; ``$FIXATIVE_HOSTS_ROOT_NEWEST`` or
``/var/cache/fixative-hosts/rootfs-newest``). ``use(flavour)`` picks the root that ``run_host``
enters (the ``rootfs`` fixture does, once per flavour). See docs/hosts.md.

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
VERSION_PACKAGES = (
    "gimp",
    "krita",
    "blender",
    "python3",
    "python3-onnxruntime",
    "python3-pyqt5",
    "python3-pyqt6",
)
FLAVOURS = ("trixie", "newest")
# The host versions each flavour's recipe gives (dpkg version prefixes), checked by the tests.
EXPECTED = {
    "trixie": {"gimp": "3.0", "krita": "1:5.2", "blender": "4.3"},
    "newest": {"gimp": "3.2", "krita": "1:6.", "blender": "5."},
}
# apt's words when a day's sid/experimental cannot be resolved (the newest root then skips).
APT_UNRESOLVED = (
    "Unable to satisfy dependencies",
    "unmet dependencies",
    "has no installation candidate",
    "Unable to locate package",
    "Unable to correct problems",
    "held broken packages",
)
_current = {"flavour": "trixie"}
RAN: dict[str, dict[str, str]] = {}  # what each run used (root or target -> versions), printed

FileContent = bytes | str | Path


class HostsUnavailable(RuntimeError):
    """The machine cannot run the host tests (not root, no unshare, build failed...)."""


class ArchiveUnresolved(HostsUnavailable):
    """The moving archive (sid/experimental) could not resolve the root's packages today."""


def use(flavour: str) -> None:
    """Make `flavour` the root that `run_host`, `host_versions` and friends use."""
    if flavour not in FLAVOURS:
        msg = f"unknown hosts root flavour {flavour!r} (one of {', '.join(FLAVOURS)})"
        raise ValueError(msg)
    _current["flavour"] = flavour


def flavour() -> str:
    return _current["flavour"]


def root_path(flavour: str | None = None) -> Path:
    if (flavour or _current["flavour"]) == "newest":
        default = "/var/cache/fixative-hosts/rootfs-newest"
        return Path(os.environ.get("FIXATIVE_HOSTS_ROOT_NEWEST", default))
    return Path(os.environ.get("FIXATIVE_HOSTS_ROOT", "/var/cache/fixative-hosts/rootfs"))


def _env(flavour: str | None = None) -> dict[str, str]:
    """The environment for rootfs.sh and run_in_rootfs.sh: the flavour's root, by path."""
    return {
        **os.environ,
        "FIXATIVE_HOSTS_ROOT": str(root_path(flavour)),
        "FIXATIVE_HOSTS_ROOT_NEWEST": str(root_path("newest")),
    }


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


def ensure_rootfs(timeout: float = 3600, flavour: str | None = None) -> Path:
    """Build the flavour's root if missing or stale (first time 5-15 minutes); return its path.

    ArchiveUnresolved (with apt's own lines) when a moving archive could not resolve the newest
    root's packages; HostsUnavailable for every other failure."""
    reason = unavailable_reason()
    if reason:
        raise HostsUnavailable(reason)
    flavour = flavour or _current["flavour"]
    cmd = [str(ROOTFS_SH), "--flavour", flavour]
    if subprocess.run([*cmd, "--check"], env=_env(flavour)).returncode == 0:
        return root_path(flavour)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(flavour))
    if proc.returncode != 0:
        lines = proc.stderr.splitlines()
        apt = [line for line in lines if any(p in line for p in APT_UNRESOLVED)]
        if flavour == "newest" and apt:
            raise ArchiveUnresolved("\n".join(apt[:20]))
        tail = "\n".join(lines[-30:])
        msg = (
            f"building the {flavour} hosts root filesystem failed (exit {proc.returncode}):\n{tail}"
        )
        raise HostsUnavailable(msg)
    return Path(proc.stdout.strip().splitlines()[-1])


def gimp_console() -> str:
    """GIMP's console binary in the current root: gimp-console-3.0 in GIMP 3.0; GIMP 3.2 has
    gimp-console-3.2 (and -3 and a plain name)."""
    names = ("gimp-console-3.0", "gimp-console-3.2", "gimp-console-3", "gimp-console")
    return next((n for n in names if (root_path() / "usr/bin" / n).exists()), "gimp-console")


def gimp_gui() -> str:
    """GIMP's binary with its user interface (gimp-3.0, gimp-3.2, gimp)."""
    names = ("gimp-3.0", "gimp-3.2", "gimp-3", "gimp")
    return next((n for n in names if (root_path() / "usr/bin" / n).exists()), "gimp")


def gimp_profile() -> str:
    """GIMP's profile folder under HOME for the current root's GIMP (".config/GIMP/3.0")."""
    version = host_versions().get("gimp", "3.0")
    major_minor = ".".join(version.split(":")[-1].split(".")[:2])
    return f".config/GIMP/{major_minor}"


def host_versions() -> dict[str, str]:
    """dpkg versions of the hosts in the root (read from its dpkg database, no namespace needed)."""
    admindir = root_path() / "var/lib/dpkg"  # the current flavour's
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
        if version:  # listed but not installed in this flavour (PyQt5 or PyQt6)
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
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60, env=_env())
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
