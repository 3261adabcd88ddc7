"""Training on several devices, each backend with its own engine: data (and, on JAX, model) parallelism.

Every device holds the whole model and takes an equal slice of each batch; the gradients of the
slices are averaged before the one update, so N devices at a global batch B take the same steps
as one device at batch B (tested to float rounding). The engines:

- JAX: ``keras.distribution.DataParallel`` over a device mesh; Keras shards each batch and
  replicates the variables, and XLA inserts the all-reduce.
- TensorFlow: ``tf.distribute.MirroredStrategy``; the model and its optimizer are created in
  the strategy's scope, and ``fit`` runs the step once per device.
- PyTorch: one process per device (``torch.distributed``, ``gloo`` on CPU, ``nccl`` on GPU) and
  ``DistributedDataParallel`` around the model: the processes start with the same weights and
  DDP averages the gradients during ``backward``. The environment is the one ``torchrun`` sets
  (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``), so ``torchrun --nnodes`` runs the
  same command across machines; `launch` starts the processes on one machine.

Across machines each backend has its own launch: PyTorch's ``torchrun --nnodes``; JAX one process
per machine with Keras' ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (the coordinator first),
``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``, which
``keras.distribution.initialize`` reads; the mesh then spans every process's devices, and each
process feeds its share of every batch. Both are tested as two processes on the loopback.

On a machine without GPUs the devices are simulated: JAX and TensorFlow split the CPU into N
devices (`simulate`, before the backend initialises), PyTorch starts N processes. There it
measures the engines' overhead, not a speed-up: the simulated devices share the same cores.

Model parallelism (JAX, ``--model-parallel M``): the devices form a mesh of (N / M) x M, "batch"
by "model". Along "model" each Transformer kernel is split M ways as Megatron-LM does (Shoeybi et
al., 2019): the attention by heads and the feed-forward's first kernel by columns, so each device
computes its own heads and columns; the attention's output kernel and the feed-forward's second
split by rows, and one all-reduce per sub-block sums the parts (`MODEL_SPLITS`). Along "batch"
the data splits as above. Keras' ``ModelParallel`` takes the layouts as a ``LayoutMap``; the
optimizer's slots follow their variables.

Each engine is one class: `Replicas` is a run on one device, and `JaxReplicas`,
`TensorFlowReplicas` and `TorchReplicas` override only what their engine does differently;
`replicas` picks one by the backend Keras runs on.

A batch splits evenly or not at all: the global batch size must be a multiple of the devices,
and the training (and validation) examples are cut to a multiple of the devices, so that the
last, shorter batch splits evenly too (at most N - 1 examples are left out, and said).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from cookbook.errors import CookbookError
from cookbook.kinds import own_train_step

ENGINES = {
    "jax": "keras.distribution.DataParallel",
    "tensorflow": "tf.distribute.MirroredStrategy",
    "torch": "torch DistributedDataParallel",
}


# How a Transformer's variables split over the mesh's "model" axis: (the end of a variable's path,
# its rank, the mesh axis of each dimension). MultiHeadAttention's query, key and value kernels are
# (width, heads, head_dim), its output kernel (heads, head_dim, width); the feed-forward's are
# (width, ffn) then (ffn, width). A 2-D "query" (linear attention's Dense) keeps its whole copy.
MODEL_SPLITS = (
    (r"(query|key|value)/kernel", 3, (None, "model", None)),  # heads split
    (r"(query|key|value)/bias", 2, ("model", None)),
    (r"attention_output/kernel", 3, ("model", None, None)),  # rows: the heads' parts summed
    (r"expand/kernel", 2, (None, "model")),  # columns split
    (r"expand/bias", 1, ("model",)),
    (r"contract/kernel", 2, ("model", None)),  # rows: one all-reduce after
)


def check(devices: int, batch_size: int | None = None, model_parallel: int = 1) -> None:
    """Refuse what cannot be split, in one line."""
    if devices < 1:
        raise CookbookError(f"--devices must be at least 1, got {devices}")
    if model_parallel < 1 or devices % model_parallel:
        raise CookbookError(f"--model-parallel {model_parallel} does not divide --devices {devices}")
    shards = devices // model_parallel
    if batch_size is not None and batch_size % shards:
        over = f"{devices} devices" if model_parallel == 1 else f"{shards} data-parallel replicas"
        raise CookbookError(
            f"the global batch {batch_size} does not split over {over}; "
            f"give a --batch-size that is a multiple of {shards}"
        )


def check_model_parallel(backend: str, model_parallel: int) -> None:
    if model_parallel > 1 and backend != "jax":
        raise CookbookError(
            f"--model-parallel needs the JAX backend (keras.distribution.ModelParallel); in Keras 3.15 "
            f"it is a prototype on TensorFlow and unreleased on PyTorch, not {backend}"
        )


def model_layouts(model: Any, ways: int) -> dict[str, tuple]:
    """How each of ``model``'s variables that `MODEL_SPLITS` names splits ``ways`` ways, by path."""
    layouts = {}
    for variable in model.weights:
        for ending, rank, axes in MODEL_SPLITS:
            if len(variable.shape) == rank and re.search(f"(^|[/_]){ending}$", variable.path):
                for size, axis in zip(variable.shape, axes):
                    if axis and size % ways:
                        raise CookbookError(
                            f"{variable.path} {tuple(variable.shape)} does not split {ways} ways; "
                            "choose a --model-parallel that divides the heads and the feed-forward width"
                        )
                layouts[variable.path] = axes
    if not layouts:
        raise CookbookError(
            "--model-parallel splits a Transformer's attention and feed-forward kernels; this network has none"
        )
    return layouts


