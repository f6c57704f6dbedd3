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
from pathlib import Path

import torch

from metastyle import config
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint, runtime, train
from metastyle.method.context import Context
from metastyle.method.losses import content_targets, perceptual_loss
from metastyle.method.meta import Task, TaskSampler, decayed
from metastyle.method.nets import TransformerNet

LOG_FIELDS = ["loss", "content", "style", "outer_lr", "seconds"]
MODEL_FILE, STATE_FILE = "theta_plain.pt", train.STATE_FILE


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


METHOD = "multi-style training without inner loop (metastyle.baselines.plain)"


def _record(net, ctx: Context, step: int, **more) -> dict:
    return checkpoint.model_record(net, **ctx.record(), role="theta-plain", step=step, method=METHOD, **more)


def train_plain(ctx: Context, out_dir: str | Path, *, iterations: int | None = None, resume: bool = False,
                progress: bool = True, overwrite: bool = False) -> tuple[TransformerNet, Path]:
    """Train θ_plain under ``ctx.cfg`` (see the module docstring); returns the network and its model path.

    ``iterations`` defaults to ``meta.iterations`` (the same compute as meta-training, as defined above).
    Resuming continues exactly from ``out_dir/train_state.pt`` (batches depend only on (seed, step)) after
    meta-training's checks (``infra.train.Run.resume``: the run folder, config, loss network, state and log).
    Writes (in ``out_dir``): ``config.json``, ``log.csv`` (one row per iteration), ``train_state.pt``
    (every ``meta.ckpt_every`` and at the end), ``snapshots/<step>.pt`` (at ``checkpoint.snapshot_steps``) and
    ``theta_plain.pt``, a model checkpoint loadable wherever
    ``theta.pt`` is (``metastyle adapt --theta``, ``johnson --init``, ``nets.load_model``).

    Example:
        >>> net, path = train_plain(make_context(config.load("smoke")), "runs/plain-smoke")
    """
    cfg = ctx.cfg
    m = cfg.meta
    iterations = m.iterations if iterations is None else int(iterations)
    if iterations < 1:
        raise MetaStyleError(f"train_plain: iterations must be >= 1, got {iterations}")
    with train.open_run(out_dir, "plain", LOG_FIELDS, resume=resume, overwrite=overwrite, role="plain-train",
                        model_file=MODEL_FILE) as run:
        runtime.seed_everything(cfg.run.seed)
        net = TransformerNet().to(ctx.device)  # the same draw as meta-training's starting point
        opt = torch.optim.Adam(net.parameters(), lr=m.outer_lr)
        start = run.resume(net, opt, ctx, last=iterations, limit="iterations")
        run.begin(ctx.record() | {"method": "plain", "iterations": iterations},  # snapshots as meta-training's
                  ctx.record() | {"role": "plain-train", "method": METHOD},
                  model=lambda step: _record(net, ctx, step, iterations=iterations))
        sampler = TaskSampler(ctx)

        def outer_lr(t):
            return decayed(m.outer_lr, m.lr_decay, t)

        def step(t: int) -> dict:
            with runtime.autocast(ctx.device, cfg.run.precision):
                return plain_step(net, ctx.loss_net, ctx.spec, sampler.tasks(t)) | {"outer_lr": outer_lr(t)}

        train.fit(opt, step, iterations, start=start, lr=outer_lr, save=run.save, every=m.ckpt_every,
                  after=lambda step, stats, seconds: run.step_done(step, stats | {"seconds": seconds}),
                  progress=progress, desc=f"plain multi-style [{ctx.loss_net.info.name}]")
        return net, run.finish()


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
