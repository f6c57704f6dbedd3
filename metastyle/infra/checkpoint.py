"""Checkpoints: one dict per file, written atomically, read with ``weights_only=True`` (never arbitrary
unpickling), and checked to be ours and of the right architecture before use.

Two kinds: ``metastyle-model`` (a transformer's weights plus provenance: theta, adapted or Johnson models)
and ``metastyle-train`` (a resumable training state: model, optimiser, config, step, RNG states, log).
"""
from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path

import torch

from metastyle.errors import CheckpointError, MetaStyleError
from metastyle.infra.files import TMP_SUFFIX, atomic_path, tmp_prefix

FORMAT = 1
KINDS = ("metastyle-model", "metastyle-train")
#: Where a training loop keeps its model at log-spaced iterations (``snapshot_steps``), for budget curves.
SNAPSHOT_DIR = "snapshots"


def snapshot_steps(iterations: int) -> set[int]:
    """The iterations a training loop keeps its model at: 0 (the init), 10, 30, 100, 300, 1,000, ... (about
    half a decade apart, so a budget curve has evenly spaced points on a log axis) and the last one."""
    steps, k = {0, iterations}, 10
    while k < iterations:
        steps.add(k)
        k = k * 3 if str(k)[0] == "1" else k // 3 * 10
    return steps


def snapshot_path(out: str | Path, step: int) -> Path:
    """``out/snapshots/<step, 6 digits>.pt``: the model of a run folder at iteration ``step``."""
    return Path(out) / SNAPSHOT_DIR / f"{step:06d}.pt"