def check_step(name: str, recipe: ModuleType, distills: bool = False) -> None:
    """Refuse a page whose training is not Keras' own train step (a GAN's, a distiller's)."""
    if own_train_step(recipe) or distills:
        raise CookbookError(
            f"--devices trains pages that Keras' own train step trains; {name} has a step of its own"
        )


def simulate(backend: str, devices: int) -> None:
    """On a machine without GPUs, let ``backend`` see ``devices`` CPU devices.

    Call it before the backend initialises: JAX reads ``XLA_FLAGS`` when it is imported,
    TensorFlow fixes its logical devices when it first runs an operation. With GPUs present it
    changes nothing the run uses. PyTorch needs nothing here: its devices are processes.
    """
    check(devices)
    if devices > 1:
        _REPLICAS_BY_BACKEND.get(backend, Replicas).simulate_devices(devices)


def _jax_processes() -> int:
    """The JAX processes this run spans (Keras' ``KERAS_DISTRIBUTION_NUM_PROCESSES``; else 1)."""
    return int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1"))


@dataclass(kw_only=True)
class Replicas:
    """Where one run's model lives and how its batches split: here on one device, as a run without
    ``--devices``; each engine's subclass below overrides what it does differently."""

    names: list[str]
    devices: int = 1
    engine: str = "one device"
    rank: int = 0  # this process among the processes; 0 in a run of one process
    processes: int = 1  # PyTorch: one per device; JAX across machines: one per machine
    model_parallel: int = 1  # the mesh's "model" axis (JAX)
    layouts: dict[str, tuple] | None = None  # with model_parallel: each split variable's axes, by path

    @classmethod
    def simulate_devices(cls, devices: int) -> None:
        """Split the CPU into ``devices`` devices before the backend starts; nothing to do here."""

    @classmethod
    def start(cls, devices: int, model_parallel: int = 1) -> Replicas:
        """This process's part in a run on ``devices`` devices (here one) of the engine's backend."""
        return cls(names=[_one_device()])

    @property
    def leader(self) -> bool:
        """Only the first process writes the run's files and prints its progress."""
        return self.rank == 0

    @property
    def arrays_span_processes(self) -> bool:
        """Whether each variable is one array over every process's devices (JAX across processes)."""
        return False

    @property
    def shards(self) -> int:
        """How many parts each batch splits into: the devices, or the mesh's "batch" axis."""
        return self.devices // self.model_parallel

    def describe(self, batch_size: int) -> str:
        """One line for the run's report: the devices, the engine, how the global batch splits."""
        return (
            f"{self.devices} devices ({', '.join(self.names)}) with {self.engine}: "
            f"global batch {batch_size} = {batch_size // self.devices} per device x {self.devices}"
        )

    def split_model(self, model: Any) -> dict[str, tuple]:
        """With ``model_parallel``: the layouts of ``model``'s kernels over the mesh (`JaxReplicas`)."""
        raise RuntimeError(f"model parallelism needs JAX's mesh of several devices, not {self.engine}")

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        """The engine's scope, around the model's creation, compile and fit."""
        return contextlib.nullcontext()

    def split(self, arrays: dict) -> tuple[dict, int]:
        """Cut ``fit``'s arrays to a multiple of the devices, and give this process its share.

        Returns the arrays and the number of training examples left out: on one device, all the
        arrays as they are.
        """
        return arrays, 0

    def _cut_and_share(self, arrays: dict, validation: bool) -> tuple[dict, int]:
        """The engines' `split`: the training (and with ``validation`` the validation) arrays cut to
        a multiple of the shards; with several processes, this one's share of the training arrays.

        Each process takes every N-th example (as ``DistributedSampler`` does): its slice of batch
        k at the per-process batch size is its share of the global batch k.
        """
        import keras

        def cut(structure: Any) -> Any:
            length = len(keras.tree.flatten(structure)[0])
            return keras.tree.map_structure(lambda array: array[: length - length % self.shards], structure)

        total = len(keras.tree.flatten(arrays["x"])[0])
        arrays = {**arrays, "x": cut(arrays["x"]), "y": cut(arrays["y"])}
        if validation and arrays.get("validation_data") is not None:
            arrays["validation_data"] = tuple(cut(part) for part in arrays["validation_data"])
        if self.processes > 1:  # each process feeds its share; all validate on the whole split
            share = lambda array: array[self.rank :: self.devices]  # noqa: E731
            arrays["x"] = keras.tree.map_structure(share, arrays["x"])
            arrays["y"] = keras.tree.map_structure(share, arrays["y"])
        return arrays, total % self.shards

    def batch_size(self, global_batch: int) -> int:
        """The batch ``fit`` is given in this process: the global one, or a process's share."""
        return global_batch // self.processes

    def wrap(self, model: Any) -> None:
        """Change what ``fit`` runs, where the engine needs it (`TorchReplicas`); here nothing."""

    def backup(self, folder: Path) -> Any:
        """The callback that keeps the run's state for a resume: BackupAndRestore into ``folder``."""
        import keras

        return keras.callbacks.BackupAndRestore(str(folder))

    def close(self) -> None:
        """End the processes' group; every process calls it, after the first has saved the model."""


