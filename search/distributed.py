"""Process-group plumbing for `torchrun`: one process per rank, gloo on CPU, NCCL on GPU.

Gradients are averaged by hand rather than through `DistributedDataParallel`: the active subnet
changes every step, so DDP would need `find_unused_parameters=True` (a graph walk per step) and,
for the sandwich rule's several backward passes per step, `no_sync` bookkeeping whose handling of
parameters unused in the final pass is easy to get wrong. One flat all-reduce of every gradient
(zeros where a parameter was not used) after the last backward is the same arithmetic, simply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def init(prefer_gpu: bool = True) -> Dist:
    """Join the process group that `torchrun` describes in the environment, or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    gpu = prefer_gpu and torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if gpu else torch.device("cpu")
    if gpu:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if gpu else "gloo")
    return Dist(rank, world, local_rank, device)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def average_gradients(params: list[torch.nn.Parameter], world: int) -> None:
    """Average every parameter's gradient over the ranks. A parameter that no rank used keeps no
    gradient, so the optimizer skips it exactly as it does in a single process (AdamW would
    otherwise decay it and move it along its old momentum)."""
    if world == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    used = torch.tensor([float(p.grad is not None) for p in params], dtype=grads[0].dtype, device=grads[0].device)
    flat = torch.cat([g.reshape(-1) for g in grads] + [used])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for i, (p, g) in enumerate(zip(params, grads)):
        n = g.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone() if flat[-len(params) + i] > 0 else None
        offset += n


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Start every rank from rank 0's weights and buffers."""
    if dist.is_initialized():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, 0)


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum scalars (loss totals, counts) over the ranks, for metrics every rank agrees on."""
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def average_buffers(module: torch.nn.Module) -> None:
    """Average BatchNorm running statistics over the ranks (each rank saw its own batches), so every
    rank holds, and rank 0 saves, the same model."""
    if not dist.is_initialized():
        return
    for t in module.buffers():
        if t.is_floating_point():
            dist.all_reduce(t.data)
            t.data /= dist.get_world_size()
