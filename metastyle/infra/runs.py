"""Run folders that are never overwritten silently, and resumes that continue exactly (docs/reliability.md).

A training run lives in one folder (``RUN_FILES``). A new run refuses a folder that holds one unless told to
overwrite it; ``--resume`` refuses a config that differs from the checkpoint's (except ``SAFE_TO_CHANGE``),
a damaged train state, and a log that lacks rows before the checkpoint's step.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from metastyle.errors import CheckpointError, MetaStyleError
from metastyle.infra import checkpoint, runtime
from metastyle.infra.runlog import RunLog

#: Config keys a ``--resume`` may change: they affect neither the numbers nor the meaning of the log
#: (docs/reliability.md, "Exact resume"). Every other difference from the checkpoint's config is refused.
SAFE_TO_CHANGE = frozenset({"meta.iterations", "meta.log_every", "meta.ckpt_every", "run.device",
                            "run.runs_dir", "run.workers", "data.data_dir"})
RUN_FILES = ("train_state.pt", "theta.pt", "log.csv", "eval.csv", "config.json", "splits.json")


def claim_run_folder(out: Path, *, overwrite: bool, main: bool) -> None:
    """Refuse to start a new run over an existing one unless ``overwrite`` (then delete its files)."""
    found = [name for name in (*RUN_FILES, checkpoint.SNAPSHOT_DIR) if (out / name).exists()]
    if not found:
        return
    if not overwrite:
        raise MetaStyleError(f"{out} already holds a run ({', '.join(found)}); pass --resume to continue it "
                             f"or --overwrite to delete it and start over")
    if main:
        for name in found:
            shutil.rmtree(out / name) if (out / name).is_dir() else (out / name).unlink()


def require_train_state(state_path: Path) -> None:
    """``--resume`` continues a run: refuse, in one line, when its train state is missing."""
    if not state_path.exists():
        raise MetaStyleError(f"--resume given but no {state_path} to resume from")


def _flat(cfg_dict) -> dict:
    d = json.loads(json.dumps(cfg_dict or {}, default=str))  # tuples and lists compare equal
    return {f"{s}.{k}": v for s, vals in d.items() if isinstance(vals, dict) for k, v in vals.items()}


def check_same_config(saved, cfg, path: Path) -> None:
    """Refuse to resume under a config that differs from the checkpoint's, naming the differing keys."""
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} is damaged: it records no config")
    old, new = _flat(saved), _flat(cfg.to_dict())
    diff = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k) and k not in SAFE_TO_CHANGE)
    if diff:
        shown = ", ".join(f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in diff[:6])
        more = f" and {len(diff) - 6} more" if len(diff) > 6 else ""
        raise MetaStyleError(f"--resume refused: the config differs from the checkpoint's in {shown}{more}; "
                             f"resume with the original settings (only {', '.join(sorted(SAFE_TO_CHANGE))} "
                             f"may change)")


def restore_state(state: dict, net, opt, path: Path) -> int:
    """Load weights, Adam and RNG states from a ``train_state.pt``; any damage is one ``CheckpointError``."""
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{path} is damaged: its step {step!r} is not a step count")
    missing = [k for k in ("model", "optimizer", "rng") if k not in state]
    if missing:
        raise CheckpointError(f"{path} is damaged: no {', '.join(missing)} entry")
    checkpoint.load_weights(net, state["model"], path, "TransformerNet")
    try:
        opt.load_state_dict(state["optimizer"])
        _check_optimizer_shapes(opt)
        runtime.set_rng_state(state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise CheckpointError(f"{path} is damaged: cannot restore its optimiser or RNG state ({reason})") from None
    return step


def _check_optimizer_shapes(opt) -> None:
    for p, st in opt.state.items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor) and v.dim() and v.shape != p.shape:
                raise ValueError(f"Adam {name} of shape {tuple(v.shape)} for a parameter of shape {tuple(p.shape)}")


def check_log_reaches(path: Path, fields, step: int) -> None:
    """The log must hold every step up to the checkpoint's; rows past it are dropped later (``truncate``)."""
    have = set(RunLog.steps(path, fields, step)) if path.exists() else set()
    missing = [s for s in range(1, step + 1) if s not in have]
    if missing:
        raise MetaStyleError(f"--resume refused: {path} lacks {len(missing)} row(s) before the checkpoint's step "
                             f"{step} (first missing: step {missing[0]}); it was not written by this run alone "
                             f"(start over with --overwrite)")


def train_state(net, opt, record: dict, step: int) -> dict:
    """What ``restore_state`` reads back: weights, Adam state, every RNG, the step and the run's record."""
    return checkpoint.model_record(net, **record, kind="metastyle-train", step=step,
                                   optimizer=opt.state_dict(), rng=runtime.rng_state())
