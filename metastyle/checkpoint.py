"""Checkpoints: one dict per file, written atomically, read with ``weights_only=True`` (never arbitrary
unpickling), and checked to be ours and of the right architecture before use.

Two kinds: ``metastyle-model`` (a transformer's weights plus provenance: theta, adapted or Johnson models)
and ``metastyle-train`` (a resumable training state: model, optimiser, config, step, RNG states, log).
"""
from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from pathlib import Path

import torch

from .errors import CheckpointError, MetaStyleError
from .nets import TransformerNet

FORMAT = 1
KINDS = ("metastyle-model", "metastyle-train")


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    if not path.parent.is_dir():
        raise MetaStyleError(f"output folder does not exist: {path.parent}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise MetaStyleError(f"cannot write to {path.parent}: {err.strerror or err}") from None
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        raise MetaStyleError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)


def save(obj: dict, path: str | Path) -> Path:
    """``torch.save`` to a temporary file, then rename: a crash never leaves a half-written checkpoint."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def load(path: str | Path, kind: str | None = None) -> dict:
    """Load a checkpoint safely; ``kind`` (if given) must match."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"refusing to load {path}: not a plain-weights checkpoint ({first[:160]})") from None
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, EOFError, KeyError, ... on garbage
        detail = (str(err).strip().splitlines() or [""])[0][:160] or type(err).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {detail}") from None
    if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
        raise CheckpointError(f"{path} is not a metastyle checkpoint")
    if kind and obj["kind"] != kind and not (kind == "metastyle-model" and "model" in obj):
        raise CheckpointError(f"{path} is a {obj['kind']} checkpoint, expected {kind}")
    return obj


def model_record(net: torch.nn.Module, **meta) -> dict:
    """A ``metastyle-model`` dict: the weights plus whatever provenance ``meta`` carries."""
    return {"kind": "metastyle-model", "format": FORMAT, "arch": "TransformerNet",
            "model": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, **meta}


def load_model(path: str | Path, device=None) -> tuple[TransformerNet, dict]:
    """A ``TransformerNet`` from any metastyle checkpoint, plus the checkpoint's metadata."""
    obj = load(path, "metastyle-model")
    if obj.get("arch", "TransformerNet") != "TransformerNet":
        raise CheckpointError(f"{path} holds a {obj.get('arch')} model, not a TransformerNet")
    net = TransformerNet()
    try:
        net.load_state_dict(obj["model"])
    except (RuntimeError, KeyError, TypeError) as err:
        raise CheckpointError(f"{path} does not match the TransformerNet architecture: "
                              f"{str(err).splitlines()[0][:200]}") from None
    meta = {k: v for k, v in obj.items() if k not in ("model", "optimizer", "rng")}
    return net.to(device), meta
