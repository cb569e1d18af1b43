"""The fixative command: outputs, exit codes 0/1/2, JSON, jobs, info, plugged subcommands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fixative import cli
from fixative.cli.protect import ProgressLine
from fixative.protection import graphs, view
from fixative.protection.refine import DEFAULT_STEPS
from fixative.protection.settings import MAX_STEPS, MODE_TABLE, MODES, ProtectSettings
from PIL import Image


def img(path: Path, seed: int = 0, size: tuple[int, int] = (40, 30)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def run(*argv: str) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        return int(exc.code or 0)


@pytest.fixture
def images(tmp_path: Path, conv_model: Path) -> Path:
    folder = tmp_path / "art"
    folder.mkdir()
    for i, name in enumerate(["a.png", "b.jpg", "c.webp"]):
        img(folder / name, seed=i)
    return folder


def test_protect_default_suffix(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("protect", images / "a.png") == 0
    assert (images / "a-protected.png").is_file()
    out = capsys.readouterr().out
    assert "a-protected.png" in out and "protected 1 of 1" in out and "PSNR" in out


def test_protect_output_and_out_dir(images: Path, tmp_path: Path) -> None:
    assert run("protect", images / "a.png", "-o", tmp_path / "x.png") == 0
    assert (tmp_path / "x.png").is_file()
    out = tmp_path / "out"
    out.mkdir()
    files = sorted(images.iterdir())
    assert run("protect", *files, "--out-dir", out, "--suffix", "", "-q") == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg", "c.webp"]


def test_some_inputs_fail_exit_1(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (images / "bad.png").write_text("not an image")
    code = run("protect", images / "bad.png", images / "a.png")
    assert code == 1
    assert (images / "a-protected.png").is_file()  # the good one was still processed
    assert not (images / "bad-protected.png").exists()
    err = capsys.readouterr().err
    assert str(images / "bad.png") in err and "not an image file" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["protect"],
        ["protect", "{a}", "{b}", "-o", "x.png"],
        ["protect", "{a}", "--suffix", ""],
        ["protect", "{a}", "--in-place", "--suffix", "-x"],
        ["protect", "{a}", "-o", "x.png", "--suffix", "-x"],
        ["protect", "{a}", "-o", "{a}"],
        ["protect", "{a}", "--in-place", "-o", "x.png"],
        ["protect", "{a}", "--in-place", "--format", "png"],
        ["protect", "{a}", "--out-dir", "{missing}"],
        ["protect", "{a}", "--quality", "0"],
        ["protect", "{a}", "--strength", "extreme"],
        ["protect", "{a}", "--jobs", "0"],
        ["protect", "{a}", "--quiet", "--json"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(images: Path, argv: list[str]) -> None:
    names = {"a": images / "a.png", "b": images / "b.jpg", "missing": images / "nowhere"}
    before = sorted(images.iterdir())
    assert run(*[a.format(**names) for a in argv]) == 2
    assert sorted(images.iterdir()) == before


def test_json_report(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (images / "bad.png").write_bytes(b"")
    code = run("protect", images / "a.png", images / "bad.png", "--json", "--strength", "high")
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["ok"] == 1 and data["failed"] == 1
    good, bad = data["files"]
    assert good["strength"] == "high" and good["epsilon"] == pytest.approx(8 / 255)
    assert good["model_id"] == "test-conv" and good["dst"].endswith("a-protected.png")
    assert good["declarations"] is True and good["psnr"] > 30
    assert "empty file" in bad["error"] and bad["src"].endswith("bad.png")


def test_in_place_overwrite_and_no_declare(images: Path) -> None:
    src = images / "a.png"
    before = src.read_bytes()
    assert run("protect", src, "--in-place", "--no-declare", "-q") == 0
    assert src.read_bytes() != before
    assert "xmp" not in Image.open(src).info
    assert run("protect", src, "-o", images / "b.jpg", "-q") == 1  # exists
    assert run("protect", src, "-o", images / "b.jpg", "--overwrite", "-q") == 0


def test_format_changes_extension(images: Path) -> None:
    assert run("protect", images / "b.jpg", "--format", "png", "-q") == 0
    assert Image.open(images / "b-protected.png").format == "PNG"


def test_jobs_give_the_same_bytes(images: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    files = sorted(images.iterdir())
    assert run("protect", *files, "--out-dir", one, "-q") == 0
    assert run("protect", *files, "--out-dir", two, "-q", "--jobs", "3") == 0
    for f in one.iterdir():
        assert f.read_bytes() == (two / f.name).read_bytes()


def test_model_problems_exit_1(
    images: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FIXATIVE_MODEL", str(images / "missing.onnx"))
    assert run("protect", images / "a.png") == 1
    assert "model file not found" in capsys.readouterr().err
    assert not (images / "a-protected.png").exists()


def test_gpu_without_gpu_provider(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import onnxruntime

    if any(
        p != "CPUExecutionProvider" and "Azure" not in p
        for p in onnxruntime.get_available_providers()
    ):
        pytest.skip("this machine has a GPU execution provider")
    assert run("protect", images / "a.png", "--device", "gpu") == 1
    assert "onnxruntime-gpu" in capsys.readouterr().err


def test_info(conv_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("info") == 0
    text = capsys.readouterr().out
    assert "test-conv" in text and "verified against manifest" in text
    assert "CPUExecutionProvider" in text
    assert run("info", "--json", "--device", "cpu") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"]["sha256_verified"] is True
    assert data["chosen_provider"] == "CPUExecutionProvider"
    assert data["model"]["epsilon"]["medium"] == pytest.approx(4 / 255)


def test_info_with_a_broken_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    assert run("info", "--model", bad) == 1
    assert "ERROR" in capsys.readouterr().out


def test_every_command_is_registered_once(capsys: pytest.CaptureFixture[str]) -> None:
    # One registry (cli.COMMANDS): each module adds its command and says how it runs.
    parser = cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    listed = capsys.readouterr().out
    for command in ("protect", "info", "check", "site-snippets"):
        assert command in listed
    for argv in (["protect", "x.png"], ["info"], ["check", "x.png"], ["site-snippets"]):
        args = parser.parse_args(argv)
        assert args.command == argv[0] and callable(args.run)


def test_progress_line(capsys: pytest.CaptureFixture[str]) -> None:
    bar = ProgressLine(2, enabled=True)
    bar.update(0, 0.5, "a.png: tile 1/2")
    bar.file_done(0)
    bar.update(1, 1.0, "b.png: tile 2/2")
    err = capsys.readouterr().err
    assert "[" + "#" * 7 in err and "a.png: tile 1/2" in err
    assert "#" * 30 in err and "1/2 files" in err


def test_python_dash_m_and_console_script(images: Path) -> None:
    env = {**os.environ}
    proc = subprocess.run(
        [sys.executable, "-m", "fixative", "protect", str(images / "a.png"), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] == 1
    proc = subprocess.run(
        [sys.executable, "-m", "fixative", "protect", "-o", "x", str(images / "a.png"), "y"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_unexpected_failure_of_one_file_does_not_stop_the_others(
    images: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import fixative.jobs.files

    real = fixative.jobs.files.protect_file

    def flaky(src, *args, **kwargs):
        if Path(src).name == "b.jpg":
            raise RuntimeError("simulated bug")
        return real(src, *args, **kwargs)

    monkeypatch.setattr(fixative.jobs.files, "protect_file", flaky)
    files = sorted(images.iterdir())
    assert run("protect", *files, "--jobs", "2") == 1
    assert (images / "a-protected.png").exists() and (images / "c-protected.webp").exists()
    assert "b.jpg: unexpected RuntimeError('simulated bug')" in capsys.readouterr().err


def test_bad_declaration_option_is_a_usage_error(images: Path) -> None:
    assert run("protect", images / "a.png", "--web-statement", "not a url") == 2
    assert not (images / "a-protected.png").exists()


# --- mode, steps, view ---


def test_mode_steps_and_view_in_the_json_report(
    images: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = img(images / "m.png", size=(96, 64))
    assert run("protect", src, "--json", "--steps", "2", "--overwrite") == 0
    (report,) = json.loads(capsys.readouterr().out)["files"]
    assert report["mode"] == "thorough" == ProtectSettings().mode  # the library's default
    assert report["steps"] == 2
    assert (report["view_width"], report["view_height"]) == (96, 64)
    assert run("protect", src, "--json", "--mode", "fast", "--overwrite") == 0
    (report,) = json.loads(capsys.readouterr().out)["files"]
    assert report["mode"] == "fast" and report["steps"] == MODE_TABLE["fast"].steps == 1
    assert run("protect", src, "--json", "--mode", "fast", "--steps", "2", "--overwrite") == 0
    (report,) = json.loads(capsys.readouterr().out)["files"]
    assert report["mode"] == "fast" and report["steps"] == 2
    assert run("protect", src, "--json", "--mode", "generator", "--overwrite") == 0
    (report,) = json.loads(capsys.readouterr().out)["files"]
    assert report["mode"] == "generator" and report["steps"] == 0


def test_view_size_given_in_pixels(images: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = img(images / "big.png", size=(256, 192))
    assert run("protect", src, "--json", "--mode", "fast", "--view", "128") == 0
    (report,) = json.loads(capsys.readouterr().out)["files"]
    v = view.plan(192, 256, 128, 8)  # the test model's size_multiple
    assert (report["view_width"], report["view_height"]) == (v.view_width, v.view_height)
    assert report["view_width"] < 256 and (report["width"], report["height"]) == (256, 192)


@pytest.mark.parametrize("mode", ["generator", "fast", "thorough"])
def test_view_native_on_a_small_image_is_its_auto_view(
    images: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    src = img(images / "s.png", size=(96, 64))
    steps = ["--steps", "2"] if mode == "thorough" else []
    outs = []
    for choice in ("native", "auto"):
        dst = images / f"s-{choice}.png"
        assert (
            run("protect", src, "-o", dst, "--json", "--mode", mode, *steps, "--view", choice) == 0
        )
        (report,) = json.loads(capsys.readouterr().out)["files"]
        assert (report["view_width"], report["view_height"]) == (96, 64)
        outs.append(dst.read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--mode", "slow"], "--mode"),
        (["--steps", "0"], "--steps"),
        (["--steps", "many"], "--steps"),
        (["--steps", str(MAX_STEPS + 1)], "--steps"),
        (["--view", "huge"], "--view"),
        (["--view", "8"], "--view"),
        (["--mode", "generator", "--steps", "3"], "--steps"),
    ],
)
def test_bad_mode_steps_or_view_names_the_option(
    images: Path, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    assert run("protect", images / "a.png", *argv) == 2
    err = capsys.readouterr().err
    assert named in err.splitlines()[-1], err
    assert not (images / "a-protected.png").exists()


def test_progress_shows_the_steps_and_tiles(
    images: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ProgressLine, "LOG_SECONDS", 0.0)  # a log line for every message
    assert run("protect", images / "a.png", "--steps", "2") == 0
    err = capsys.readouterr().err  # not a terminal: plain lines
    assert "a.png: step 1/2, tile 1/1" in err and "a.png: step 2/2, tile 1/1" in err
    assert "\r" not in err


def test_progress_line_keeps_the_step_when_the_name_is_long(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bar = ProgressLine(1, enabled=True)
    bar.update(0, 0.5, "/very/long/folder/" * 10 + "art.png: step 3/8, tile 2/4")
    err = capsys.readouterr().err
    assert "art.png: step 3/8, tile 2/4" in err and len(err.strip("\r").rstrip()) <= bar.width


def test_info_lists_defaults_and_graphs(
    conv_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((graphs.shipped_dir() / "manifest.json").read_text())["graphs"]
    assert run("info") == 0
    text = capsys.readouterr().out
    assert f"{ProtectSettings().mode} (of {', '.join(MODES)}), {DEFAULT_STEPS} steps" in text
    assert "view:         auto" in text
    for role, entry in manifest.items():
        line = next(x for x in text.splitlines() if x.strip().startswith(role + " "))
        assert entry["file"] in line and entry["sha256"][:12] in line and "verified" in line
    assert run("info", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["protect_defaults"]["mode"] == ProtectSettings().mode
    assert data["protect_defaults"]["steps"] == DEFAULT_STEPS
    assert data["protect_defaults"]["view"] == "auto"
    assert {g["role"] for g in data["graphs"]} == set(graphs.INTERFACES) == set(manifest)
    assert all(g["present"] and g["sha256_verified"] for g in data["graphs"])


@pytest.fixture
def broken_graphs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A models folder whose manifest lists every graph: one damaged, one missing."""
    import hashlib

    folder = tmp_path / "shipped"
    folder.mkdir()
    entries = {}
    for role in graphs.INTERFACES:
        data = role.encode()
        entries[role] = {"file": f"{role}.onnx", "sha256": hashlib.sha256(data).hexdigest()}
        (folder / f"{role}.onnx").write_bytes(data)
    (folder / "encoder.onnx").write_bytes(b"tampered")
    (folder / "decoder.onnx").unlink()
    manifest = {"default": "x.onnx", "models": {}, "graphs": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(graphs, "shipped_dir", lambda: folder)
    graphs.clear_cache()
    yield folder
    graphs.clear_cache()


def test_info_reports_a_damaged_or_missing_graph(
    conv_model: Path, broken_graphs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("info", "--json") == 1
    rows = {g["role"]: g for g in json.loads(capsys.readouterr().out)["graphs"]}
    assert rows["encoder"]["present"] and not rows["encoder"]["sha256_verified"]
    assert "damaged or was modified" in rows["encoder"]["error"]
    assert not rows["decoder"]["present"] and "decoder.onnx" in rows["decoder"]["error"]
    assert rows["texture_mask"]["sha256_verified"]
    assert run("info") == 1
    assert "ERROR" in capsys.readouterr().out


def test_stepped_modes_with_a_damaged_graph_fail_once_early(
    images: Path, broken_graphs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("protect", images / "a.png", images / "b.jpg") == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and str(broken_graphs / "encoder.onnx") in err
    assert not (images / "a-protected.png").exists()
    assert run("protect", images / "a.png", "--mode", "fast", "-q") == 1  # fast needs them too
    assert "damaged or was modified" in capsys.readouterr().err
    assert run("protect", images / "a.png", "--mode", "generator", "-q") == 0  # no graph
