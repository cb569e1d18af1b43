"""Temporary files for atomic writes: hidden, recognisable, and removable once their writer died.

Every output is written to a temporary file in the target folder and renamed into place, so a
run killed at any moment (even by SIGKILL) leaves no partial output. What it may leave is the
temporary file itself, named

    .<output name>.fixative-<pid>-<host>-<random>.part

(a leading dot hides it from file browsers and from folder scans). `remove_stale(folder)` deletes
the ones whose writer is gone: a process of this machine that is no longer alive, a file this
process no longer writes (its PID was reused), or any such file older than a day. A concurrent
run's live temporary files are never touched.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import FixativeError, ImageWriteError, OutputExistsError

TAG = "fixative"
SUFFIX = ".part"
STALE_AFTER_S = 24 * 3600.0  # no live temporary file is this old (they exist while encoding)
_NAME_CHARS = 48  # of the output's name kept in the temporary name (NAME_MAX is 255 bytes)
_PATTERN = re.compile(
    r"^\..*\." + TAG + r"-(?P<pid>[0-9]+)-(?P<host>[0-9a-f]{8})-[A-Za-z0-9_]+" + re.escape(SUFFIX)
)

_LIVE: set[str] = set()  # temporary files this process is writing now
_LIVE_LOCK = threading.Lock()


def _host_tag() -> str:
    """8 hex digits standing for this machine (a shared folder may see several machines)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]


HOST = _host_tag()


def create(folder: str | os.PathLike[str], name: str) -> tuple[int, str]:
    """A new hidden temporary file in `folder` for the output `name`: (descriptor, path).

    The caller writes it, renames it into place, and calls `release(path)` in any case.
    """
    prefix = f".{name[:_NAME_CHARS]}.{TAG}-{os.getpid()}-{HOST}-"
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=SUFFIX, dir=folder)
    with _LIVE_LOCK:
        _LIVE.add(os.path.abspath(path))
    return fd, path


def release(path: str | os.PathLike[str]) -> None:
    """This process no longer writes `path` (it was renamed into place or removed)."""
    with _LIVE_LOCK:
        _LIVE.discard(os.path.abspath(path))


def is_temporary(name: str) -> bool:
    """Whether a file name is one of Fixative's temporary files."""
    return _PATTERN.match(name) is not None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this machine is running; True when that cannot be told."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    with contextlib.suppress(OSError, IndexError):  # a zombie (killed, not yet reaped) is dead
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] not in "ZX"
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() != 87  # ERROR_INVALID_PARAMETER: no such process
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _stale(path: Path, match: re.Match[str], now: float) -> bool:
    try:
        age = now - path.lstat().st_mtime
    except OSError:
        return False
    if age > STALE_AFTER_S:
        return True
    if match["host"] != HOST:
        return False  # another machine's (a shared folder): its PIDs mean nothing here
    pid = int(match["pid"])
    if pid == os.getpid():
        with _LIVE_LOCK:
            return os.path.abspath(path) not in _LIVE  # a previous process with our PID
    return not pid_alive(pid)


def remove_stale(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files in `folder` left by writers that are gone; the removed paths.

    Errors (a folder that cannot be listed, a file already gone) are ignored: this is tidying.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PATTERN.match(entry.name)
        if match is None:
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and _stale(path, match, now):
                path.unlink()
                removed.append(path)
    return removed


# --- the atomic write itself ---


def check_target(dst: Path, overwrite: bool) -> None:
    """Refuse early: `dst` exists and may not be replaced, or its folder does not exist."""
    if not overwrite and dst.exists():
        msg = f"{dst}: output already exists"
        raise OutputExistsError(msg)
    folder = dst.parent if str(dst.parent) else Path(".")
    if not folder.is_dir():
        msg = f"{dst}: cannot write the output (folder {folder} does not exist)"
        raise ImageWriteError(msg)


def write(
    dst: str | os.PathLike[str],
    fill: Callable[[BinaryIO], None],
    *,
    overwrite: bool = False,
    finish: Callable[[str], None] | None = None,
) -> None:
    """Write `dst` atomically: `fill(fh)` writes a hidden temporary file in its folder, which is
    synced, given `dst`'s mode, passed to `finish(path)` (e.g. to sign it) and renamed into
    place; without `overwrite` an existing `dst` is never replaced, even one that appears
    meanwhile. On any error the temporary file is removed and `dst` is untouched."""
    dst = Path(dst)
    check_target(dst, overwrite)
    folder = dst.parent if str(dst.parent) else Path(".")
    tmp: str | None = None
    try:
        fd, tmp = create(folder, dst.name)  # hidden; removed by the next run if killed
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _final_mode(dst))
        if finish is not None:
            finish(tmp)
        _commit(Path(tmp), dst, overwrite)
        release(tmp)
        tmp = None
    except FixativeError:
        raise
    except OSError as exc:
        raise _write_error(dst, exc) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            release(tmp)


def _write_error(dst: Path, exc: OSError) -> ImageWriteError:
    if exc.errno == errno.ENOSPC:
        reason = "disk full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = "permission denied" if exc.errno != errno.EROFS else "read-only file system"
    else:
        reason = exc.strerror or str(exc)
    return ImageWriteError(f"{dst}: cannot write the output ({reason}); nothing was written")


_UMASK: list[int] = []
_UMASK_LOCK = threading.Lock()


def _final_mode(dst: Path) -> int:
    """An overwritten file keeps its mode; a new one gets what open() would give it."""
    try:
        return os.stat(dst).st_mode & 0o7777
    except OSError:
        pass
    with _UMASK_LOCK:  # reading the umask means setting it: do it once, under a lock
        if not _UMASK:
            umask = os.umask(0o022)
            os.umask(umask)
            _UMASK.append(umask)
    return 0o666 & ~_UMASK[0]


def _commit(tmp: Path, dst: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, dst)
        return
    # link() fails if dst appeared meanwhile: no-clobber without a check-then-rename race.
    try:
        os.link(tmp, dst)
    except FileExistsError:
        msg = f"{dst}: output already exists"
        raise OutputExistsError(msg) from None
    except OSError:  # file systems without hard links
        if dst.exists():
            msg = f"{dst}: output already exists"
            raise OutputExistsError(msg) from None
        os.replace(tmp, dst)
        return
    os.unlink(tmp)