def save_snapshot(record: dict, out: str | Path, step: int) -> Path:
    """Write a model record as the run folder's snapshot at ``step`` (``snapshot_path``)."""
    path = snapshot_path(out, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save(record, path)


def snapshots(out: str | Path) -> dict[int, Path]:
    """``{step: path}`` of the model snapshots a run folder holds."""
    folder = Path(out) / SNAPSHOT_DIR
    return {int(p.stem): p for p in sorted(folder.glob("*.pt")) if p.stem.isdigit()} if folder.is_dir() else {}


def check_output(path: str | Path, *, overwrite: bool = False, what: str = "output") -> Path:
    """Before any long work: ``path``'s folder exists and is writable, and ``path`` is not a file that
    would be replaced without ``--overwrite`` (docs/reliability.md, "Nothing overwritten")."""
    path = Path(path)
    if path.is_dir():
        raise MetaStyleError(f"{what} {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise MetaStyleError(f"output folder does not exist: {path.parent}")
    if path.exists() and not overwrite:
        raise MetaStyleError(f"{what} {path} already exists; pass --overwrite to replace it")
    try:
        fd, probe = tempfile.mkstemp(prefix=tmp_prefix(path), suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as err:
        raise MetaStyleError(f"cannot write to {path.parent}: {err.strerror or err}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _save_failure(err: BaseException, path: Path) -> str:
    """One line for a failed ``torch.save``: torch reports a full disk as ``[enforce fail at ...]``."""
    if isinstance(err, OSError):
        return err.strerror or str(err)
    try:
        if shutil.disk_usage(path.parent).free < 1 << 20:
            return os.strerror(errno.ENOSPC)
    except OSError:
        pass
    text = re.sub(r"\[enforce fail at [^\]]*\]\s*\.?\s*", "", str(err)).strip()
    return (text.splitlines() or [type(err).__name__])[0][:160]


def save(obj: dict, path: str | Path) -> Path:
    """``torch.save`` to a temporary file, then rename: a crash never leaves a half-written checkpoint."""
    path = Path(path)
    with atomic_path(path) as tmp:
        try:  # to a file object: torch names the archive "archive", not after the temporary file, so identical
            with open(tmp, "wb") as f:  # runs write identical bytes
                torch.save(obj, f)
        except (OSError, RuntimeError) as err:
            raise MetaStyleError(f"cannot write {path}: {_save_failure(err, path)}") from None
    return path


def _check_file(path: Path, what: str = "checkpoint") -> None:
    if not path.exists():
        raise CheckpointError(f"no such {what}: {path}")
    if path.is_dir():
        raise CheckpointError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise CheckpointError(f"{what} {path} is not a regular file")


def _unpickling_reason(err: BaseException) -> str:
    """torch's refusal without its advice to pass ``weights_only=False`` (never safe for a foreign file)."""
    for line in str(err).splitlines():
        line = line.strip().removeprefix("WeightsUnpickler error:").strip()
        if line.startswith(("Trying to load", "Unsupported")):
            return line.rstrip(".")[:160]
    return "it holds objects other than tensors and plain containers"


def read_weights(path: str | Path, what: str = "checkpoint"):
    """``torch.load(path, weights_only=True)`` of a file that must be a ``torch.save`` zip archive: the one way
    every weights file is read (checkpoints, VGG weights, the hub cache, users' decoders), so no file ever runs
    code. Anything else is one ``CheckpointError`` naming the file and saying what it is instead."""
    path = Path(path)
    _check_file(path, what)
    if not zipfile.is_zipfile(path):  # every torch.save since PyTorch 1.6 writes a zip archive
        with open(path, "rb") as f:
            head = f.read(2)
        kind = "a bare pickle" if head[:1] == b"\x80" else "not a zip archive"
        raise CheckpointError(f"cannot read {what} {path}: not a PyTorch checkpoint file ({kind}; torch.save "
                              f"writes a zip archive)")
    if not any(n.endswith("/data.pkl") for n in zipfile.ZipFile(path).namelist()):
        raise CheckpointError(f"cannot read {what} {path}: a zip archive, but not a PyTorch checkpoint file "
                              f"(no data.pkl inside)")
    try:
        with warnings.catch_warnings():  # torch's note on checking sparse tensors is no news to a user
            warnings.filterwarnings("ignore", message="Validating sparse tensor invariants")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(f"refusing to load {path}: not a plain-weights checkpoint "
                              f"({_unpickling_reason(err)})") from None
    except Exception as err:  # noqa: BLE001 - torch raises RuntimeError, EOFError, KeyError, ... on garbage
        text = re.sub(r"\[enforce fail at [^\]]*\]\s*\.?\s*", "", str(err)).strip()
        detail = (text.splitlines() or [""])[0][:160] or type(err).__name__
        raise CheckpointError(f"cannot read {what} {path}: damaged PyTorch checkpoint ({detail})") from None


def load(path: str | Path, kind: str | None = None) -> dict:
    """Load a checkpoint safely (``read_weights``); ``kind`` (if given) must match."""
    path = Path(path)
    obj = read_weights(path)
    if not isinstance(obj, dict) or obj.get("kind") not in KINDS:
        raise CheckpointError(f"{path} is not a metastyle checkpoint")
    if kind and obj["kind"] != kind and not (kind == "metastyle-model" and "model" in obj):
        raise CheckpointError(f"{path} is a {obj['kind']} checkpoint, expected {kind}")
    return obj


def state_dict_problem(err: BaseException) -> str:
    """The first concrete line of a ``load_state_dict`` error (not its "Error(s) in loading ...:" header)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    detail = next((ln for ln in lines if not ln.endswith(":")), lines[0] if lines else type(err).__name__)
    return detail.rstrip(":.")[:200]


def load_weights(net: torch.nn.Module, weights, path: Path, arch: str) -> None:
    """``net.load_state_dict(weights)``, refusing anything but a dict of finite tensors of the right shapes."""
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"{path} does not hold a {arch} state dict")
    odd = weights_problem(weights, finite=False)  # non-finite values are named below, after the shapes
    if odd:
        raise CheckpointError(f"{path} does not hold {arch} weights: {odd}")
    try:
        net.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path} does not match the {arch} architecture: {state_dict_problem(err)}") from None
    bad = [k for k, v in weights.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path} has non-finite (NaN or inf) weights in {len(bad)} tensor(s), "
                              f"first {bad[0]}: the model is broken")


def weights_problem(weights: dict, *, finite: bool = True) -> str:
    """Why a dict of tensors cannot be a network's weights (sparse, complex, integer, or with ``finite``
    non-finite values), or ""."""
    for k, v in weights.items():
        if v.layout != torch.strided:
            return f"{k} is a sparse ({str(v.layout).removeprefix('torch.')}) tensor; weights are dense"
        if not v.is_floating_point():
            return f"{k} has dtype {str(v.dtype).removeprefix('torch.')}; weights are real floating-point"
    bad = [k for k, v in weights.items() if finite and not torch.isfinite(v).all()]
    return f"non-finite (NaN or inf) weights in {len(bad)} tensor(s), first {bad[0]}" if bad else ""


def model_record(net: torch.nn.Module, **meta) -> dict:
    """A ``metastyle-model`` dict: the weights plus whatever provenance ``meta`` carries."""
    return {"kind": "metastyle-model", "format": FORMAT, "arch": "TransformerNet",
            "model": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, **meta}
