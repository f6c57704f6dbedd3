"""θ_plain: the control a reviewer asks for (beyond the paper; docs/baselines.md "Is it the meta-learning?").

The paper compares the meta-learned θ (Sec. 3, Algorithm 1) only with a random init. θ_plain is the same
TransformerNet trained on the same styles and contents by ordinary multi-style training, with no inner loop:
iteration t draws exactly meta-training's tasks of iteration t (``meta.TaskSampler``: same seed, same
styles, same support and query batches), and one Adam step minimises, for the shared network directly, the
mean over the K styles of the perceptual loss on each task's T support batches and its query batch.
Same init (``run.seed``), same optimiser and schedule (Adam, ``meta.outer_lr``, ``meta.lr_decay``).

"Same compute" is chosen as the same number of outer iterations x tasks x content batches: every iteration
makes the same K(T+1) transformer and loss-network forward passes over the same images as a meta-iteration.
Why this and not wall-clock: it is exact and machine-independent (the study runs on shared CPU cores where
wall time varies several-fold), and it matches the data seen image for image. What it does not equalise: a
meta-iteration also back-propagates through the inner step (second order by default), so θ_plain gets
fewer FLOPs; ``log.csv`` records seconds per iteration so the wall-time ratio is visible, and
``iterations`` trains θ_plain longer when a reviewer asks for equal wall time.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import torch

from metastyle import config
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint, claims, files, runs, runtime
from metastyle.infra.progress import bar as progress_bar
from metastyle.infra.runlog import RunLog
from metastyle.method.context import Context
from metastyle.method.losses import content_targets, perceptual_loss
from metastyle.method.meta import Task, TaskSampler, decayed
from metastyle.method.nets import TransformerNet

LOG_FIELDS = ["loss", "content", "style", "outer_lr", "seconds"]


MODEL_FILE, STATE_FILE = "theta_plain.pt", "train_state.pt"


def plain_step(net: TransformerNet, loss_net, spec, tasks: list[Task]) -> dict:
    """Accumulate into ``net``'s ``.grad`` the gradient of the mean over ``tasks`` (and over each task's
    support and query batches) of the perceptual loss of ``net`` itself; return the mean loss parts."""
    feats, stats = {}, dict.fromkeys(("loss", "content", "style"), 0.0)
    for task in tasks:
        batches = (*task.support, task.query)
        for x in batches:
            if id(x) not in feats:  # content features once per distinct batch, as in meta.meta_step
                feats[id(x)] = content_targets(loss_net, x, spec)
            loss = perceptual_loss(loss_net, net(x), feats[id(x)], task.style_grams, spec)
            if not torch.isfinite(loss.total):
                raise MetaStyleError("plain multi-style training diverged: the loss is not finite "
                                     "(lower meta.outer_lr)")
            w = 1.0 / (len(tasks) * len(batches))
            (loss.total * w).backward()
            for k, v in (("loss", loss.total), ("content", loss.content), ("style", loss.style)):
                stats[k] += v.item() * w
    return stats


def _record(net, ctx: Context, step: int, role: str = "theta-plain", **more) -> dict:
    return checkpoint.model_record(net, **ctx.record(), role=role, step=step,
                                   method="multi-style training without inner loop (metastyle.baselines.plain)", **more)


@claims.holding_lock("out_dir")
def train_plain(ctx: Context, out_dir: str | Path, *, iterations: int | None = None, resume: bool = False,
                progress: bool = True, overwrite: bool = False) -> tuple[TransformerNet, Path]:
    """Train θ_plain under ``ctx.cfg`` (see the module docstring); returns the network and its model path.

    ``iterations`` defaults to ``meta.iterations`` (the same compute as meta-training, as defined above).
    Resuming continues exactly from ``out_dir/train_state.pt`` (batches depend only on (seed, step)).
    Writes (in ``out_dir``): ``config.json``, ``log.csv`` (one row per iteration), ``train_state.pt``
    (every ``meta.ckpt_every`` and at the end), ``snapshots/<step>.pt`` (at ``checkpoint.snapshot_steps``) and
    ``theta_plain.pt``, a model checkpoint loadable wherever
    ``theta.pt`` is (``metastyle adapt --theta``, ``johnson --init``, ``nets.load_model``).

    Example:
        >>> net, path = train_plain(make_context(config.load("smoke")), "runs/plain-smoke")
    """
    cfg, out = ctx.cfg, Path(out_dir)
    m = cfg.meta
    iterations = m.iterations if iterations is None else int(iterations)
    if iterations < 1:
        raise MetaStyleError(f"train_plain: iterations must be >= 1, got {iterations}")
    state_path = out / STATE_FILE
    if resume:
        runs.require_train_state(state_path)
    else:  # a new run never lands on an old one (the lock made the folder)
        runs.claim_run_folder(out, overwrite=overwrite, main=True, method="plain")
    runtime.seed_everything(cfg.run.seed)
    net = TransformerNet().to(ctx.device)  # the same draw as meta-training's starting point
    opt = torch.optim.Adam(net.parameters(), lr=m.outer_lr)
    start = 0
    if resume:
        start = runs.resume(state_path, net, opt, ctx, log=out / "log.csv", fields=LOG_FIELDS, last=iterations,
                            limit="iterations", role="plain-train")  # meta-training's rules (infra/runs.py)
    files.write_json(out / "config.json", ctx.record() | {"method": "plain", "iterations": iterations})
    log = RunLog(out / "log.csv", LOG_FIELDS)
    log.truncate(start)
    sampler = TaskSampler(ctx)
    snaps = checkpoint.snapshot_steps(iterations)  # as meta-training's: the budget curve adapts from each
    if start == 0:
        checkpoint.save_snapshot(_record(net, ctx, 0, iterations=iterations), out, 0)
    try:
        for step in progress_bar(range(start, iterations), initial=start, total=iterations, disable=not progress,
                                 desc=f"plain multi-style [{ctx.loss_net.info.name}]"):
            t0 = time.perf_counter()
            lr = decayed(m.outer_lr, m.lr_decay, step)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.zero_grad(set_to_none=True)
            with runtime.autocast(ctx.device, cfg.run.precision):
                stats = plain_step(net, ctx.loss_net, ctx.spec, sampler.tasks(step))
            opt.step()
            log.write(step + 1, stats | {"outer_lr": lr, "seconds": time.perf_counter() - t0})
            if step + 1 in snaps:
                checkpoint.save_snapshot(_record(net, ctx, step + 1, iterations=iterations), out, step + 1)
            if (step + 1) % m.ckpt_every == 0 or step + 1 == iterations:
                checkpoint.save(_record(net, ctx, step + 1, kind="metastyle-train", role="plain-train",
                                        optimizer=opt.state_dict(), rng=runtime.rng_state()), state_path)
                checkpoint.save(_record(net, ctx, step + 1, iterations=iterations), out / MODEL_FILE)
    finally:
        log.close()
    if not (out / MODEL_FILE).exists():  # resumed a finished run
        checkpoint.save(_record(net, ctx, start, iterations=iterations), out / MODEL_FILE)
    return net, out / MODEL_FILE


def run_key(ctx: Context) -> str:
    """What θ_plain depends on: the resolved config (device and paths aside) and the loss network."""
    text = config.comparable(ctx.cfg.to_dict()) + ctx.loss_net.info.name
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def ensure_plain(ctx: Context, runs_dir: str | Path = "runs", plain: str = "", *, progress: bool = True) -> Path:
    """θ_plain for ``ctx.cfg`` (the ``study.ensure_theta`` of the control): ``plain`` if given, else
    ``runs/plain-<profile>-<key>/theta_plain.pt`` when finished, else resume or train it there. Runs are
    keyed by config, so another seed or setting never overwrites one."""
    if plain:
        checkpoint.load(plain, "metastyle-model")
        return Path(plain)
    out = Path(runs_dir) / f"plain-{ctx.cfg.profile}-{run_key(ctx)}"
    path = out / MODEL_FILE
    if path.is_file() and checkpoint.load(path, "metastyle-model").get("step") == ctx.cfg.meta.iterations:
        return path
    resume = (out / STATE_FILE).is_file()  # else a run killed before its first checkpoint: start it over
    _, path = train_plain(ctx, out, resume=resume, overwrite=not resume, progress=progress)
    return path