@dataclass(kw_only=True)
class JaxReplicas(Replicas):
    """``keras.distribution``: a DataParallel mesh, or with ``model_parallel`` a ModelParallel one;
    with several processes (one per machine) the mesh spans every process's devices."""

    engine: str = ENGINES["jax"]
    distribution: Any = None  # DataParallel; ModelParallel once `split_model` has read the model

    @classmethod
    def simulate_devices(cls, devices: int) -> None:
        local = devices // _jax_processes()  # with several processes, each holds its part of the devices
        flag = "--xla_force_host_platform_device_count"
        flags = [part for part in os.environ.get("XLA_FLAGS", "").split() if not part.startswith(flag)]
        os.environ["XLA_FLAGS"] = " ".join([*flags, f"{flag}={local}"])
        if _jax_processes() > 1:  # JAX's CPU client all-reduces across processes through gloo
            os.environ.setdefault("JAX_CPU_COLLECTIVES_IMPLEMENTATION", "gloo")

    @classmethod
    def start(cls, devices: int, model_parallel: int = 1) -> Replicas:
        import keras

        processes, rank = 1, 0
        if _jax_processes() > 1:  # across machines: the mesh spans every process's devices
            import jax

            keras.distribution.initialize()  # reads KERAS_DISTRIBUTION_* (the coordinator, the count, this one)
            processes, rank = jax.process_count(), jax.process_index()
        found = keras.distribution.list_devices()
        _enough(found, devices, "jax")
        made = cls(
            names=found[:devices],
            devices=devices,
            rank=rank,
            processes=processes,
            model_parallel=model_parallel,
        )
        if model_parallel > 1:  # the mesh waits for `split_model`: the layouts come from the model
            made.engine = "keras.distribution.ModelParallel"
        else:
            made.distribution = keras.distribution.DataParallel(devices=made.names)
            made.distribution.auto_shard_dataset = False  # each process takes its share itself (`split`)
        return made

    @property
    def arrays_span_processes(self) -> bool:
        return self.processes > 1

    def describe(self, batch_size: int) -> str:
        if self.model_parallel == 1:
            return super().describe(batch_size)
        return (
            f"{self.devices} devices ({', '.join(self.names)}) with {self.engine}, mesh batch {self.shards} "
            f"x model {self.model_parallel}: global batch {batch_size} = {batch_size // self.shards} per "
            f"data replica x {self.shards}; {len(self.layouts or {})} Transformer variables split "
            f"{self.model_parallel} ways"
        )

    def split_model(self, model: Any) -> dict[str, tuple]:
        """With ``model_parallel``: the mesh and the layouts, read from the network built once outside
        any scope (its variables' paths and shapes); build it again in `scope` to have it split."""
        import keras

        self.layouts = model_layouts(model, self.model_parallel)
        mesh = keras.distribution.DeviceMesh(
            (self.shards, self.model_parallel), ("batch", "model"), self.names
        )
        layout_map = keras.distribution.LayoutMap(mesh)
        for path, axes in self.layouts.items():
            layout_map[path] = axes
        self.distribution = keras.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
        return self.layouts

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        if self.distribution is None:
            raise RuntimeError("call split_model(a model built outside the scope) first")
        return self.distribution.scope()

    def split(self, arrays: dict) -> tuple[dict, int]:
        return self._cut_and_share(arrays, validation=True)

    def backup(self, folder: Path) -> Any:
        """The processes after the first write their own backup, beside the first's: saving inside
        a mesh that spans the processes is a step every process must take together."""
        return super().backup(
            folder if self.leader else folder.with_name(f"{folder.name}-process-{self.rank}")
        )

    def close(self) -> None:
        if self.processes > 1:  # a barrier, then each process on its own again
            import jax

            jax.distributed.shutdown()


