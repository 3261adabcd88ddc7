"""``cookbook tune --workers N``: keras-tuner's chief and workers, started and watched from here.

The chief is this process. It holds the oracle, which picks each trial's hyperparameters and keeps
every trial's result, and serves it over gRPC (keras-tuner's own service). A worker is a process
running ``cookbook tune --join HOST:PORT --worker-id ID``: it asks the chief for a trial, trains
it, reports the scores, and asks again until the chief says the search is over.

keras-tuner hands a trial whose worker died back only to a worker with the *same* id; until then
the chief waits for it. So the chief restarts a worker that dies, with its id, and the new process
runs the orphaned trial again. A wall-clock limit (``--time-limit``) stops the workers and saves
the oracle: the trials that finished are kept and ``--resume`` runs the rest. Workers on other
machines join the same way, given the chief's address and a shared ``--dir`` (README).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from cookbook.catalogue import load_recipe
from cookbook.data import load_dataset
from cookbook.errors import CookbookError
from tuning import search

if TYPE_CHECKING:
    import grpc
    import keras_tuner

RESTARTS = 3  # a worker that dies more often than this (per worker) stops the search
POLL_SECONDS = 0.2


def parse_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise CookbookError(f"{address!r} is not HOST:PORT (e.g. 127.0.0.1:8000)")
    return host, int(port)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def visible_gpus() -> list[str]:
    """The GPUs the workers share round-robin, as ``CUDA_VISIBLE_DEVICES`` entries (none: CPU)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return [gpu for gpu in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if gpu.strip()]
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(listed.stdout.splitlines()) if line.startswith("GPU ")]


def _serve(oracle: keras_tuner.Oracle, host: str, port: int) -> grpc.Server:
    import grpc

    from cookbook.compat import add_oracle_servicer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    add_oracle_servicer(server, oracle)
    if not server.add_insecure_port(f"{host}:{port}"):
        raise CookbookError(f"the chief cannot listen on {host}:{port} (in use?)")
    server.start()
    return server


class _Worker:
    """One worker process; started again, with the same id, when it dies."""

    def __init__(self, tuner_id: str, command: list[str], env: dict, log: Path, gpu: str | None) -> None:
        self.tuner_id, self.command, self.env, self.log, self.gpu = tuner_id, command, env, log, gpu
        self.restarts, self.finished, self.process = 0, False, None

    def start(self) -> None:
        with open(self.log, "a") as log:
            log.write(f"--- {self.tuner_id} started at {time.strftime('%H:%M:%S')}\n")
            log.flush()
            self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _consecutive_failures(oracle: keras_tuner.Oracle) -> int:
    count = 0
    for trial_id in list(oracle.end_order):
        count = count + 1 if oracle.trials[trial_id].status == "FAILED" else 0
    return count


def tune(
    name: str,
    algorithm: str | None = None,
    max_trials: int | None = None,
    epochs: int | None = None,
    directory: str | Path = "runs/tuning",
    api: str = "functional",
    dataset: str | None = None,
    resume: bool = False,
    max_failures: int = 3,
    seed: int | None = None,
    verbose: str | int = "auto",
    workers: int = 1,
    time_limit: float | None = None,
    oracle: str | None = None,
    objective: str | None = None,
) -> Path:
    """``search.tune`` with this process as the chief of ``workers`` worker processes, serving the oracle
    at ``oracle`` (HOST:PORT; default: loopback, a free port) until the search ends or ``time_limit``
    seconds have passed; returns the project folder."""
    prepared = search.prepare(
        name,
        algorithm,
        max_trials,
        epochs,
        directory,
        api,
        dataset,
        resume,
        max_failures,
        seed,
        workers,
        time_limit,
        oracle,
        objective,
    )
    if prepared.tuner is not None:
        supervise(prepared.tuner, prepared.options, prepared.folder, workers, time_limit, oracle, verbose)
    return prepared.folder


