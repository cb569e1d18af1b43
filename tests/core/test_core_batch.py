"""Folders, resumable batches (--skip-existing) and the temporary files of atomic writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixative import atomic, cli
from fixative.jobs import batch
from PIL import Image

GEN = ("--mode", "generator")  # the generator alone: these tests are about files


def img(path: Path, seed: int = 0, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode).save(path)
    return path


def run(*argv: object) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        return int(exc.code or 0)


def files(folder: Path) -> list[str]:
    """Every file under `folder`, hidden ones included, as sorted relative paths."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        return np.asarray(im)


@pytest.fixture
def art(tmp_path: Path, conv_model: Path) -> Path:
    folder = tmp_path / "art"
    img(folder / "a.png", 0)
    img(folder / "b.jpg", 1)
    img(folder / "sub" / "c.webp", 2)
    img(folder / "sub" / "deeper" / "d.tif", 3)
    (folder / "notes.txt").write_text("not an image")
    (folder / "sub" / "anim.gif").write_bytes(b"GIF89a")
    img(folder / ".hidden.png", 4)  # hidden names are not inputs
    (folder / ".git").mkdir()
    img(folder / ".git" / "x.png", 5)
    return folder


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# --- folders ---


def test_folder_protects_its_images_and_lists_the_others(
    art: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = files(art)
    assert run("protect", art, "--out-dir", out, *GEN) == 0
    assert files(out) == ["a-protected.png", "b-protected.jpg"]
    assert files(art) == before  # inputs untouched, nothing written next to them
    text = capsys.readouterr().out
    assert "protected 2 of 2 file(s)" in text and str(art / "notes.txt") in text
    assert "anim.gif" not in text  # in a sub-folder, not scanned without --recursive


def test_recursive_keeps_the_layout(
    art: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("protect", art, "--out-dir", out, "--recursive", *GEN, "--json") == 0
    assert files(out) == [
        "a-protected.png",
        "b-protected.jpg",
        "sub/c-protected.webp",
        "sub/deeper/d-protected.tif",
    ]
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] == report["protected"] == 4 and report["failed"] == 0
    assert sorted(report["unsupported"]) == [str(art / "notes.txt"), str(art / "sub/anim.gif")]
    rows = {Path(r["src"]).name: r for r in report["files"]}
    assert sorted(rows) == ["a.png", "b.jpg", "c.webp", "d.tif"]
    assert all(r["status"] == "protected" and r["psnr"] > 20 for r in rows.values())
    assert rows["d.tif"]["dst"] == str(out / "sub/deeper/d-protected.tif")
    for name in files(out):
        assert pixels(out / name).shape[:2] == (30, 40)


def test_inputs_given_twice_are_protected_once(
    art: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = art.parent / "link.png"
    link.symlink_to(art / "a.png")
    argv = [art, art / "a.png", art, art / "sub", link]
    assert run("protect", *argv, "--out-dir", out, "-r", *GEN, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    srcs = [Path(r["src"]).name for r in report["files"]]
    assert sorted(srcs) == ["a.png", "b.jpg", "c.webp", "d.tif"]
    assert "sub/c-protected.webp" in files(out)  # the first way it was reached decides


@pytest.mark.parametrize("recursive", [False, True])
def test_output_folder_inside_the_input_folder(art: Path, recursive: bool) -> None:
    inside = art / "protected"
    inside.mkdir()
    flags = ["-r"] if recursive else []
    before = files(art)
    assert run("protect", art, "--out-dir", inside, *flags, *GEN, "-q") == 0
    first = files(inside)
    assert run("protect", art, "--out-dir", inside, *flags, *GEN, "-q", "--skip-existing") == 0
    assert files(inside) == first  # the outputs were not taken as inputs
    assert not any("protected-protected" in name for name in files(art))
    assert [n for n in files(art) if not n.startswith("protected/")] == before


def test_outputs_next_to_the_inputs_are_not_protected_again(
    art: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("protect", art, *GEN, "-q") == 0
    assert (art / "a-protected.png").is_file() and (art / "b-protected.jpg").is_file()
    (art / "a.png").unlink()  # even without its input, an output is not an input
    assert run("protect", art, *GEN, "--json", "--skip-existing") == 0
    report = json.loads(capsys.readouterr().out)
    assert [(Path(r["src"]).name, r["status"]) for r in report["files"]] == [("b.jpg", "skipped")]
    assert not any("protected-protected" in name for name in files(art))


def test_a_file_that_is_another_inputs_output_is_a_usage_error(art: Path) -> None:
    img(art / "a-protected.png", 9)
    before = files(art)
    assert run("protect", art / "a.png", art / "a-protected.png", *GEN) == 2
    assert files(art) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["{art}", "-o", "{tmp}/x.png"],  # -o names one file
        ["{art}", "--suffix", ""],  # outputs would replace the inputs
        ["{art}/a.png", "--in-place", "--skip-existing"],
        ["{art}/sub/c.webp", "{art}/c.webp", "--out-dir", "{tmp}"],  # two inputs, one output
    ],
)
def test_folder_usage_errors(art: Path, tmp_path: Path, argv: list[str]) -> None:
    img(art / "c.webp", 7)
    before = files(tmp_path)
    args = [a.format(art=art, tmp=tmp_path) for a in argv]
    assert run("protect", *args, *GEN) == 2
    assert files(tmp_path) == before


def test_empty_folder_and_only_unsupported_files(
    tmp_path: Path, out: Path, conv_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("#")
    assert run("protect", empty, "--out-dir", out, *GEN) == 0
    text = capsys.readouterr().out
    assert "protected 0 of 0" in text and "readme.md" in text
    assert files(out) == []


@pytest.mark.parametrize("recursive", [False, True])
def test_unreadable_folder_is_an_error_naming_it(
    art: Path,
    out: Path,
    recursive: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    locked = art / "sub" / "deeper" if recursive else art / "sub"
    real = os.scandir

    def scandir(path: object = ".") -> object:  # as if chmod 0 (which does not bind root)
        if Path(os.fspath(path)) == locked:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[arg-type]
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    inputs = [art, locked] if not recursive else [art]
    flags = ["-r"] if recursive else []
    assert run("protect", *inputs, "--out-dir", out, *flags, *GEN, "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["unreadable_folders"] == [
        {"folder": str(locked), "error": f"{locked}: cannot list the folder (permission denied)"}
    ]
    assert report["failed"] == 1 and report["protected"] == (3 if recursive else 2)


def test_non_utf8_file_names(tmp_path: Path, out: Path, conv_model: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9-\xff.png")
    try:
        img(folder / name)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses names that are not UTF-8")
    proc = subprocess.run(
        [sys.executable, "-m", "fixative", "protect", str(folder), "--out-dir", str(out), *GEN],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    assert b"caf\\xe9" in proc.stdout  # named, escaped
    (made,) = out.iterdir()
    assert os.fsencode(made.name) == b"caf\xe9-\xff-protected.png"
    assert pixels(made).shape == (30, 40, 3)


# --- --skip-existing ---


def test_skip_existing_skips_complete_outputs(
    art: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("protect", art, "--out-dir", out, *GEN, "-q") == 0
    (out / "b-protected.jpg").unlink()
    stamp = (out / "a-protected.png").stat().st_mtime_ns
    assert run("protect", art, "--out-dir", out, *GEN, "--skip-existing", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["skipped"] == 1 and report["protected"] == 1 and report["ok"] == 2
    status = {Path(r["src"]).name: r["status"] for r in report["files"]}
    assert status == {"a.png": "skipped", "b.jpg": "protected"}
    assert (out / "a-protected.png").stat().st_mtime_ns == stamp
    assert run("protect", art, "--out-dir", out, *GEN) == 1  # without it: "already exists"


def test_skip_existing_refuses_an_incomplete_output_unless_overwrite(
    art: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("protect", art, "--out-dir", out, *GEN, "-q") == 0
    good = pixels(out / "a-protected.png")
    data = (out / "a-protected.png").read_bytes()
    (out / "a-protected.png").write_bytes(data[: len(data) // 2])  # cut short by another tool
    img(out / "b-protected.jpg", 8, size=(20, 20))  # not this input's output
    capsys.readouterr()
    assert run("protect", art, "--out-dir", out, *GEN, "--skip-existing") == 1
    err = capsys.readouterr().err
    assert f"{out / 'a-protected.png'}: the output exists but is not complete" in err
    assert "it is 20x20 but" in err
    assert len((out / "a-protected.png").read_bytes()) == len(data) // 2  # left alone
    assert run("protect", art, "--out-dir", out, *GEN, "--skip-existing", "--overwrite") == 0
    assert np.array_equal(pixels(out / "a-protected.png"), good)
    assert pixels(out / "b-protected.jpg").shape[:2] == (30, 40)


@pytest.mark.parametrize("skip_existing", [False, True])
def test_an_output_written_meanwhile_by_another_run(
    art: Path,
    out: Path,
    skip_existing: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import fixative.jobs.files

    real = fixative.jobs.files.protect_file

    def racing(src: Path, dst: Path, *args: Any, **kwargs: Any) -> Any:  # the other run wins
        real(src, dst, *args, **kwargs)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(fixative.jobs.files, "protect_file", racing)
    flags = ["--skip-existing"] if skip_existing else []
    assert run("protect", art / "a.png", "--out-dir", out, *GEN, "--json", *flags) == (
        0 if skip_existing else 1
    )
    (row,) = json.loads(capsys.readouterr().out)["files"]
    if skip_existing:
        assert row["status"] == "skipped" and row["reason"] == "written meanwhile by another run"
    else:
        assert row["status"] == "failed" and "already exists" in row["error"]
    assert files(out) == ["a-protected.png"]


# --- temporary files ---


def _temp(
    folder: Path, pid: int, host: str = atomic.HOST, age: float = 0.0, tag: str = "k3x_9q"
) -> Path:
    path = folder / f".a-protected.png.{atomic.TAG}-{pid}-{host}-{tag}{atomic.SUFFIX}"
    path.write_bytes(b"\x89PNG partial")
    if age:
        t = time.time() - age
        os.utime(path, (t, t))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporary_names_are_hidden_and_recognised(tmp_path: Path) -> None:
    fd, name = atomic.create(tmp_path, "art-protected.png")
    os.close(fd)
    path = Path(name)
    assert path.name.startswith(".art-protected.png.") and path.name.endswith(".part")
    assert atomic.is_temporary(path.name) and str(os.getpid()) in path.name
    assert atomic.remove_stale(tmp_path) == []  # ours, being written
    atomic.release(name)
    assert atomic.remove_stale(tmp_path) == [path]  # ours no longer: a previous process's
    long_name = "x" * 250 + ".png"
    fd, name = atomic.create(tmp_path, long_name)  # within NAME_MAX
    os.close(fd)
    atomic.release(name)
    assert not atomic.is_temporary(".a.png.12345.part") and not atomic.is_temporary("a.png")


def test_only_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    dead = _temp(tmp_path, _dead_pid())
    live_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = _temp(tmp_path, live_proc.pid)
        elsewhere = "0badc0de" if atomic.HOST != "0badc0de" else "0badc0df"
        other_host = _temp(tmp_path, _dead_pid(), host=elsewhere)
        old = _temp(tmp_path, live_proc.pid, age=atomic.STALE_AFTER_S + 60, tag="old")
        unrelated = tmp_path / ".a-protected.png.tmp"
        unrelated.write_bytes(b"someone else's")
        assert sorted(atomic.remove_stale(tmp_path)) == sorted([dead, old])
        assert live.exists() and other_host.exists() and unrelated.exists()
    finally:
        live_proc.kill()
        live_proc.wait()
    assert atomic.remove_stale(tmp_path) == [live]  # its writer is gone now


def test_a_run_removes_what_a_killed_run_left(
    art: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = _temp(out, _dead_pid())
    assert run("protect", art, "--out-dir", out, *GEN) == 0
    assert not stale.exists() and files(out) == ["a-protected.png", "b-protected.jpg"]
    assert "removed 1 temporary file(s)" in capsys.readouterr().err


# --- a real run, killed with SIGKILL, then resumed ---

# The CLI with every write cut in two by a pause, so that the kill can land inside a write.
SLOW_WRITES = """
import io, os, sys, time
import fixative.image.writing as fw
real = fw.encode
def encode(buf, *args, **kwargs):
    whole = io.BytesIO()
    real(whole, *args, **kwargs)
    data = whole.getvalue()
    buf.write(data[: len(data) // 2])
    buf.flush()
    time.sleep(float(os.environ["FIXATIVE_TEST_PAUSE"]))
    buf.write(data[len(data) // 2 :])
fw.encode = encode
from fixative.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _cli(*argv: object) -> list[str]:
    return [sys.executable, "-m", "fixative", *map(str, argv)]


def _portfolio(folder: Path, n: int) -> list[str]:
    names = []
    for i in range(n):
        ext = [".png", ".jpg", ".webp", ".tif"][i % 4]
        img(folder / f"sub{i % 2}" / f"img{i}{ext}", seed=i, size=(96, 64 + 8 * i))
        names.append(f"sub{i % 2}/img{i}-protected{ext}")
    return sorted(names)


def _visible(folder: Path) -> list[str]:
    return [n for n in files(folder) if not any(p.startswith(".") for p in Path(n).parts)]


def _kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 90.0
) -> None:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=30)


def _check_resumed(src: Path, out: Path, reference: Path, names: list[str]) -> None:
    for name in _visible(out):  # whatever the kill left visible is complete
        pixels(out / name)
    args = ("protect", src, "--out-dir", out, "-r", *GEN, "--skip-existing", "--json")
    proc = subprocess.run(_cli(*args), capture_output=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    assert files(out) == names  # every output, and no temporary file left
    for name in names:
        assert np.array_equal(pixels(out / name), pixels(reference / name)), name


@pytest.fixture
def portfolio(tmp_path: Path, conv_model: Path) -> tuple[Path, Path, list[str]]:
    src = tmp_path / "portfolio"
    names = _portfolio(src, 8)
    reference = tmp_path / "reference"
    reference.mkdir()
    args = ("protect", src, "--out-dir", reference, "-r", *GEN, "-q")
    subprocess.run(_cli(*args), check=True, timeout=180)
    assert files(reference) == names
    return src, reference, names


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("outputs_before_kill", [0, 3])
def test_killed_inside_a_write_then_resumed(
    portfolio: tuple[Path, Path, list[str]], out: Path, outputs_before_kill: int
) -> None:
    src, reference, names = portfolio
    env = {**os.environ, "FIXATIVE_TEST_PAUSE": "0.3"}
    args = ("protect", src, "--out-dir", out, "-r", *GEN, "-q")
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITES, *map(str, args)], env=env)

    def ready() -> bool:
        everything = files(out)
        temporary = [n for n in everything if atomic.is_temporary(Path(n).name)]
        return len(_visible(out)) >= outputs_before_kill and bool(temporary)

    _kill_when(proc, ready)
    assert proc.returncode == -signal.SIGKILL
    left = [n for n in files(out) if atomic.is_temporary(Path(n).name)]
    assert left, "the kill was meant to land inside a write"
    assert len(_visible(out)) < len(names)
    _check_resumed(src, out, reference, names)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_after_the_first_output_then_resumed(
    portfolio: tuple[Path, Path, list[str]], out: Path
) -> None:
    src, reference, names = portfolio
    args = ("protect", src, "--out-dir", out, "-r", *GEN, "-q")
    proc = subprocess.Popen(_cli(*args))
    _kill_when(proc, lambda: bool(_visible(out)))
    _check_resumed(src, out, reference, names)


def test_plan_is_usable_without_the_cli(art: Path, out: Path) -> None:
    plan = batch.plan([str(art)], out_dir=str(out), recursive=True)
    assert [j.dst.relative_to(out).as_posix() for j in plan.jobs] == [
        "a-protected.png",
        "b-protected.jpg",
        "sub/c-protected.webp",
        "sub/deeper/d-protected.tif",
    ]
    assert [j.make_folder for j in plan.jobs] == [False, False, True, True]
