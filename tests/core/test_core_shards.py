"""`fixative batch` on the local engine: shards, manifests, resuming, failures, the plan.

The shipped models in fast mode on small images: the real path, kept quick.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from batch_helpers import corrupt, make_images, outputs
from fixative import cli
from fixative.jobs import engines, shards

MODE = ("--mode", "fast")


def run(*argv: object) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        return int(exc.code or 0)


def manifests(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / shards.STATE_DIR).glob("shard-*"))]


@pytest.fixture
def art(tmp_path: Path) -> Path:
    make_images(tmp_path / "art", 5)
    return tmp_path / "art"


def test_batch_protects_in_shards_with_manifests(
    art: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"  # made by the command
    assert run("batch", art, "--out-dir", out, "--shard-size", "2", *MODE, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (5, 0, 0)
    assert summary["shards"] == 3
    assert sorted(outputs(out)) == [f"art{i}-protected.png" for i in range(5)]
    found = manifests(out)
    assert [m["shard"] for m in found] == [0, 1, 2]
    assert [len(m["files"]) for m in found] == [2, 2, 1]
    model = found[0]["model_sha256"]
    for m in found:
        assert m["complete"] and m["settings"]["mode"] == "fast" and m["model_sha256"] == model
        for f in m["files"]:
            assert f["status"] == "protected"
            assert f["figures"]["model_sha256"] == model and f["figures"]["psnr"] > 30
            assert Path(f["dst"]).is_file()
    # Each file in exactly one manifest, in the planner's order.
    srcs = [f["src"] for m in found for f in m["files"]]
    assert srcs == [str(art / f"art{i}.png") for i in range(5)]


def test_local_jobs_give_the_bytes_of_protect(art: Path, tmp_path: Path) -> None:
    """The shard unit writes what `fixative protect` writes, on one thread or on two."""
    one, two, single = tmp_path / "one", tmp_path / "two", tmp_path / "single"
    assert run("batch", art, "--out-dir", one, *MODE, "-q") == 0
    assert run("batch", art, "--out-dir", two, *MODE, "-q", "--workers", "2") == 0
    single.mkdir()
    assert run("protect", art, "--out-dir", single, *MODE, "-q") == 0
    assert outputs(one) == outputs(two) == outputs(single)


def test_a_corrupt_file_fails_alone(
    art: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = corrupt(art / "art2.png")
    out = tmp_path / "out"
    assert run("batch", art, "--out-dir", out, *MODE, "--shard-size", "2") == 1
    captured = capsys.readouterr()
    assert "4 done, 0 skipped, 1 failed" in captured.out
    assert f"failed: {bad}" in captured.out
    assert str(bad) in captured.err  # the error line, as it happens
    assert len(outputs(out)) == 4
    records = {f["src"]: f for m in manifests(out) for f in m["files"]}
    assert records[str(bad)]["status"] == "failed"
    assert str(bad) in records[str(bad)]["error"]
    assert all(m["complete"] for m in manifests(out))
    # Run again: the finished shards are skipped, the failure is tried again (and fails again).
    assert run("batch", art, "--out-dir", out, *MODE, "--shard-size", "2", "--json") == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (0, 4, 1)
    assert summary["failed_files"][0]["src"] == str(bad)


def test_resume_keeps_what_a_killed_run_recorded(art: Path, tmp_path: Path) -> None:
    """A manifest cut short (as a kill leaves it) and an output with no record: the recorded
    file is kept as it is, the rest is redone and the stray output replaced."""
    out = tmp_path / "out"
    assert run("batch", art, "--out-dir", out, *MODE, "--shard-size", "5", "-q") == 0
    reference = outputs(out)
    path = out / shards.STATE_DIR / "shard-00000.json"
    manifest = json.loads(path.read_text())
    manifest["complete"] = False
    for f in manifest["files"][2:]:  # not yet recorded when the run was killed
        f["status"] = "pending"
        del f["figures"], f["seconds"]
    path.write_text(json.dumps(manifest))
    (out / "art3-protected.png").write_bytes(b"half written by nobody")  # an unrecorded output
    (out / "art4-protected.png").unlink()
    kept = (out / "art0-protected.png").stat().st_mtime_ns
    assert run("batch", art, "--out-dir", out, *MODE, "--shard-size", "5", "--json") == 0
    assert outputs(out) == reference
    assert (out / "art0-protected.png").stat().st_mtime_ns == kept  # not rewritten
    assert all(f["status"] == "protected" for f in manifests(out)[0]["files"])


def test_outputs_there_before_the_batch_are_not_replaced(art: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "art1-protected.png"
    mine.write_bytes(b"the artist's own file")
    assert run("batch", art, "--out-dir", out, *MODE, "-q") == 1
    assert mine.read_bytes() == b"the artist's own file"
    record = next(f for m in manifests(out) for f in m["files"] if f["dst"] == str(mine))
    assert "already exists" in record["error"] and "--overwrite" in record["error"]
    assert run("batch", art, "--out-dir", out, *MODE, "-q", "--overwrite") == 0
    assert mine.read_bytes().startswith(b"\x89PNG")


def test_other_settings_are_another_batch(
    art: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run("batch", art, "--out-dir", out, *MODE, "-q") == 0
    assert run("batch", art, "--out-dir", out, *MODE, "--strength", "high", "-q") == 2
    assert "other settings" in capsys.readouterr().err
    # Threads and device change how fast, not what: the same batch.
    assert run("batch", art, "--out-dir", out, *MODE, "--threads", "1", "--json") == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 5


def test_list_files_and_folders(art: Path, tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("# the archive\nart/art0.png\n\n" + str(art / "art4.png") + "\n")
    out = tmp_path / "out"
    assert run("batch", f"@{listing}", "--out-dir", out, *MODE, "-q") == 0
    assert sorted(outputs(out)) == ["art0-protected.png", "art4-protected.png"]
    assert run("batch", f"@{tmp_path / 'missing.txt'}", "--out-dir", out) == 2


def test_ray_options_need_the_ray_engine(art: Path, tmp_path: Path) -> None:
    assert run("batch", art, "--out-dir", tmp_path / "o", "--address", "auto") == 2
    assert run("batch", art, "--out-dir", tmp_path / "o", "--gpus-per-worker", "1") == 2


def test_without_ray_the_ray_engine_says_how_to_install_it(
    art: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert run("batch", art, "--out-dir", tmp_path / "o", *MODE, "--engine", "ray") == 1
    err = capsys.readouterr().err
    assert "pip install 'fixative[ray]'" in err


def test_the_core_imports_ray_only_for_the_ray_engine() -> None:
    import subprocess

    code = (
        "import sys, fixative.cli, fixative.cli.batch, fixative.jobs.engines;"
        "print('ray' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_plan_shards_cuts_in_order() -> None:
    items = [shards.Item(f"s{i}", f"d{i}") for i in range(7)]
    cut = shards.plan_shards(items, 3)
    assert [[i.src for i in s.items] for s in cut] == [
        ["s0", "s1", "s2"],
        ["s3", "s4", "s5"],
        ["s6"],
    ]
    assert [s.name for s in cut] == ["shard-00000.json", "shard-00001.json", "shard-00002.json"]
    with pytest.raises(shards.FixativeError):
        shards.plan_shards(items, 0)
    assert engines.ENGINES == ("local", "ray")


def test_shard_size_by_default_and_kept_by_a_resumed_batch(
    art: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert [shards.auto_shard_size(n) for n in (1, 64, 65, 640, 10**6)] == [1, 1, 2, 10, 32]
    out = tmp_path / "out"
    assert run("batch", art, "--out-dir", out, *MODE, "--shard-size", "2", "-q") == 0
    capsys.readouterr()
    assert run("batch", art, "--out-dir", out, *MODE, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["shards"], summary["shard_size"], summary["skipped"]) == (3, 2, 5)
    fresh = tmp_path / "fresh"
    assert run("batch", art, "--out-dir", fresh, *MODE, "--json") == 0
    assert json.loads(capsys.readouterr().out)["shards"] == 5  # 5 files: one each


def test_manifests_name_files_by_absolute_path(
    art: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers may run elsewhere (another node, another folder): relative inputs and output
    folder are handed to them, and recorded, as absolute paths."""
    monkeypatch.chdir(tmp_path)
    assert run("batch", "art", "--out-dir", "out", *MODE, "--shard-size", "5", "-q") == 0
    (manifest,) = manifests(tmp_path / "out")
    assert [f["src"] for f in manifest["files"]] == [str(art / f"art{i}.png") for i in range(5)]
    assert all(Path(f["dst"]).parent == tmp_path / "out" for f in manifest["files"])
