"""MetaStyle's bilevel meta-training (Algorithm 1) with the official code's defaults.

For each outer iteration t: sample K styles; for each style s, start the fast weights at theta (Psi =
identity), take T SGD steps on the style's perceptual loss over a *support* batch of contents from D_tr,
evaluate the loss of the adapted weights on a *query* batch from D_val, and back-propagate it (second order
by default) into theta; theta then takes one Adam step on the mean over styles. Deviations from the
official loop, all numerically equivalent up to summation order: one style forward per task (no batch of
repeats), content/query features once per iteration and only up to the content layer, the tasks' common
un-adapted first-step forward computed once (``metastyle.method.fastmeta``), meta-gradients accumulated with
``backward`` (no dummy pass and hooks). See README "Paper vs code" and docs/performance.md.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from metastyle.infra import checkpoint, distributed, files, runtime
from metastyle.method import fastmeta
from metastyle.method.context import Context, make_context
from metastyle.data.sets import content_set, draw, style_set
from metastyle.errors import CheckpointError, MetaStyleError
from metastyle.method.functional import call, inner_step, params_of
from metastyle.method.losses import LossSpec, content_targets, perceptual_loss, style_targets
from metastyle.method.nets import TransformerNet, is_instance_norm
from metastyle.infra.progress import bar as progress_bar
from metastyle.infra.runlog import RunLog

LOG_FIELDS = ["inner_loss", "inner_content", "inner_style", "query_loss", "query_content", "query_style",
              "inner_lr", "outer_lr", "seconds"]
STREAM_STYLE, STREAM_SUPPORT, STREAM_QUERY = 1, 2, 3


def decayed(lr0: float, decay: float, step: int) -> float:
    """Official schedule for both loops: lr_t = lr_0 / (1 + decay * t)."""
    return lr0 / (1.0 + decay * step)


def fast_param_filter(which: str):
    """``in``: InstanceNorm affine only (official, 3,200 scalars); ``all``: every parameter (paper)."""
    return is_instance_norm if which == "in" else None


@dataclasses.dataclass
class Task:
    """One style's inner/outer data: Gram targets, support batches (one per inner step), a query batch."""

    style_grams: dict
    support: list[torch.Tensor]
    query: torch.Tensor


def task_losses(net, loss_net, spec: LossSpec, task: Task, feats: dict, *, inner_lr: float, steps: int,
                include, second_order: bool):
    """Adapt the fast weights to ``task`` and return (last inner loss, query loss of the adapted weights)."""
    fast = params_of(net, include)
    inner = None
    for t in range(steps):
        x = task.support[t]
        inner = perceptual_loss(loss_net, call(net, fast, x), feats[id(x)], task.style_grams, spec)
        fast = inner_step(fast, inner.total, inner_lr, differentiable=second_order)
    q = task.query
    query = perceptual_loss(loss_net, call(net, fast, q), feats[id(q)], task.style_grams, spec)
    return inner, query


def meta_step(net, loss_net, spec: LossSpec, tasks: list[Task], *, inner_lr: float, steps: int,
              include=None, second_order: bool = True, shared: bool = True,
              one_backward: bool = False, loss_bf16: bool = False) -> dict:
    """Accumulate the mean query-loss meta-gradient of ``tasks`` into ``net``'s ``.grad``; return stats.

    ``shared=True`` (default, ``metastyle.method.fastmeta``): the tasks' common first-step forward is computed once;
    ``one_backward`` and ``loss_bf16`` are its switches. ``shared=False``: the plain per-task loop below.
    (A K-task batched forward/backward used to be a switch here: it lost to the shared path on CPU at
    128 px, with 2.3x its memory, and was removed; docs/performance.md.)
    """
    if shared and steps >= 1:
        inners, queries = fastmeta.meta_step(net, loss_net, spec, tasks, inner_lr=inner_lr, steps=steps,
                                             include=include, second_order=second_order,
                                             one_backward=one_backward, loss_bf16=loss_bf16)
        return _mean_stats(inners, queries)
    feats = {}
    for task in tasks:  # content / query features once per distinct batch, never per style
        for x in (*task.support, task.query):
            if id(x) not in feats:
                feats[id(x)] = content_targets(loss_net, x, spec)
    stats = dict.fromkeys(LOG_FIELDS[:6], 0.0)
    for task in tasks:
        inner, query = task_losses(net, loss_net, spec, task, feats, inner_lr=inner_lr, steps=steps,
                                   include=include, second_order=second_order)
        _check_finite(query.total)
        (query.total / len(tasks)).backward()
        for prefix, loss in (("inner", inner), ("query", query)):
            if loss is not None:
                stats[f"{prefix}_loss"] += loss.total.item() / len(tasks)
                stats[f"{prefix}_content"] += loss.content.item() / len(tasks)
                stats[f"{prefix}_style"] += loss.style.item() / len(tasks)
    return stats


