"""Data-parallel training on PyTorch's own engine: torchrun starts the processes, torch.distributed
connects them (gloo on CPUs, nccl on GPUs), DistributedDataParallel all-reduces the gradients.

    torchrun --nproc_per_node 2 -m vaekit train ...            # one machine, two processes
    torchrun --nnodes 2 --node_rank R --rdzv_endpoint HOST:29500 --nproc_per_node 4 -m vaekit train ...

The global batch is `--batch-size`: every rank draws the same shuffled, binarized global batches from
the seed and takes its own contiguous slice, so a run on W processes sees exactly the data of a run on
one process; only the ε of the reparameterisation differ per rank. Nothing here is a home-made engine:
these are thin helpers over torch.distributed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from vaekit.errors import ConfigError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes checkpoints, logs and pictures."""
        return self.rank == 0


def env_from_torchrun() -> DistEnv:
    """The process's place in the job, from the variables torchrun sets (one process when absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistEnv(rank=int(os.environ.get("RANK", "0")), world=world,
                   local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def setup(device: torch.device, batch_size: int) -> tuple[DistEnv, torch.device]:
    """Join the process group when launched by torchrun (idempotent); returns the env and this rank's
    device (cuda:LOCAL_RANK on GPUs)."""
    env = env_from_torchrun()
    if not env.enabled:
        return env, device
    if batch_size % env.world:
        raise ConfigError(f"--batch-size {batch_size} (the global batch) must be divisible by the "
                          f"{env.world} processes")
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return env, device


def shard(x: Any, env: DistEnv) -> tuple[Any, float]:
    """This rank's contiguous slice of a global batch, and the weight of its mean loss.

    DDP averages gradients over ranks; weighting each rank's mean by W * n_rank / n_global makes that
    average the gradient of the global batch's mean even when the last batch splits unevenly."""
    if not env.enabled:
        return x, 1.0
    n = len(x)  # a tensor or any batch that slices (vaekit.data.Padded); torch.tensor_split's bounds:
    q, r = divmod(n, env.world)  # the first r ranks take one item more
    lo = env.rank * q + min(env.rank, r)
    hi = lo + q + (env.rank < r)
    part = x[lo:hi]
    return part, env.world * len(part) / n


def all_reduce_sum(t: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum a tensor over ranks (in place; a no-op on one process)."""
    if env.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def agree(flag: bool, env: DistEnv) -> bool:
    """Rank 0's decision, for every rank (e.g. stop on a wall-clock budget measured by rank 0)."""
    if not env.enabled:
        return flag
    t = torch.tensor([1 if flag else 0])
    dist.broadcast(t, src=0)
    return bool(t.item())


def from_main(value: float, env: DistEnv) -> float:
    """Rank 0's value of a number, on every rank (e.g. the elapsed time a budget's schedules read)."""
    if not env.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t.item())


def weights_agree(module: torch.nn.Module, env: DistEnv) -> bool:
    """Are the weights bit-identical on every rank? Compares a float64 checksum of all parameters
    and buffers (the same reduction order on every rank, so equal weights give equal sums)."""
    if not env.enabled:
        return True
    with torch.no_grad():
        sums = torch.stack([t.detach().double().sum() for t in module.state_dict().values()])  # on the
        # module's device: gloo gathers CPU tensors, nccl GPU tensors
    gathered = [torch.empty_like(sums) for _ in range(env.world)]
    dist.all_gather(gathered, sums)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()


def teardown(env: DistEnv) -> None:
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()