@dataclass(kw_only=True)
class TensorFlowReplicas(Replicas):
    """``tf.distribute.MirroredStrategy`` over this process's devices."""

    engine: str = ENGINES["tensorflow"]
    strategy: Any = None

    @classmethod
    def simulate_devices(cls, devices: int) -> None:
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * devices
            )
        except RuntimeError:  # already initialised: `replicas` says how many it found
            pass

    @classmethod
    def start(cls, devices: int, model_parallel: int = 1) -> Replicas:
        import tensorflow as tf

        found = [device.name for device in tf.config.list_logical_devices("GPU")]
        found = found or [device.name for device in tf.config.list_logical_devices("CPU")]
        _enough(found, devices, "tensorflow")
        chosen = found[:devices]
        short = [name.replace("/device:", "").lower() for name in chosen]
        return cls(names=short, devices=devices, strategy=tf.distribute.MirroredStrategy(chosen))

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        return self.strategy.scope()

    def split(self, arrays: dict) -> tuple[dict, int]:
        return self._cut_and_share(arrays, validation=True)


@dataclass(kw_only=True)
class TorchReplicas(Replicas):
    """One process per device, ``DistributedDataParallel`` around the model in each."""

    engine: str = ENGINES["torch"]

    @classmethod
    def start(cls, devices: int, model_parallel: int = 1) -> Replicas:
        """This process's place among the ones `launch` (or torchrun) started."""
        import torch
        import torch.distributed

        if "WORLD_SIZE" not in os.environ:
            raise CookbookError(
                f"--devices {devices} on PyTorch runs one process per device: start it with "
                "`cookbook train ... --devices N` or torchrun, not from inside one Python process"
            )
        world, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
        if world != devices:
            raise CookbookError(f"--devices {devices} but {world} processes were started (WORLD_SIZE)")
        local = int(os.environ.get("LOCAL_RANK", rank))
        if torch.cuda.is_available():
            if torch.cuda.device_count() <= local:
                raise CookbookError(
                    f"{devices} devices asked for, torch sees {torch.cuda.device_count()} GPUs"
                )
            torch.cuda.set_device(local)
            group, names = "nccl", [f"cuda:{index}" for index in range(devices)]
        else:
            group, names = "gloo", [f"process {index} (cpu)" for index in range(devices)]
        if not torch.distributed.is_initialized():
            torch.distributed.init_process_group(group, rank=rank, world_size=world)
        return cls(names=names, devices=devices, rank=rank, processes=devices)

    def split(self, arrays: dict) -> tuple[dict, int]:
        # The validation split stays whole: each process evaluates it alone, outside DDP.
        return self._cut_and_share(arrays, validation=False)

    def wrap(self, model: Any) -> None:
        """Let ``fit`` run the model through DistributedDataParallel.

        DDP averages the gradients across the processes while ``backward`` runs, but only for a
        forward pass made through DDP itself; Keras' own train step calls the model directly.
        So the model's ``train_step`` becomes Keras' torch step with that one call changed.
        """
        import inspect

        import keras
        import torch
        from torch.nn.parallel import DistributedDataParallel

        from cookbook.compat import loss_tracker

        parallel = DistributedDataParallel(model)
        # What Keras reads, once, into its private _call_has_training_arg and (for a compute_loss
        # overridden without `training`, as before Keras 3.3) _compute_loss_has_training_arg.
        call_takes_training = "training" in inspect.signature(model.call).parameters
        loss_takes_training = "training" in inspect.signature(model.compute_loss).parameters

        def train_step(data: Any) -> dict:
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            y_pred = parallel(x, training=True) if call_takes_training else parallel(x)
            model.zero_grad()
            loss = (
                model.compute_loss(x, y, y_pred, sample_weight, training=True)
                if loss_takes_training
                else model.compute_loss(x, y, y_pred, sample_weight)
            )
            loss_tracker(model).update_state(loss, sample_weight=keras.tree.flatten(x)[0].shape[0])
            loss = model.optimizer.scale_loss(loss)
            loss.backward()  # DDP all-reduces the gradients here
            weights = model.trainable_weights[:]
            with torch.no_grad():
                model.optimizer.apply([weight.value.grad for weight in weights], weights)
            return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

        model.train_step = train_step

    def backup(self, folder: Path) -> Any:
        """The processes after the first read the first one's backup and write nothing: their
        weights and optimizer state equal the first's."""
        return super().backup(folder) if self.leader else restore_only(str(folder))

    def close(self) -> None:
        import torch.distributed

        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


