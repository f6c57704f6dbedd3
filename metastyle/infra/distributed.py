"""Data-parallel meta-training under ``torchrun``: the K styles of a meta-batch are split across ranks.

``torchrun --nproc_per_node=N -m metastyle train ...`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``; ``setup``
reads them, initialises the process group (``nccl`` on CUDA with ``cuda:LOCAL_RANK`` per rank, ``gloo`` on
CPU) and checks that K divides evenly. Rank r meta-trains the global tasks ``shard(K, r)``; because the data
of global task k is a pure function of (seed, step, k) (see ``meta.TaskSampler``), the union of the ranks'
tasks is exactly the single-process meta-batch. Each rank's ``meta_step`` leaves the mean over its K/N tasks
in ``.grad``; ``average_gradients`` all-reduces and divides by N, which is the mean over all K tasks (equal
shards). Only rank 0 writes files or shows progress (``Dist.is_main``). Without ``WORLD_SIZE`` > 1 every
function here is a no-op, so a plain ``metastyle train`` never touches ``torch.distributed``.
"""
from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as tdist

from metastyle.config import ConfigError
from metastyle.errors import MetaStyleError


@dataclasses.dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env() -> Dist:
    """The launch geometry torchrun exported (``Dist()``, a single process, when there is none)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as err:
        raise MetaStyleError(f"bad torchrun environment (WORLD_SIZE/RANK/LOCAL_RANK): {err}") from None
    if world < 1 or not 0 <= rank < world:
        raise MetaStyleError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return Dist(rank, world, local)


def setup(cfg):
    """Initialise the process group when launched by torchrun; returns ``(Dist, cfg)`` (device per rank)."""
    d = from_env()
    if not d.active:
        return d, cfg
    k = cfg.meta.meta_batch
    if k % d.world:
        raise ConfigError(f"meta.meta_batch={k} styles cannot be split evenly over {d.world} processes; "
                          f"use a meta-batch that is a multiple of {d.world}")
    cuda = torch.cuda.is_available() and cfg.run.device in ("auto", "cuda")
    if cuda:
        torch.cuda.set_device(d.local_rank)
        cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, device=f"cuda:{d.local_rank}"))
    elif cfg.run.device.startswith("cuda"):
        raise MetaStyleError(f"device {cfg.run.device!r} requested but CUDA is not available")
    if not tdist.is_initialized():
        tdist.init_process_group("nccl" if cuda else "gloo")
    return d, cfg


def teardown(d: Dist) -> None:
    if d.active and tdist.is_initialized():
        tdist.barrier()
        tdist.destroy_process_group()


def shard(k: int, d: Dist) -> range:
    """Global task indices of rank ``d.rank``: a contiguous block of ``k / world``."""
    per = k // d.world
    return range(d.rank * per, (d.rank + 1) * per)


def broadcast_parameters(net: torch.nn.Module, d: Dist) -> None:
    """Start every rank from rank 0's weights (they already agree when seeded alike; this makes it certain)."""
    if d.active:
        for p in net.parameters():
            tdist.broadcast(p.data, src=0)


def average_gradients(net: torch.nn.Module, d: Dist) -> None:
    """Replace each rank's ``.grad`` by the mean over ranks (one flat all-reduce)."""
    if not d.active:
        return
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    tdist.all_reduce(flat)
    flat /= d.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def average_stats(stats: dict, keys, d: Dist, device) -> dict:
    """Mean of the per-rank statistics ``keys`` (each rank's value is already a mean over equal shards)."""
    if not d.active:
        return stats
    t = torch.tensor([float(stats[k]) for k in keys], dtype=torch.float64, device=device)
    tdist.all_reduce(t)
    return stats | {k: v / d.world for k, v in zip(keys, t.tolist())}


def check_in_sync(net: torch.nn.Module, d: Dist) -> None:
    """Raise if the ranks' parameters differ anywhere (elementwise max == min over ranks)."""
    if not d.active:
        return
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    hi, lo = flat.clone(), flat.clone()
    tdist.all_reduce(hi, op=tdist.ReduceOp.MAX)
    tdist.all_reduce(lo, op=tdist.ReduceOp.MIN)
    if not torch.equal(hi, lo):
        raise MetaStyleError(f"rank {d.rank}: parameters diverged across processes "
                             f"(max difference {float((hi - lo).abs().max()):.3g})")
