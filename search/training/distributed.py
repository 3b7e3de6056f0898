"""Process-group plumbing for `torchrun`: one process per rank, gloo on CPU, NCCL on GPU.

Training splits every step's batch over the ranks (below). The search splits every generation's
candidates: each rank runs the same deterministic search loop, evaluates its share of the new
subnets (`map_shared`) and receives everyone's results, so every rank holds the same state.

Gradients are averaged by hand rather than through `DistributedDataParallel`: the active subnet
changes every step, so DDP would need `find_unused_parameters=True` (a graph walk per step) and,
for the sandwich rule's several backward passes per step, `no_sync` bookkeeping whose handling of
parameters unused in the final pass is easy to get wrong. One flat all-reduce of every gradient
(zeros where a parameter was not used) after the last backward is the same arithmetic, simply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from infra import torchrun

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def place(prefer_gpu: bool = True) -> Dist:
    """This process's rank and device in the launch `torchrun` describes (alone outside torchrun;
    `infra.torchrun.launch` refuses variables that disagree), without meeting the other ranks yet,
    so a command can check its inputs first: a rank that fails then ends the launch, instead of
    the others waiting for it at the rendezvous."""
    launch = torchrun.launch()
    gpu = prefer_gpu and torch.cuda.is_available()
    device = torch.device("cuda", launch.local_rank) if gpu else torch.device("cpu")
    if gpu:
        torch.cuda.set_device(device)
    return Dist(launch.rank, launch.world, launch.local_rank, device)


def join(d: Dist) -> Dist:
    """Meet the other ranks (the rendezvous): the process group for `d`'s launch, if it has several."""
    if d.world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if d.device.type == "cuda" else "gloo")
    return d


def init(prefer_gpu: bool = True) -> Dist:
    """Join the process group that `torchrun` describes in the environment, or run alone."""
    return join(place(prefer_gpu))


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


def share(items: list[T], rank: int, world: int) -> list[T]:
    """Rank `rank`'s part of `items`, dealt round-robin: the coarse phase's seeds come ranked by
    parameter count, so contiguous blocks would give rank 0 all the largest (slowest) subnets."""
    return items[rank::world]


def merge(shares: list[list[R]]) -> list[R]:
    """The inverse of `share` over all ranks: the results back in the order of the items."""
    world, total = len(shares), sum(len(s) for s in shares)
    return [shares[i % world][i // world] for i in range(total)]


def check_same_work(keys_by_rank: list[list[str]]) -> None:
    """Every rank must ask for the same items: they run the same deterministic search, so a
    difference is a bug (a rank would evaluate a share of another list and the states would part)."""
    first = keys_by_rank[0]
    for rank, keys in enumerate(keys_by_rank[1:], start=1):
        if keys != first:
            at = next(i for i, (a, b) in enumerate(zip_longest(keys, first)) if a != b)
            theirs, ours = (k[at] if at < len(k) else "nothing" for k in (keys, first))
            raise RuntimeError(
                f"rank {rank} asked to evaluate {len(keys)} items and rank 0 {len(first)}, the first difference at item {at} "
                f"({theirs} vs {ours}): the ranks' searches have diverged, which is a bug"
            )


def map_shared(d: Dist, fn: Callable[[list[T]], list[R]], items: list[T], key: Callable[[T], str]) -> list[R]:
    """`fn(items)` computed by all ranks together: each rank applies `fn` to its share and every
    rank returns all the results, in the order of `items`. `key` names an item for the check that
    every rank passed the same items. With one process it is `fn(items)`."""
    if d.world == 1:
        return fn(items)
    keys: list[Any] = [None] * d.world
    dist.all_gather_object(keys, [key(item) for item in items])
    check_same_work(keys)
    results: list[Any] = [None] * d.world
    dist.all_gather_object(results, fn(share(items, d.rank, d.world)))
    return merge(results)