def _mean_stats(inners, queries) -> dict:
    stats = dict.fromkeys(LOG_FIELDS[:6], 0.0)
    for prefix, losses in (("inner", inners), ("query", queries)):
        for loss in losses:
            for part in ("total", "content", "style"):
                key = f"{prefix}_loss" if part == "total" else f"{prefix}_{part}"
                stats[key] += getattr(loss, part).item() / len(losses)
    return stats


def _check_finite(loss: torch.Tensor) -> None:
    if not torch.isfinite(loss).all():
        raise MetaStyleError("meta-training diverged: the query loss is not finite (lower the learning rates)")


class TaskSampler:
    """Draws the tasks of iteration ``step`` as a pure function of (seed, step): exact resume for free."""

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


#: Config keys a ``--resume`` may change: they affect neither the numbers nor the meaning of the log
#: (docs/reliability.md, "Exact resume"). Every other difference from the checkpoint's config is refused.
SAFE_TO_CHANGE = frozenset({"meta.iterations", "meta.log_every", "meta.ckpt_every", "run.device",
                            "run.runs_dir", "run.workers", "data.data_dir"})
RUN_FILES = ("train_state.pt", "theta.pt", "log.csv", "eval.csv", "config.json", "splits.json")


def _claim_run_folder(out: Path, *, overwrite: bool, main: bool) -> None:
    """Refuse to start a new run over an existing one unless ``overwrite`` (then delete its files)."""
    found = [name for name in RUN_FILES if (out / name).exists()]
    if not found:
        return
    if not overwrite:
        raise MetaStyleError(f"{out} already holds a run ({', '.join(found)}); pass --resume to continue it "
                             f"or --overwrite to delete it and start over")
    if main:
        for name in found:
            (out / name).unlink()


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


def check_log_reaches(path: Path, step: int) -> None:
    """The log must hold every step up to the checkpoint's; rows past it are dropped later (``truncate``)."""
    have = set(RunLog.steps(path, LOG_FIELDS, step)) if path.exists() else set()
    missing = [s for s in range(1, step + 1) if s not in have]
    if missing:
        raise MetaStyleError(f"--resume refused: {path} lacks {len(missing)} row(s) before the checkpoint's step "
                             f"{step} (first missing: step {missing[0]}); it was not written by this run alone "
                             f"(start over with --overwrite)")


