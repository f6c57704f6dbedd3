"""MetaStyle's bilevel meta-training (paper Sec. 3, Algorithm 1) with the official code's defaults.

Read top to bottom: the tasks of an iteration (``Task``, ``TaskSampler``), one task's inner loop and query loss
(``task_losses``), one outer iteration (``meta_step``), and the training loop (``meta_train``). Each block says
what the paper and the official code do there and where this code deviates (docs/paper-vs-code.md).

For each outer iteration t: sample K styles; for each style s, start the fast weights at theta (Psi =
identity), take T SGD steps on the style's perceptual loss over a *support* batch of contents from D_tr,
evaluate the loss of the adapted weights on a *query* batch from D_val, and back-propagate it (second order
by default) into theta; theta then takes one Adam step on the mean over styles. Deviations from the
official loop, all numerically equivalent up to summation order: one style forward per task (no batch of
repeats), content/query features once per iteration and only up to the content layer, the tasks' common
un-adapted first-step forward computed once (``metastyle.method.fastmeta``), meta-gradients accumulated with
``backward`` (no dummy pass and hooks).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from metastyle.data.sets import content_set, draw, style_set
from metastyle.infra import checkpoint, distributed, runs, runtime, train
from metastyle.method import fastmeta
from metastyle.method.context import Context, make_context
from metastyle.method.functional import call, inner_step, params_of
from metastyle.method.losses import LossSpec, content_targets, perceptual_loss, style_targets
from metastyle.method.nets import TransformerNet, is_instance_norm

LOG_FIELDS = ["inner_loss", "inner_content", "inner_style", "query_loss", "query_content", "query_style",
              "inner_lr", "outer_lr", "seconds"]
STREAM_STYLE, STREAM_SUPPORT, STREAM_QUERY = 1, 2, 3
#: kept importable from here: the resume rules are part of meta-training's contract (docs/reliability.md)
SAFE_TO_CHANGE = runs.SAFE_TO_CHANGE


def decayed(lr0: float, decay: float, step: int) -> float:
    """Official schedule for both loops: lr_t = lr_0 / (1 + decay * t) (the paper gives none)."""
    return lr0 / (1.0 + decay * step)


def fast_param_filter(which: str):
    """Which parameters the inner loop adapts. ``in``: InstanceNorm affine only (the official code, 3,200
    scalars); ``all``: every parameter (the paper's equations, Psi = identity on the full vector)."""
    return is_instance_norm if which == "in" else None


# ------------------------------------------------------------------------------ the tasks of an iteration
@dataclasses.dataclass
class Task:
    """One style's inner/outer data: Gram targets, support batches (one per inner step), a query batch."""

    style_grams: dict
    support: list[torch.Tensor]
    query: torch.Tensor


class TaskSampler:
    """Draws the tasks of iteration ``step`` as a pure function of (seed, step): exact resume for free.

    Paper: contents for the inner loop come from D_tr and for the outer loss from D_val (Algorithm 1). The
    official code has no split (two samplers over one folder); here ``splits.content_train`` and
    ``content_val`` are disjoint. Official batch reuse (one support and one query batch per iteration, shared
    by all styles) is the default; ``meta.fresh_batches`` draws a fresh batch per task and step instead.
    """

    def __init__(self, ctx: Context, styles=None):
        cfg, sp = ctx.cfg, ctx.splits
        self.cfg, self.device, self.ctx = cfg, ctx.device, ctx
        self.styles = style_set(sp.style_train if styles is None else styles, cfg.data.style_size)
        self.support = content_set(sp.content_train, cfg.data.content_size)
        self.query = content_set(sp.content_val, cfg.data.content_size)

    def tasks(self, step: int, ks=None) -> list[Task]:
        """The tasks of iteration ``step``; ``ks`` selects global task indices (a distributed rank's shard).

        Task k's style, support and query batches depend only on (seed, step, k), so any partition of
        ``range(meta_batch)`` over processes yields exactly the single-process tasks.
        """
        m, seed, dev = self.cfg.meta, self.cfg.run.seed, self.device
        style_idx = draw(len(self.styles), m.meta_batch, seed, STREAM_STYLE, step)
        n_support = m.meta_batch * m.inner_steps if m.fresh_batches else 1
        n_query = m.meta_batch if m.fresh_batches else 1
        cache = {}

        def batch(images, stream, j):
            if (stream, j) not in cache:
                cache[stream, j] = images.batch(draw(len(images), m.batch, seed, stream, step * 10_007 + j), dev)
            return cache[stream, j]

        tasks = []
        for k in (range(m.meta_batch) if ks is None else ks):
            grams = style_targets(self.ctx.loss_net, self.styles.batch([style_idx[k]], dev), self.ctx.spec)
            sup = [batch(self.support, STREAM_SUPPORT, (k * m.inner_steps + t) % n_support)
                   for t in range(m.inner_steps)]
            tasks.append(Task(grams, sup, batch(self.query, STREAM_QUERY, k % n_query)))
        return tasks


# ------------------------------------------------------------------ one task: inner loop, then query loss
def task_losses(net, loss_net, spec: LossSpec, task: Task, feats: dict, *, inner_lr: float, steps: int,
                include, second_order: bool):
    """Adapt the fast weights to ``task`` and return (last inner loss, query loss of the adapted weights)."""
    # w_{s,0} = theta (Psi = identity): the fast weights are the network's own parameters, not copies.
    fast = params_of(net, include)
    inner = None
    # T plain-SGD steps w <- w - delta * grad l(support, s, M(support; w)) (Algorithm 1; official: SGD,
    # T = 1). ``differentiable`` keeps the graph so the query loss reaches theta through the update.
    for t in range(steps):
        x = task.support[t]
        inner = perceptual_loss(loss_net, call(net, fast, x), feats[id(x)], task.style_grams, spec)
        fast = inner_step(fast, inner.total, inner_lr, differentiable=second_order)
    # L_s = l(query, s, M(query; w_{s,T})): depends on theta through w_{s,T}.
    q = task.query
    query = perceptual_loss(loss_net, call(net, fast, q), feats[id(q)], task.style_grams, spec)
    return inner, query


# -------------------------------------------------------------------------------- one outer iteration
def meta_step(net, loss_net, spec: LossSpec, tasks: list[Task], *, inner_lr: float, steps: int,
              include=None, second_order: bool = True, shared: bool = True,
              one_backward: bool = False, loss_bf16: bool = False, frozen_dbl: bool = False) -> dict:
    """Accumulate the mean query-loss meta-gradient of ``tasks`` into ``net``'s ``.grad``; return stats.

    ``shared=True`` (default, ``metastyle.method.fastmeta``): the tasks' common first-step forward is computed
    once; ``one_backward`` and ``loss_bf16`` are its switches. ``shared=False``: the plain per-task loop below,
    the reference the fast path is tested against (tests/test_fastmeta.py). ``frozen_dbl`` (either path, off
    by default): the loss network's convolutions become ``frozenconv.FrozenConv2d`` (``loss_net`` must be a
    ``vgg.LossNet``), whose double backward runs one convolution per layer instead of two; same numbers up
    to float rounding (tests/test_frozenconv.py).
    """
    if frozen_dbl:
        loss_net = loss_net.with_frozen_convs()
    if shared and steps >= 1:
        inners, queries = fastmeta.meta_step(net, loss_net, spec, tasks, inner_lr=inner_lr, steps=steps,
                                             include=include, second_order=second_order,
                                             one_backward=one_backward, loss_bf16=loss_bf16)
        return _mean_stats(inners, queries)
    # Content features of every distinct support/query batch once per iteration (official: per style).
    feats = {}
    for task in tasks:
        for x in (*task.support, task.query):
            if id(x) not in feats:
                feats[id(x)] = content_targets(loss_net, x, spec)
    inners, queries = [], []
    for task in tasks:
        inner, query = task_losses(net, loss_net, spec, task, feats, inner_lr=inner_lr, steps=steps,
                                   include=include, second_order=second_order)
        fastmeta.check_finite(query.total)
        # grad_theta (1/K) sum_s L_s, accumulated task by task (official: autograd.grad per style, summed,
        # then written into .grad by hooks on a dummy pass; the sum is the same).
        (query.total / len(tasks)).backward()
        inners.append(inner)
        queries.append(query)
    return _mean_stats([i for i in inners if i is not None], queries)


def _mean_stats(inners, queries) -> dict:
    stats = dict.fromkeys(LOG_FIELDS[:6], 0.0)
    for prefix, losses in (("inner", inners), ("query", queries)):
        for loss in losses:
            for part in ("total", "content", "style"):
                key = f"{prefix}_loss" if part == "total" else f"{prefix}_{part}"
                stats[key] += getattr(loss, part).item() / len(losses)
    return stats


# ------------------------------------------------------------------------------------ the training loop
def meta_train(cfg, out_dir: str | Path, *, resume: bool = False, ctx: Context | None = None,
               progress: bool = True, init: TransformerNet | None = None,
               overwrite: bool = False) -> tuple[TransformerNet, Path]:
    """Meta-train theta under ``cfg``; returns the network and the path of ``theta.pt``.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the meta-batch is split over the processes (see
    ``metastyle.infra.distributed``); only rank 0 writes files. Resuming continues exactly where the last
    ``train_state.pt`` left off: batches depend only on (seed, step), RNG and Adam states are restored, and
    log rows past the checkpoint are dropped, so the log equals an uninterrupted run's. Resuming refuses a
    config that differs from the checkpoint's (except ``SAFE_TO_CHANGE``) and a log that lacks rows before
    the checkpoint. Without ``resume``, a folder that already holds a run is refused unless ``overwrite``
    (which deletes that run's files first). See docs/reliability.md and ``metastyle.infra.train``.

    Writes (in ``out_dir``, rank 0): ``config.json``, ``splits.json``, ``log.csv`` (one row per iteration),
    ``eval.csv`` (held-out styles), ``train_state.pt`` (resumable, every ``ckpt_every`` and at the end),
    ``theta.pt`` (model only) and ``snapshots/<step>.pt`` (theta at ``checkpoint.snapshot_steps``).

    Example:
        >>> cfg = config.load("smoke")
        >>> net, theta_path = meta_train(cfg, "runs/smoke")
    """
    d, cfg = distributed.setup(cfg)
    try:
        # the run folder: a new run never lands on an old one; a resume needs its train state
        with train.open_run(out_dir, "meta", LOG_FIELDS, resume=resume, overwrite=overwrite, main=d.is_main,
                            model_file="theta.pt") as run:
            return _train(cfg, run, d, ctx=ctx, progress=progress, init=init)
    finally:
        distributed.teardown(d)


def _train(cfg, run: train.Run, d, *, ctx, progress, init):
    ctx = ctx or make_context(cfg)
    cfg = ctx.cfg  # with the loss network's defaults (style weight, inner step) resolved
    m = cfg.meta
    # -- theta and the outer optimiser: a random init (official seed 12345) and Adam (official: Adam, lr 1e-5,
    #    default betas, no weight decay); a resume restores both, and every RNG, after checking the run
    runtime.seed_everything(cfg.run.seed)
    net = (init or TransformerNet()).to(ctx.device)
    opt = torch.optim.Adam(net.parameters(), lr=m.outer_lr)
    start = run.resume(net, opt, ctx, last=m.iterations, limit="meta.iterations")
    distributed.broadcast_parameters(net, d)

    # -- what the run records: its config and splits, one log row per iteration, theta at log-spaced iterations
    #    (0, 10, 30, 100, ...: the budget curve adapts from each), held-out-style evaluations
    run.begin(ctx.record() | {"world_size": d.world}, ctx.record(),
              model=lambda step: checkpoint.model_record(net, **ctx.record(), role="theta", step=step))
    if run.main:
        ctx.splits.write_manifest(run.out / "splits.json")
    eval_log = run.open_log("eval.csv", ["eval_query_loss"]) if m.eval_every and ctx.splits.style_eval else None
    eval_sampler = TaskSampler(ctx, styles=ctx.splits.style_eval) if eval_log else None  # styles never trained on

    sampler = TaskSampler(ctx)
    ks = distributed.shard(m.meta_batch, d) if d.active else None  # this rank's tasks
    include = fast_param_filter(m.inner_params)

    # Both rates decay as lr_0 / (1 + 2.5e-5 t) (official; the paper states no schedule).
    def inner_lr(t):
        return decayed(m.inner_lr, m.lr_decay, t)

    def outer_lr(t):
        return decayed(m.outer_lr, m.lr_decay, t)

    def step(t: int) -> dict:
        # Sample K styles and their batches, adapt to each, accumulate grad_theta of the mean query loss.
        with runtime.autocast(ctx.device, cfg.run.precision):
            stats = meta_step(net, ctx.loss_net, ctx.spec, sampler.tasks(t, ks), inner_lr=inner_lr(t),
                              steps=m.inner_steps, include=include, second_order=m.second_order,
                              one_backward=m.one_backward, loss_bf16=m.loss_bf16)
        # Several processes: the mean over all K tasks is the mean of the ranks' means (equal shards).
        distributed.average_gradients(net, d)
        stats = distributed.average_stats(stats, LOG_FIELDS[:6], d, ctx.device)
        return stats | {"inner_lr": inner_lr(t), "outer_lr": outer_lr(t)}

    def after(step: int, stats: dict, seconds: float) -> None:
        run.step_done(step, stats | {"seconds": seconds})
        if eval_log is not None and (step % m.eval_every == 0 or step == m.iterations):
            eval_log.write(step, {"eval_query_loss": query_loss(
                net, ctx, eval_sampler.tasks(step - 1), inner_lr=inner_lr(step - 1), steps=m.inner_steps,
                include=include)})

    def save(step: int) -> None:
        # Checkpoints (official: every 2,000 iterations): the resumable state and theta alone.
        distributed.check_in_sync(net, d)
        run.save(step)

    # theta <- Adam(theta, grad_theta (1/K) sum_s L_s), one outer step per iteration (infra/train.py's loop)
    train.fit(opt, step, m.iterations, start=start, lr=outer_lr, after=after, save=save, every=m.ckpt_every,
              progress=progress and d.is_main, desc=f"meta-train [{ctx.loss_net.info.name}]",
              show={"query": "query_loss", "inner": "inner_loss"}, show_every=m.log_every)
    return net, run.finish()


def query_loss(net, ctx: Context, tasks: list[Task], *, inner_lr: float, steps: int, include) -> float:
    """Mean query loss after the inner loop, without touching ``net`` (for evaluation on held-out styles)."""
    total = 0.0
    feats = {id(x): content_targets(ctx.loss_net, x, ctx.spec) for t in tasks for x in (*t.support, t.query)}
    for task in tasks:
        _, q = task_losses(net, ctx.loss_net, ctx.spec, task, feats, inner_lr=inner_lr, steps=steps,
                           include=include, second_order=False)
        total += q.total.item() / len(tasks)
    return total if math.isfinite(total) else float("nan")