# Each backend's engine, the one place a backend's name picks a class.
_REPLICAS_BY_BACKEND: dict[str, type[Replicas]] = {
    "jax": JaxReplicas,
    "tensorflow": TensorFlowReplicas,
    "torch": TorchReplicas,
}


def replicas(devices: int, model_parallel: int = 1) -> Replicas:
    """Set up ``devices`` data-parallel replicas on the backend Keras runs on (with
    ``model_parallel``, JAX only: a mesh whose kernels `Replicas.split_model` lays out)."""
    import keras

    check(devices, model_parallel=model_parallel)
    backend = keras.backend.backend()
    check_model_parallel(backend, model_parallel)
    engine = Replicas if devices == 1 else _REPLICAS_BY_BACKEND.get(backend)
    if engine is None:
        raise CookbookError(f"--devices is not supported on the {backend} backend")
    return engine.start(devices, model_parallel)


def _one_device() -> str:
    import keras

    return (
        str(keras.distribution.list_devices()[0])
        if keras.backend.backend() == "jax"
        else "the default device"
    )


def _enough(found: list, devices: int, backend: str) -> None:
    if len(found) < devices:
        hint = (
            ""
            if any("gpu" in str(name).lower() for name in found)
            else f" (on a CPU call cookbook.distribute.simulate({backend!r}, {devices}) before Keras is imported)"
        )
        raise CookbookError(f"{devices} devices asked for, {backend} sees {len(found)}{hint}")


