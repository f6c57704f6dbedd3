"""Run folders that are never overwritten silently, and resumes that continue exactly (docs/reliability.md).

A training run lives in one folder (``RUN_FILES``). A new run refuses a folder that holds one unless told to
overwrite it; ``--resume`` refuses a config that differs from the checkpoint's (except ``SAFE_TO_CHANGE``),
a damaged train state, and a log that lacks rows before the checkpoint's step.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import torch

from metastyle.errors import CheckpointError, MetaStyleError
from metastyle.infra import checkpoint, claims, runtime
from metastyle.infra.runlog import RunLog

#: Config keys a ``--resume`` may change: they affect neither the numbers nor the meaning of the log
#: (docs/reliability.md, "Exact resume"). Every other difference from the checkpoint's config is refused.
SAFE_TO_CHANGE = frozenset({"meta.iterations", "meta.log_every", "meta.ckpt_every", "run.device",
                            "run.runs_dir", "run.workers", "data.data_dir"})
RUN_FILES = ("train_state.pt", "theta.pt", "theta_plain.pt", "log.csv", "eval.csv", "config.json", "splits.json",
             "tb")


def claim_run_folder(out: Path, *, overwrite: bool, main: bool, method: str = "meta") -> None:
    """Refuse to start a new run over an existing one unless ``overwrite`` (then delete its files); a run of
    another ``method`` (its ``config.json`` says which: meta, plain, johnson) is refused even then."""
    if out.exists() and not out.is_dir():
        raise MetaStyleError(f"run folder {out} is a file, not a folder")
    found = [name for name in (*RUN_FILES, checkpoint.SNAPSHOT_DIR) if os.path.lexists(out / name)]
    if not found:
        return
    claims.regular_files(out, [n for n in found if not overwrite])  # a link is named as such, never followed
    other = run_method(out)
    if other not in (None, method):
        raise MetaStyleError(f"{out} holds a {other} run, not a {method} run; --overwrite replaces only a run of "
                             f"the same kind: choose another folder")
    if not overwrite:
        raise MetaStyleError(f"{out} already holds a run ({', '.join(found)}); pass --resume to continue it "
                             f"or --overwrite to delete it and start over")
    if main:
        for name in found:
            p = out / name
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def run_method(out: Path) -> str | None:
    """The kind of run a folder holds, from its ``config.json`` (no ``method`` key: meta-training); None if
    there is no readable one."""
    try:
        record = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return str(record.get("method", "meta")) if isinstance(record, dict) else None


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
        check_adam_state(state["optimizer"], opt)
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
    claims.regular_files(path.parent, [path.name])
    have = sorted(s for s in set(RunLog.steps(path, fields, step)) if 1 <= s) if path.exists() else []
    if len(have) < step:  # the rows kept are increasing steps <= step: complete means exactly 1..step
        first = next((i for i, s in enumerate(have, 1) if s != i), len(have) + 1)
        raise MetaStyleError(f"--resume refused: {path} lacks {step - len(have)} row(s) before the checkpoint's "
                             f"step {step} (first missing: step {first}); it was not written by this run alone "
                             f"(start over with --overwrite)")


def train_state(net, opt, record: dict, step: int) -> dict:
    """What ``restore_state`` reads back: weights, Adam state, every RNG, the step and the run's record."""
    return checkpoint.model_record(net, **record, kind="metastyle-train", step=step,
                                   optimizer=opt.state_dict(), rng=runtime.rng_state())


#: Adam's per-parameter state: every entry a finite real tensor; the second moments are never negative.
_ADAM_STATE = {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}


