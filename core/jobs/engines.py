"""Who runs a batch's shards: this process's threads (`local`) or a Ray cluster (`ray`).

Both run the same unit (`fixative.jobs.shards.run_shard`) in a `ShardWorker`, which loads the
models once and keeps them for its process; they differ only in where workers live. Ray is an
optional extra (`pip install 'fixative[ray]'`), imported only when `--engine ray` asks for it:
each worker is a Ray actor reserving `cpus` CPUs (and `gpus` GPUs: a worker given a GPU runs
the models on CUDA, one given none on the CPU, whatever the settings' "auto" would find).
A worker that dies (out of memory, a lost node) fails its shard's unfinished files, which the
next run redoes; it is replaced and the batch goes on.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from ..errors import FixativeError, MissingDependencyError
from .shards import (
    PROTECTED,
    Outcome,
    Shard,
    ShardSpec,
    is_finished,
    manifest_path,
    read_json,
    run_shard,
)

ENGINES = ("local", "ray")
ENGINE_HELP = {
    "local": "threads of this process (no Ray needed)",
    "ray": "a local Ray started with --workers CPUs, or the cluster at --address",
}

OnOutcome = Callable[[Outcome], None]


class EngineError(FixativeError):
    """The engine could not start (Ray missing or unreachable, workers that cannot load)."""


class ShardWorker:
    """Protects shards in one process with the models loaded once (kept for the process)."""

    def __init__(
        self, spec: ShardSpec, *, threads: int | None, device: str | None, engine: str
    ) -> None:
        from ..protection.model import get_model

        self.spec = spec
        self.settings = spec.protect_settings(threads=threads, device=device)
        s = self.settings
        model = get_model(s.model_path, s.device, s.threads)  # fail here, not on every file
        self.info = {"engine": engine, "provider": model.provider, "threads": s.threads}

    def run(self, shard: Shard, resuming: bool) -> Outcome:
        return run_shard(shard, self.spec, self.settings, resuming=resuming, worker=self.info)


def pending(shards: Sequence[Shard], spec: ShardSpec, on_outcome: OnOutcome) -> list[Shard]:
    """The shards still to run; finished ones are reported as skipped right away."""
    todo = []
    for shard in shards:
        if is_finished(spec, shard):
            on_outcome(Outcome(shard.index, skipped=[i.src for i in shard.items]))
        else:
            todo.append(shard)
    return todo


def run_local(
    shards: Sequence[Shard],
    spec: ShardSpec,
    *,
    workers: int,
    resuming: bool,
    on_outcome: OnOutcome,
) -> None:
    """Run shards on `workers` threads sharing one set of sessions (onnxruntime's `run` is
    thread-safe); each gets the CPU's threads divided among them unless the settings say."""
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    worker = ShardWorker(spec, threads=threads, device=None, engine="local")
    todo = pending(shards, spec, on_outcome)
    if workers == 1 or len(todo) <= 1:
        for shard in todo:
            on_outcome(worker.run(shard, resuming))
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(worker.run, shard, resuming) for shard in todo]
        for future in as_completed(futures):  # as they finish, for the progress lines
            on_outcome(future.result())


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        msg = (
            "--engine ray needs Ray, which is not installed in this Python; install it with: "
            "python -m pip install 'fixative[ray]' (or: python -m pip install ray)"
        )
        raise MissingDependencyError(msg) from None
    return ray


class _RayWorker:
    """The Ray actor: a ShardWorker on the device Ray gave it."""

    def __init__(self, spec: ShardSpec, cpus: float, engine: str) -> None:
        import ray

        device = None  # an explicit --device stands; "auto" follows what Ray reserved
        if spec.settings.get("device", "auto") == "auto":
            device = "gpu" if ray.get_gpu_ids() else "cpu"
        threads = max(1, int(cpus))
        self.worker = ShardWorker(spec, threads=threads, device=device, engine=engine)

    def run(self, shard: Shard, resuming: bool) -> Outcome:
        return self.worker.run(shard, resuming)