def supervise(
    tuner: keras_tuner.Tuner,
    options: dict,
    folder: Path,
    workers: int,
    time_limit: float | None,
    address: str | None,
    verbose: str | int,
) -> None:
    """Serve the oracle, run ``workers`` worker processes and watch them until the search ends."""
    import keras

    host, port = parse_address(address) if address else ("127.0.0.1", None)
    port = port or _free_port(host)
    oracle = tuner.oracle
    oracle.verbose = 0 if verbose == 0 else 1  # the chief prints each trial as it begins and ends
    tuner.save()
    server = _serve(oracle, host, port)
    join = f"{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    gpus = visible_gpus()
    (folder / "workers").mkdir(exist_ok=True)
    pool = []
    for i in range(workers):
        gpu = gpus[i % len(gpus)] if gpus else None
        # workers may share a GPU: each allocates what it needs instead of most of the memory at once
        env = {
            **os.environ,
            "COOKBOOK_CHIEF_PID": str(os.getpid()),
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
            "TF_FORCE_GPU_ALLOW_GROWTH": "true",
            **({"CUDA_VISIBLE_DEVICES": gpu} if gpu else {}),
        }
        command = [
            sys.executable,
            "-m",
            "cookbook",
            "tune",
            options["recipe"],
            "--dir",
            str(folder.parent),
            "--api",
            options["api"],
            "--backend",
            keras.backend.backend(),
            "--join",
            join,
            "--worker-id",
            f"worker{i}",
        ]
        pool.append(_Worker(f"worker{i}", command, env, folder / "workers" / f"worker{i}.log", gpu))
    started = time.monotonic()
    try:
        for worker in pool:
            worker.start()
        _record(pool, folder)
        _watch(pool, oracle, options, folder, started, time_limit)
    except KeyboardInterrupt:
        raise search.interrupted(folder) from None
    finally:
        for worker in pool:
            worker.stop()
        server.stop(grace=None)
        oracle.save()  # after the last trial has been let go: nothing is listed as ongoing


def _watch(
    pool: list[_Worker],
    oracle: keras_tuner.Oracle,
    options: dict,
    folder: Path,
    started: float,
    time_limit: float | None,
) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if _consecutive_failures(oracle) >= options["max_failures"]:
            search.keep_the_last_failure(oracle)
            last = oracle.trials[oracle.end_order[-1]].message or "no reason given"
            raise search.too_many_failures(options["max_failures"], RuntimeError(last))
        for worker in pool:
            code = worker.process.poll()
            if code is None or worker.finished:
                continue
            if code == 0:  # the chief told it the search is over
                worker.finished = True
                continue
            if worker.restarts == RESTARTS:
                raise CookbookError(
                    f"{worker.tuner_id} died {RESTARTS + 1} times (exit {code}); its log: {worker.log}"
                )
            worker.restarts += 1
            worker.start()  # same id: the chief gives it back the trial it was running
            _record(pool, folder)
        if all(worker.finished for worker in pool) and not oracle.ongoing_trials:
            return  # every trial handed out has ended, those of workers on other machines included
        if time_limit is not None and time.monotonic() - started > time_limit:
            ended = sum(trial.status in ("COMPLETED", "FAILED") for trial in list(oracle.trials.values()))
            raise CookbookError(
                f"the time limit ({time_limit:g} s) stopped the search with {ended} trials ended; "
                f"they are kept in {folder}, --resume --workers N runs the rest"
            )


def _record(pool: list[_Worker], folder: Path) -> None:
    """workers/workers.json: each worker's process id, restarts, GPU and log (to watch or stop one)."""
    record = {
        worker.tuner_id: {
            "pid": worker.process.pid,
            "restarts": worker.restarts,
            "gpu": worker.gpu,
            "log": str(worker.log),
        }
        for worker in pool
    }
    path = folder / "workers" / "workers.json"
    path.with_suffix(".tmp").write_text(json.dumps(record, indent=1) + "\n")
    path.with_suffix(".tmp").replace(path)


def _exit_with_the_chief() -> None:
    """A worker started by a chief on this machine ends when that chief is gone (instead of waiting
    an hour for it, as keras-tuner's client does)."""
    chief = int(os.environ.get("COOKBOOK_CHIEF_PID", "0"))
    if not chief:
        return

    def watch() -> NoReturn:
        while os.getppid() == chief:
            time.sleep(1)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def join(
    name: str, directory: str | Path, api: str, address: str, worker_id: str, verbose: str | int
) -> None:
    """Be a worker: run the trials the chief at ``address`` hands out, until it says the search is over."""
    host, port = parse_address(address)
    if "chief" in worker_id:
        raise CookbookError(
            f"--worker-id {worker_id!r}: keras-tuner takes an id containing 'chief' for the chief"
        )
    folder = search.project(directory, name, api)
    recorded = folder / "search.json"
    if not recorded.exists():
        raise CookbookError(f"no search in {folder}: --dir must be the chief's (shared) directory")
    options = json.loads(recorded.read_text())
    os.environ.update(
        KERASTUNER_TUNER_ID=worker_id, KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port)
    )
    _exit_with_the_chief()
    import keras

    recipe = load_recipe(name)
    data = load_dataset(options["dataset"], recipe.TASK["datasets"])
    keras.utils.set_random_seed(options["seed"])
    tuner = search.make_tuner(
        search.hypermodel(name, api, data, options["epochs"]), options, folder, resume=True
    )
    search.run_search(tuner, options, folder, verbose)
