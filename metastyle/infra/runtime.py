"""Seeds, devices, RNG states, and the provenance recorded with every output."""
from __future__ import annotations

import contextlib
import os
import platform
import random
import subprocess
from pathlib import Path

import numpy as np
import torch

from metastyle.errors import MetaStyleError


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU. An explicit device must be one this torch build can use here
    (``cpu``, ``cuda``/``cuda:N`` with N below the device count, ``mps`` where available): anything else
    (``meta``, ``mps`` without MPS, ``cuda:7`` on one GPU) is one line, before any work."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise MetaStyleError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise MetaStyleError(f"device {device!r} requested but CUDA is not available; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise MetaStyleError(f"device {device!r} requested but this machine has {torch.cuda.device_count()} "
                                 f"CUDA device(s) (cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise MetaStyleError(f"device {device!r} requested but this torch build cannot use MPS here; "
                                 f"use --device cpu")
    elif dev.type != "cpu":
        raise MetaStyleError(f"device {device!r} cannot run metastyle (it holds no data); use auto, cpu, cuda or "
                             f"cuda:N")
    return dev


def available_memory(device: torch.device) -> int | None:
    """Bytes the device can still allocate (CUDA: free memory; CPU: ``MemAvailable``); None if unknown."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.mem_get_info(device)[0])
        if device.type == "cpu":
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, RuntimeError, AttributeError):
        return None
    return None


def check_fits(what: str, need: float, device: torch.device, hint: str = "") -> None:
    """Refuse work whose memory lower bound ``need`` (bytes) exceeds what ``device`` has available, before
    anything is allocated: one line with both numbers (docs/reliability.md, "no value unchecked")."""
    have = available_memory(device)
    if have is not None and need > have:
        raise MetaStyleError(f"{what} needs at least {need / 2**30:.3g} GiB, but {device} has {have / 2**30:.3g} "
                             f"GiB available{'; ' + hint if hint else ''}")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (entry points only; the library never seeds on its own)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """Every RNG state a run touches, for exact resume."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # numpy's state as plain lists/ints: checkpoints are read with weights_only=True (no numpy pickles)
    state = {"python": random.getstate(), "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def autocast(device: torch.device, precision: str):
    """bf16 autocast on GPU when asked; a no-op context otherwise."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def git_commit() -> str:
    """The commit of the checkout this package runs from ("unknown" outside a git checkout)."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def versions() -> dict:
    import torchvision

    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": str(torchvision.__version__), "numpy": np.__version__,
            "cuda": torch.version.cuda if torch.cuda.is_available() else None}


def provenance(device: torch.device | None = None) -> dict:
    """Commit, versions and device: what every checkpoint and run record carries."""
    device = device or resolve_device("auto")
    return {"git_commit": git_commit(), "versions": versions(), "device": str(device),
            "device_name": device_name(device), "host": platform.node()}