def _train_state(net, opt, ctx: Context, step: int) -> dict:
    return checkpoint.model_record(net, **ctx.record(), kind="metastyle-train", step=step,
                                   optimizer=opt.state_dict(), rng=runtime.rng_state())


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
    (which deletes that run's files first). See docs/reliability.md.

    Writes (in ``out_dir``, rank 0): ``config.json``, ``splits.json``, ``log.csv`` (one row per iteration),
    ``train_state.pt`` (resumable, every ``ckpt_every`` and at the end) and ``theta.pt`` (model only).

    Example:
        >>> cfg = config.load("smoke")
        >>> net, theta_path = meta_train(cfg, "runs/smoke")
    """
    d, cfg = distributed.setup(cfg)
    try:
        return _meta_train(cfg, Path(out_dir), d, resume=resume, ctx=ctx, progress=progress, init=init,
                           overwrite=overwrite)
    finally:
        distributed.teardown(d)


def _meta_train(cfg, out: Path, d, *, resume, ctx, progress, init, overwrite=False):
    state_path = out / "train_state.pt"
    if resume and not state_path.exists():
        raise MetaStyleError(f"--resume given but no {state_path} to resume from")
    if not resume:
        _claim_run_folder(out, overwrite=overwrite, main=d.is_main)
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
    ctx = ctx or make_context(cfg)
    cfg = ctx.cfg  # with the loss network's defaults (style weight, inner step) resolved
    runtime.seed_everything(cfg.run.seed)
    net = (init or TransformerNet()).to(ctx.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.meta.outer_lr)
    start = 0
    if resume:
        state = checkpoint.load(state_path, "metastyle-train")
        check_same_config(state.get("config"), cfg, state_path)
        start = restore_state(state, net, opt, state_path)
        if start > cfg.meta.iterations:
            raise MetaStyleError(f"{state_path} is at step {start}, past meta.iterations={cfg.meta.iterations}; "
                                 f"raise --meta.iterations to continue the run")
        if d.is_main:
            check_log_reaches(out / "log.csv", start)
    distributed.broadcast_parameters(net, d)
    log = None
    if d.is_main:
        files.write_json(out / "config.json", ctx.record() | {"world_size": d.world})
        ctx.splits.write_manifest(out / "splits.json")
        log = RunLog(out / "log.csv", LOG_FIELDS)
        log.truncate(start)
    sampler, m = TaskSampler(ctx), cfg.meta
    ks = distributed.shard(m.meta_batch, d) if d.active else None
    include = fast_param_filter(m.inner_params)
    eval_log = eval_sampler = None
    if m.eval_every and ctx.splits.style_eval and log is not None:  # held-out styles, never trained on
        eval_sampler = TaskSampler(ctx, styles=ctx.splits.style_eval)
        eval_log = RunLog(out / "eval.csv", ["eval_query_loss"], tensorboard=False)
        eval_log.truncate(start)
    bar = progress_bar(range(start, m.iterations), initial=start, total=m.iterations,
                       disable=not (progress and d.is_main), desc=f"meta-train [{ctx.loss_net.info.name}]")
    for step in bar:
        t0 = time.perf_counter()
        inner_lr, outer_lr = decayed(m.inner_lr, m.lr_decay, step), decayed(m.outer_lr, m.lr_decay, step)
        for group in opt.param_groups:
            group["lr"] = outer_lr
        opt.zero_grad(set_to_none=True)
        with runtime.autocast(ctx.device, cfg.run.precision):
            stats = meta_step(net, ctx.loss_net, ctx.spec, sampler.tasks(step, ks), inner_lr=inner_lr,
                              steps=m.inner_steps, include=include, second_order=m.second_order,
                              one_backward=m.one_backward, loss_bf16=m.loss_bf16)
        distributed.average_gradients(net, d)
        stats = distributed.average_stats(stats, LOG_FIELDS[:6], d, ctx.device)
        opt.step()
        stats.update(inner_lr=inner_lr, outer_lr=outer_lr, seconds=time.perf_counter() - t0)
        if log is not None:
            log.write(step + 1, stats)
        if (step + 1) % m.log_every == 0:
            bar.set_postfix(query=f"{stats['query_loss']:.4g}", inner=f"{stats['inner_loss']:.4g}")
        if eval_log is not None and ((step + 1) % m.eval_every == 0 or step + 1 == m.iterations):
            eval_log.write(step + 1, {"eval_query_loss": query_loss(
                net, ctx, eval_sampler.tasks(step), inner_lr=inner_lr, steps=m.inner_steps, include=include)})
        if (step + 1) % m.ckpt_every == 0 or step + 1 == m.iterations:
            distributed.check_in_sync(net, d)
            if d.is_main:
                checkpoint.save(_train_state(net, opt, ctx, step + 1), state_path)
                checkpoint.save(checkpoint.model_record(net, **ctx.record(), role="theta", step=step + 1),
                                out / "theta.pt")
    for opened in (log, eval_log):
        if opened is not None:
            opened.close()
    if d.is_main and start >= m.iterations and not (out / "theta.pt").exists():
        checkpoint.save(checkpoint.model_record(net, **ctx.record(), role="theta", step=start), out / "theta.pt")
    return net, out / "theta.pt"


def query_loss(net, ctx: Context, tasks: list[Task], *, inner_lr: float, steps: int, include) -> float:
    """Mean query loss after the inner loop, without touching ``net`` (for evaluation on held-out styles)."""
    total = 0.0
    feats = {id(x): content_targets(ctx.loss_net, x, ctx.spec) for t in tasks for x in (*t.support, t.query)}
    for task in tasks:
        _, q = task_losses(net, ctx.loss_net, ctx.spec, task, feats, inner_lr=inner_lr, steps=steps,
                           include=include, second_order=False)
        total += q.total.item() / len(tasks)
    return total if math.isfinite(total) else float("nan")