def run_ray(
    shards: Sequence[Shard],
    spec: ShardSpec,
    *,
    workers: int,
    resuming: bool,
    on_outcome: OnOutcome,
    address: str | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
) -> None:
    """Run shards on `workers` Ray actors, one shard in flight per actor.

    Without `address`, a local Ray is started for this batch with `workers × cpus` CPUs and
    stopped after it; with one, the batch joins that cluster (its outputs folder and inputs
    must be on storage every node sees).
    """
    ray = _ray()
    todo = deque(pending(shards, spec, on_outcome))
    if not todo:
        return
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {
            "log_to_driver": False,
            "logging_level": "ERROR",  # Ray's start-up notices would bury the progress lines
        }
        if address:  # a cluster's own settings (resources, dashboard) are its own
            options["address"] = address
        else:  # GPUs: the ones Ray finds on this machine
            options["num_cpus"] = max(1, round(workers * cpus))
            options["include_dashboard"] = False
        try:
            ray.init(**options)
        except Exception as exc:  # ConnectionError, RuntimeError: Ray's own words
            if address:
                msg = (
                    f"cannot join the Ray cluster at {address}: {exc} (a cluster with token "
                    "authentication also needs RAY_AUTH_MODE=token and its token here: "
                    "docs/scale.md)"
                )
            else:
                msg = f"cannot start a local Ray: {exc}"
            raise EngineError(msg) from exc
    try:
        _drive(ray, todo, spec, workers, resuming, on_outcome, cpus, gpus)
    finally:
        if started:
            ray.shutdown()


def _drive(
    ray: Any,
    todo: deque[Shard],
    spec: ShardSpec,
    workers: int,
    resuming: bool,
    on_outcome: OnOutcome,
    cpus: float,
    gpus: float,
) -> None:
    actor_class = ray.remote(_RayWorker).options(num_cpus=cpus, num_gpus=gpus)

    def new_actor() -> Any:
        return actor_class.remote(spec, cpus, "ray")

    actors = [new_actor() for _ in range(min(workers, len(todo), _room(ray, cpus, gpus)))]
    try:  # a worker that cannot load the models fails the batch once, not every shard
        ray.get([a.__ray_ready__.remote() for a in actors])
    except ray.exceptions.RayError as exc:
        msg = f"the Ray workers could not start: {_cause(exc)}"
        raise EngineError(msg) from exc
    flight: dict[Any, tuple[Any, Shard]] = {}

    def submit(actor: Any) -> None:
        if todo:
            shard = todo.popleft()
            flight[actor.run.remote(shard, resuming)] = (actor, shard)

    for actor in actors:
        submit(actor)
    while flight:
        ready, _ = ray.wait(list(flight), num_returns=1)
        actor, shard = flight.pop(ready[0])
        try:
            outcome = ray.get(ready[0])
        except ray.exceptions.RayError as exc:
            outcome = _lost(shard, spec, f"the Ray worker failed: {_cause(exc)}")
            ray.kill(actor, no_restart=True)
            actor = new_actor()
        on_outcome(outcome)
        submit(actor)


def _room(ray: Any, cpus: float, gpus: float) -> int:
    """How many workers the cluster holds now: asking for more would wait for ever."""
    total = ray.cluster_resources()
    room = int(total.get("CPU", 0) // cpus) if cpus else 1 << 30
    if gpus:
        room = min(room, int(total.get("GPU", 0) // gpus))
    if room < 1:
        msg = (
            f"the Ray cluster has {total.get('CPU', 0):g} CPU(s) and {total.get('GPU', 0):g} "
            f"GPU(s): not enough for one worker of {cpus:g} CPU(s) and {gpus:g} GPU(s)"
        )
        raise EngineError(msg)
    return room


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def _lost(shard: Shard, spec: ShardSpec, error: str) -> Outcome:
    """A shard whose worker died: files its manifest records as protected stand, the rest
    failed (the next run redoes them)."""
    outcome = Outcome(shard.index)
    try:
        data = read_json(manifest_path(spec, shard)) or {}
    except FixativeError:
        data = {}
    done = {f.get("src") for f in data.get("files", []) if f.get("status") == PROTECTED}
    for item in shard.items:
        if item.src in done:
            outcome.done.append(item.src)
        else:
            outcome.failed.append((item.src, f"{item.src}: {error}"))
    return outcome


def run(
    engine: str,
    shards: Sequence[Shard],
    spec: ShardSpec,
    *,
    workers: int,
    resuming: bool,
    on_outcome: OnOutcome,
    address: str | None = None,
    gpus: float = 0.0,
) -> None:
    """Run `shards` on `engine` ("local" or "ray"), reporting each shard's outcome."""
    if engine == "local":
        run_local(shards, spec, workers=workers, resuming=resuming, on_outcome=on_outcome)
    elif engine == "ray":
        run_ray(
            shards,
            spec,
            workers=workers,
            resuming=resuming,
            on_outcome=on_outcome,
            address=address,
            gpus=gpus,
        )
    else:
        msg = f"engine {engine!r} is not one of: {', '.join(ENGINES)}"
        raise EngineError(msg)
