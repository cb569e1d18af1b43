"""`fixative batch --engine ray` on a local Ray with 2 CPUs (the `ray` extra, which the test
command installs): the bytes of the local engine, failures alone, a killed driver resumed.

Each run starts its own Ray in a child process (a few seconds), as a user's command does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import ray  # noqa: F401  - the extra under test must be installed
from batch_helpers import corrupt, make_images, outputs
from fixative.jobs import shards

MODE = ("--mode", "fast")
TIMEOUT = 300


def batch(*argv: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fixative", "batch", *(str(a) for a in argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def records(out: Path) -> list[dict]:
    found = sorted((out / shards.STATE_DIR).glob("shard-*.json"))
    return [json.loads(p.read_text()) for p in found]


def test_ray_writes_the_bytes_of_the_local_engine(tmp_path: Path) -> None:
    art = tmp_path / "art"
    make_images(art, 5)
    bad = corrupt(art / "art5.png")
    local, distributed = tmp_path / "local", tmp_path / "ray"
    done = batch(art, "--out-dir", local, *MODE, "--workers", "2", "--shard-size", "2", "-q")
    assert done.returncode == 1, done.stderr  # the corrupt file
    done = batch(
        art, "--out-dir", distributed, *MODE, "--shard-size", "2", "--json",
        "--engine", "ray", "--workers", "2",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (5, 0, 1)
    assert [f["src"] for f in summary["failed_files"]] == [str(bad)]
    assert outputs(distributed) == outputs(local)
    assert len(outputs(local)) == 5
    found = records(distributed)
    assert len(found) == 3 and all(m["complete"] for m in found)
    # Two workers did three shards: each kept its models for the next shard.
    workers = {(m["worker"]["host"], m["worker"]["pid"]) for m in found}
    assert len(workers) <= 2 and summary["worker_processes"] == len(workers)
    assert {m["worker"]["engine"] for m in found} == {"ray"}
    assert {m["worker"]["provider"] for m in found} == {"CPUExecutionProvider"}
    failed = [f for m in found for f in m["files"] if f["status"] == "failed"]
    assert [f["src"] for f in failed] == [str(bad)] and str(bad) in failed[0]["error"]


def test_a_killed_driver_resumes_with_nothing_lost_or_twice(tmp_path: Path) -> None:
    art = tmp_path / "art"
    make_images(art, 8)
    reference = tmp_path / "reference"
    assert batch(art, "--out-dir", reference, *MODE, "-q").returncode == 0
    out = tmp_path / "out"
    args = (art, "--out-dir", out, *MODE, "--shard-size", "1", "--engine", "ray", "--workers", "2")
    command = [sys.executable, "-m", "fixative", "batch", *(str(a) for a in args), "-q"]
    driver = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and driver.poll() is None:
            try:
                if any(m.get("complete") for m in records(out)):
                    break
            except (OSError, ValueError):
                pass  # a manifest between its temporary file and its rename
            time.sleep(0.05)
        assert driver.poll() is None, "the batch ended before it could be killed"
        os.kill(driver.pid, signal.SIGKILL)  # the driver only
        driver.wait(timeout=30)
    finally:
        time.sleep(1)
        # Then what the killed driver's Ray left behind, so that nothing outlives the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
    before = {m["shard"] for m in records(out) if m["complete"]}
    assert 0 < len(before) < 8
    again = batch(*args, "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["failed"] == 0 and summary["done"] >= 1
    assert summary["done"] + summary["skipped"] == 8 and summary["skipped"] >= len(before)
    assert outputs(out) == outputs(reference)  # the same names and bytes, no temporaries
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != shards.STATE_DIR]
    found = records(out)
    assert len(found) == 8 and all(m["complete"] for m in found)
    srcs = [f["src"] for m in found for f in m["files"]]
    assert sorted(srcs) == sorted(str(p) for p in art.iterdir())  # each file in one manifest


def test_workers_the_cluster_cannot_hold_are_refused_not_awaited(tmp_path: Path) -> None:
    """No GPU here: a worker that needs one would wait for ever; the batch says so instead."""
    art = tmp_path / "art"
    make_images(art, 1)
    done = batch(
        art, "--out-dir", tmp_path / "out", *MODE, "--engine", "ray", "--gpus-per-worker", "1"
    )
    assert done.returncode == 1
    assert "not enough for one worker" in done.stderr and "0 GPU(s)" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_joining_a_running_cluster_leaves_it_running(tmp_path: Path) -> None:
    """--address: the batch joins a cluster started apart (token authentication on, as Ray
    clusters now run), uses its workers, and leaves it running."""
    art = tmp_path / "art"
    make_images(art, 3)
    address = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    ray_cli = [sys.executable, "-m", "ray.scripts.scripts"]
    start = [*ray_cli, "start", "--head", "--num-cpus", "2", "--node-ip-address", "127.0.0.1"]
    start += ["--port", address.split(":")[1], "--include-dashboard", "false"]
    started = subprocess.run(
        [*start, "--disable-usage-stats"], env=env, capture_output=True, text=True, timeout=180
    )
    try:
        assert started.returncode == 0, started.stderr
        done = batch(
            art, "--out-dir", tmp_path / "out", *MODE, "--engine", "ray", "--address", address,
            "--workers", "2", "--json", env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert (summary["done"], summary["failed"]) == (3, 0)
        assert 1 <= summary["worker_processes"] <= 2
        status = subprocess.run(
            [*ray_cli, "status", "--address", address],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr  # still there for the next job
    finally:
        subprocess.run([*ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_a_worker_killed_mid_shard_fails_that_shard_alone(tmp_path: Path) -> None:
    """A worker that dies (here: SIGKILL, as the OOM killer does) fails its shard's unfinished
    files; a new worker takes its place, the other shards are done, and a rerun finishes."""
    art = tmp_path / "art"
    make_images(art, 12)
    out = tmp_path / "out"
    args = (art, "--out-dir", out, *MODE, "--shard-size", "2", "--engine", "ray", "--workers", "2")
    command = [sys.executable, "-m", "fixative", "batch", *(str(a) for a in args), "--json"]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + TIMEOUT
    while killed is None and time.monotonic() < deadline and driver.poll() is None:
        try:
            running = [m for m in records(out) if not m["complete"]]
        except (OSError, ValueError):
            running = []  # a manifest between its temporary file and its rename
        if running:
            killed = running[0]["worker"]["pid"]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    stdout, stderr = driver.communicate(timeout=TIMEOUT)
    assert killed is not None, "no shard was seen running"
    assert driver.returncode == 1, stderr
    summary = json.loads(stdout)
    assert 1 <= summary["failed"] <= 2 and summary["done"] + summary["failed"] == 12
    assert all("the Ray worker failed" in f["error"] for f in summary["failed_files"])
    assert summary["worker_processes"] >= 2  # the replacement did shards too, or the other one
    again = batch(*args, "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["failed"] == 0 and summary["done"] + summary["skipped"] == 12
    assert summary["done"] >= 1
    assert len(outputs(out)) == 12
