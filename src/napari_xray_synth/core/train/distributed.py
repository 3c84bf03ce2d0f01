"""Run a training loop unchanged as one process or under ``torchrun`` (DDP on many GPUs or nodes).

The whole API::

    from napari_xray_synth.core.train.distributed import distributed_context

    with distributed_context(args.device) as ctx:       # reads torchrun's env vars, if any
        model = ctx.wrap(build_model().to(ctx.device))    # DDP when distributed
        loader = ctx.loader(dataset, batch_size=8, shuffle=True, seed=args.seed)
        for epoch in range(epochs):
            ctx.set_epoch(loader, epoch)                  # reshuffles the shards per epoch
            for batch in loader:
                ...                                       # gradients are averaged by DDP
            val = ctx.mean(val_loss)                      # the same number on every rank
        if ctx.is_main:                                   # only rank 0 writes
            save_model(ctx.unwrap(model), ...)
        ctx.barrier()

Under ``torchrun --nproc_per_node N`` (and ``--nnodes``), the environment holds ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``: the context joins the
process group (NCCL on CUDA, gloo on CPU), puts each process on ``cuda:LOCAL_RANK`` and shards
the data with :class:`~torch.utils.data.DistributedSampler`. Without them it is a plain single
process: ``wrap`` returns the model itself and the loader is an ordinary one. The batch size is
per process, so the global batch is ``batch_size * world_size``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from napari_xray_synth.core.device import pick_device
from napari_xray_synth.core.errors import InputError


def env_world() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's environment; (0, 0, 1) without it."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise InputError(f"bad torchrun environment ({exc})") from exc
    return rank, local, world


@dataclass
class DistributedContext:
    """Where this process stands in a (possibly) distributed run.

    Attributes
    ----------
    rank, local_rank, world_size : int
        Global rank, rank on this node, number of processes.
    device : torch.device
        This process's device (``cuda:LOCAL_RANK`` under torchrun on GPUs).
    backend : str or None
        "nccl" or "gloo" when distributed, else None.
    """

    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    backend: str | None

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only process that writes checkpoints, weights, cards and logs."""
        return self.rank == 0

    def wrap(self, model: torch.nn.Module, **ddp_kwargs: Any) -> torch.nn.Module:
        """The model in DDP when distributed (it must be on ``self.device`` already)."""
        if not self.distributed:
            return model
        if not any(p.requires_grad for p in model.parameters()):
            return model  # nothing to synchronise (a frozen network)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, **ddp_kwargs)

    @staticmethod
    def unwrap(model: torch.nn.Module) -> torch.nn.Module:
        """The plain network inside a DDP wrapper (for saving)."""
        return model.module if isinstance(model, DistributedDataParallel) else model

    def sampler(
        self, dataset: Dataset, shuffle: bool = True, seed: int = 0, drop_last: bool = False
    ) -> DistributedSampler | None:
        """This rank's shard of ``dataset``, or None in a single process."""
        if not self.distributed:
            return None
        return DistributedSampler(
            dataset,
            num_replicas=self.world_size,
            rank=self.rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )

    def loader(
        self,
        dataset: Dataset,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        **kwargs: Any,
    ) -> DataLoader:
        """A DataLoader over this rank's shard (a seeded shuffle in a single process too)."""
        sampler = self.sampler(dataset, shuffle=shuffle, seed=seed)
        if sampler is not None:
            return DataLoader(dataset, batch_size=batch_size, sampler=sampler, **kwargs)
        gen = torch.Generator().manual_seed(seed)
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=gen, **kwargs)

    @staticmethod
    def set_epoch(loader: DataLoader, epoch: int) -> None:
        """Tell a distributed sampler the epoch, so every epoch shuffles differently."""
        sampler = getattr(loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)

    def barrier(self) -> None:
        """Wait for every process (a no-op in a single process)."""
        if self.distributed:
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def mean(self, value: float | torch.Tensor) -> float:
        """The mean of a number over all processes (metrics that every rank agrees on)."""
        t = torch.as_tensor(value, dtype=torch.float64, device=self.device).detach().clone()
        if self.distributed:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t /= self.world_size
        return float(t.item())


@contextlib.contextmanager
def distributed_context(
    device: str | torch.device | None = "auto", timeout_s: float = 1800.0
) -> Iterator[DistributedContext]:
    """Join torchrun's process group when its environment is set; a single process otherwise.

    Parameters
    ----------
    device : str or torch.device
        The device choice of a single process ("auto", "cpu", "cuda", ...). Under torchrun,
        "cpu" forces gloo on CPU; anything else takes ``cuda:LOCAL_RANK`` when CUDA is there.
    timeout_s : float
        How long collective operations wait for a missing process.
    """
    rank, local, world = env_world()
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        if dist.is_available() and dist.is_initialized():  # joined by the caller already
            ctx = DistributedContext(
                dist.get_rank(),
                local,
                dist.get_world_size(),
                pick_device(device),
                dist.get_backend(),
            )
        else:
            ctx = DistributedContext(0, 0, 1, pick_device(device), None)
        yield ctx
        return
    if not dist.is_available():
        raise InputError("this torch build has no torch.distributed; run a single process")
    want_cpu = str(device).lower().startswith("cpu")
    if torch.cuda.is_available() and not want_cpu:
        if local >= torch.cuda.device_count():
            raise InputError(
                f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPU(s) on this node"
            )
        dev, backend = torch.device("cuda", local), "nccl"
        torch.cuda.set_device(dev)
    else:
        dev, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(
        backend,
        init_method="env://",
        rank=rank,
        world_size=world,
        timeout=_dt.timedelta(seconds=timeout_s),
    )
    ctx = DistributedContext(rank, local, world, dev, backend)
    try:
        yield ctx
        ctx.barrier()
        if rank == 0 and world > 1:
            # rank 0 hosts the rendezvous store: closing it while another rank is still
            # tearing its group down aborted that rank ("terminate called without an active
            # exception", seen once in ~15 runs of the two-process test); the others leave first
            time.sleep(1.0)
    finally:
        dist.destroy_process_group()