def check_adam_state(saved, opt) -> None:
    """A saved Adam ``state_dict`` must be what this run's optimiser would have written: the same parameter
    groups and settings (only ``lr`` differs, set every step, and it must be a finite positive number), and
    per-parameter state of finite real tensors with non-negative second moments and step. ``ValueError`` else."""
    fresh = opt.state_dict()["param_groups"]
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list) \
            or not isinstance(saved.get("state"), dict):
        raise ValueError("the optimiser entry is not an optimiser state")
    groups = saved["param_groups"]
    if len(groups) != len(fresh) or not all(isinstance(g, dict) for g in groups):
        raise ValueError(f"{len(groups)} parameter group(s), this run's optimiser has {len(fresh)}")
    for g, f in zip(groups, fresh):
        for key in g.keys() | f.keys():
            if key == "lr":
                lr = g.get("lr")
                if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
                    raise ValueError(f"Adam lr {lr!r} is not a finite positive number")
            elif key != "initial_lr" and (key not in g or key not in f or g[key] != f[key]):
                raise ValueError(f"Adam setting {key} is {g.get(key)!r}, this run's optimiser has {f.get(key)!r}")
    ids = {i for f in fresh for i in f["params"]}
    for i, st in saved["state"].items():
        if i not in ids or not isinstance(st, dict) or not set(st) <= _ADAM_STATE:
            raise ValueError(f"Adam state entry {i!r} is not one of this optimiser's parameters")
        for name, v in st.items():
            if not isinstance(v, torch.Tensor) or v.layout != torch.strided or not v.is_floating_point():
                raise ValueError(f"Adam {name} of parameter {i} is not a real floating-point tensor")
            if not torch.isfinite(v).all():
                raise ValueError(f"Adam {name} of parameter {i} is not finite (NaN or inf)")
            if name != "exp_avg" and (v < 0).any():
                raise ValueError(f"Adam {name} of parameter {i} is negative")


def check_same_loss_net(saved, info, path: Path) -> None:
    """Refuse to resume under another loss network than the checkpoint's: name, weights checksum and
    feature scale must match (``auto`` may resolve to another network on another machine or cache)."""
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} is damaged: it records no loss network")
    now = info.to_dict()
    diff = [k for k in ("name", "feature_scale", "checksum")  # states written before torchvision's weights had
            if saved.get(k) != now.get(k) and not (k == "checksum" and not saved.get(k))]  # a checksum: name only
    if diff:
        shown = ", ".join(f"{k} {saved.get(k)!r} -> {now.get(k)!r}" for k in diff)
        raise MetaStyleError(f"--resume refused: the loss network differs from the checkpoint's ({shown}); "
                             f"resume with the loss network the run started with")


def resume(state_path: Path, net, opt, ctx, *, log: Path, fields, last: int, limit: str, method: str = "meta",
           role: str | None = None, main: bool = True) -> dict:
    """Everything a resume checks, for every loop (``infra.train.Run.resume``): a run folder of regular files
    holding a run of ``method`` (its ``config.json`` says which), a train state of ``role``, the same config and
    loss network, intact weights, Adam and RNG states, a step not past ``last`` (``limit`` names the setting),
    and (``main``: the process that writes) a log holding every row up to it. Returns the train state."""
    out = state_path.parent
    claims.regular_files(out, (*RUN_FILES, checkpoint.SNAPSHOT_DIR))  # a link is refused, never followed
    other = run_method(out)
    if other not in (None, method):
        raise MetaStyleError(f"{out} holds a {other} run, not a {method} run; --resume continues a run of the "
                             f"same kind: choose its command or another folder")
    state = checkpoint.load(state_path, "metastyle-train")
    if role is not None and state.get("role") != role:
        raise CheckpointError(f"{state_path} is not a {role} state (it records role {state.get('role')!r})")
    check_same_config(state.get("config"), ctx.cfg, state_path)
    check_same_loss_net(state.get("loss_net"), ctx.loss_net.info, state_path)
    start = restore_state(state, net, opt, state_path)
    if start > last:
        raise MetaStyleError(f"{state_path} is at step {start}, past {limit}={last}; raise it to continue the run")
    if main:
        check_log_reaches(log, fields, start)
    return state
