"""Fitting one style: MetaStyle's adaptation from theta, and (the same loop) Johnson et al. from scratch.

``style_step`` is the single-style step both train with, over the one training loop (``infra.train.fit``):
content batches drawn as a pure function of (seed, step) against the style's Gram targets, computed once.
``fit_style`` trains a copy of the network with it (the input network is never modified; Adam on the chosen
parameters); Johnson's run folder trains with it too (``baselines.johnson``). ``adapt`` is the paper's "fast"
adaptation: ``fit_style`` started from theta with the official settings (Adam 1e-3, 200 steps, all
parameters, style at 512 px).
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Callable

import torch

from metastyle.data.sets import ImageSet, draw
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint, train
from metastyle.method.context import Context, LossSetup
from metastyle.method.losses import content_targets, perceptual_loss, style_targets
from metastyle.method.nets import TransformerNet, is_instance_norm

STREAM_ADAPT = 11


@dataclasses.dataclass(frozen=True)
class StepInfo:
    """What the training callback receives after every step."""

    step: int
    loss: float
    content: float
    style: float
    seconds: float  # training time since the loop started (its steps, checkpoints and hooks excluded)


def trainable(net: torch.nn.Module, which: str) -> list[torch.nn.Parameter]:
    """``all`` parameters, or only the InstanceNorm affine ones (``in``; official ``--only-in 1``)."""
    if which not in ("all", "in"):
        raise ValueError(f"params must be 'all' or 'in', got {which!r}")
    return [p for n, p in net.named_parameters() if which == "all" or is_instance_norm(n)]


def _setting(ctx: LossSetup, name: str, given, default):
    """``given``, else the config's (``Context``), else a one-line error (an ``Objective`` has no config)."""
    if given is not None:
        return given
    if isinstance(ctx, Context):
        return default(ctx.cfg)
    raise MetaStyleError(f"fit_style: pass {name}= (an Objective has no config to take it from)")


def style_step(net: TransformerNet, ctx: LossSetup, grams: dict, contents: ImageSet, *, batch: int, seed: int,
               desc: str = "adapt") -> Callable[[int], dict]:
    """The step function of one style's training (``infra.train.fit``): step t draws a content batch as a pure
    function of (seed, t), back-propagates the perceptual loss of ``net`` against the style's Gram targets
    ``grams`` and returns its ``loss``, ``content`` and ``style`` parts."""
    loss_net, spec, device = ctx.loss_net, ctx.spec, ctx.device

    def step(t: int) -> dict:
        x = contents.batch(draw(len(contents), batch, seed, STREAM_ADAPT, t), device)
        loss = perceptual_loss(loss_net, net(x), content_targets(loss_net, x, spec), grams, spec)
        if not torch.isfinite(loss.total):
            raise MetaStyleError(f"{desc} diverged at step {t}: loss is not finite (lower the learning rate)")
        loss.total.backward()
        return {"loss": loss.total.item(), "content": loss.content.item(), "style": loss.style.item()}
    return step


def fit_style(net: TransformerNet, ctx: LossSetup, style: torch.Tensor, contents: ImageSet, *,
              steps: int | None = None, lr: float | None = None, batch: int | None = None,
              params: str | None = None, seed: int | None = None, start_step: int = 0,
              optimizer_state: dict | None = None, callback: Callable[[StepInfo], None] | None = None,
              progress: bool = False, desc: str = "adapt", hook_every: int = 0,
              hook: Callable[[int, TransformerNet, torch.optim.Adam], None] | None = None,
              ) -> tuple[TransformerNet, torch.optim.Adam]:
    """Train a copy of ``net`` for ``steps`` Adam steps on one ``style`` image ``(1, 3, S, S)``.

    ``ctx`` (a ``Context``, or an ``Objective`` where there is no config) gives the loss network, the
    ``LossSpec`` and the device; ``net`` and ``style`` are moved to ``ctx.device`` here. ``steps``, ``lr``,
    ``batch``, ``params`` and ``seed`` default to the context's config (``adapt.*``, ``run.seed``); with an
    ``Objective`` they must be given.

    Returns the trained copy and its optimiser (for checkpoints). ``start_step``/``optimizer_state``
    continue an interrupted run exactly (batches depend only on (seed, step)). ``hook(step, net, opt)`` runs
    after every ``hook_every``-th step and after the last one (checkpoints, held-out evaluation); the time it
    takes is excluded from ``StepInfo.seconds``. The network is in train mode again when the hook returns.
    """
    steps = _setting(ctx, "steps", steps, lambda c: c.adapt.steps)
    lr = _setting(ctx, "lr", lr, lambda c: c.adapt.lr)
    batch = _setting(ctx, "batch", batch, lambda c: c.adapt.batch)
    params = _setting(ctx, "params", params, lambda c: c.adapt.params)
    seed = _setting(ctx, "seed", seed, lambda c: c.run.seed)
    net = copy.deepcopy(net).to(ctx.device).train()
    opt = torch.optim.Adam(trainable(net, params), lr=lr)
    if optimizer_state is not None:
        opt.load_state_dict(optimizer_state)
    grams = style_targets(ctx.loss_net, style.to(ctx.device), ctx.spec)  # the style's targets, once
    seconds = 0.0

    def after(step: int, stats: dict, took: float) -> None:
        nonlocal seconds
        seconds += took
        if callback is not None:
            callback(StepInfo(step, **stats, seconds=seconds))

    def save(step: int) -> None:
        hook(step, net, opt)
        net.train()

    train.fit(opt, style_step(net, ctx, grams, contents, batch=batch, seed=seed, desc=desc), steps,
              start=start_step, after=after, save=save if hook is not None else None, every=hook_every,
              progress=progress, desc=desc)
    return net.eval(), opt


def adapt(theta: TransformerNet, ctx: Context, style: torch.Tensor, contents: ImageSet, *,
          steps: int | None = None, params: str | None = None, callback=None, progress: bool = False,
          ) -> TransformerNet:
    """Adapt theta to ``style`` with the config's adaptation settings (official: Adam 1e-3, 200 steps, all).

    Example:
        >>> theta, _ = nets.load_model("runs/quick/theta.pt")
        >>> model = adapt(theta, ctx, style, content_set(ctx.splits.content_train, 256))
    """
    model, _ = fit_style(theta, ctx, style, contents, steps=steps, params=params, callback=callback,
                         progress=progress)
    return model


def save_adapted(model: TransformerNet, path: str | Path, ctx: Context, *, style_name: str, theta_path: str,
                 steps: int, history: list[dict] | None = None) -> Path:
    """Write an adapted model with its provenance (theta, style, settings, loss network)."""
    return checkpoint.save(checkpoint.model_record(
        model, **ctx.record(), role="adapted", style=style_name, theta=str(theta_path), steps=steps,
        history=history or []), path)