def launch(
    argv: list[str],
    devices: int,
    module: str = "cookbook",
    timeout_s: float | None = None,
    backend: str = "torch",
) -> None:
    """Run ``python -m MODULE ARGV`` as ``devices`` processes on this machine: PyTorch's way, or
    (``backend="jax"``) as JAX's processes on several machines would run, here on one.

    The processes meet at a free port on the loopback. If one ends with an error the others are
    stopped and the run ends with one line naming it, rather than waiting for ever at the next
    all-reduce.
    """
    with socket.socket() as probe:  # a free port for the processes' rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shared, ranks = _process_environment(backend, devices, port)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", module, *argv], env={**shared, **dict.fromkeys(ranks, str(rank))}
        )
        for rank in range(devices)
    ]
    started = time.monotonic()
    try:
        while None in [worker.poll() for worker in workers]:  # (a list: poll every one)
            failed = [(rank, worker.returncode) for rank, worker in enumerate(workers) if worker.returncode]
            if failed:
                rank, code = failed[0]
                raise CookbookError(
                    f"process {rank} of {devices} failed (exit status {code}); the others were stopped"
                )
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                raise CookbookError(f"the {devices} processes did not finish in {timeout_s:.0f} s; stopped")
            time.sleep(0.2)
        failed = [(rank, worker.returncode) for rank, worker in enumerate(workers) if worker.returncode]
        if failed:
            rank, code = failed[0]
            raise CookbookError(f"process {rank} of {devices} failed (exit status {code})")
    except KeyboardInterrupt:  # Ctrl-C: the processes are stopped below; what they finished stays
        raise CookbookError(
            f"interrupted: the {devices} processes were stopped; finished epochs are kept in the run's "
            "backup/: run the same command to resume"
        ) from None
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()


def _process_environment(backend: str, devices: int, port: int) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment `launch`'s processes share, and the variables that give each its rank."""
    if backend == "jax":  # Keras' names, which keras.distribution.initialize reads
        shared = {**os.environ, "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}"}
        shared["KERAS_DISTRIBUTION_NUM_PROCESSES"] = str(devices)
        return shared, ("KERAS_DISTRIBUTION_PROCESS_ID",)
    # torchrun's names, which torch.distributed.init_process_group reads
    shared = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(devices)}
    # The cores shared out, as torchrun does: N processes of all-core thread pools fight for them.
    shared.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // devices)))
    return shared, ("RANK", "LOCAL_RANK")


def in_worker() -> bool:
    """Whether this process is one of several training processes (PyTorch's or JAX's)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 or _jax_processes() > 1


def restore_only(backup_dir: str) -> Any:
    """For the processes after the first: resume from the first one's backup, never write it.

    Their weights and optimizer state equal the first process's after every step, so one backup
    serves all; they read it before the first step, when nobody writes it.
    """
    import keras

    class RestoreOnly(keras.callbacks.BackupAndRestore):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            pass

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            pass

        def on_train_end(self, logs: dict | None = None) -> None:
            pass

    return RestoreOnly(backup_dir)
