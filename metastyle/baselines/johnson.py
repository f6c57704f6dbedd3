"""Johnson et al. (2016) baseline: train the TransformerNet for one style, from scratch or from a given init.

The step is ``adapt.style_step``, the one MetaStyle's adaptation takes over the same loop, so "Johnson for 200
steps from a random init" and "adapt theta for 200 steps" differ only in where they start. Settings: the
config's adaptation section, i.e. the published Johnson recipe (Adam 1e-3, batch 4, contents 256 px, every
parameter trained); the style is ``Resize((adapt.style_size,)*2)`` (512 px under ``paper``, as MetaStyle's
adaptation; Johnson's code uses the style at its own size by default). The number of steps is per profile (``STEPS``).
Deviations from Johnson et al.: TransformerNet with the official MetaStyle changes (sigmoid output,
instance norm; see ``nets``), no total-variation term (``loss.tv_weight`` adds it), relu2_2 content.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import torch

from metastyle.data.sets import ImageSet
from metastyle.errors import CheckpointError, MetaStyleError
from metastyle.infra import checkpoint, train
from metastyle.method import nets
from metastyle.method.adapt import StepInfo, style_step, trainable
from metastyle.method.context import Context
from metastyle.method.losses import style_targets
from metastyle.method.nets import TransformerNet, random_init

#: Steps per profile. paper: two epochs of COCO-2014 train (82,783 images) at batch 4 = 41,392, rounded as
#: Johnson et al. report "about 40,000 iterations". quick: what two CPU cores do in about ten minutes at 96 px.
STEPS = {"paper": 40_000, "quick": 300, "smoke": 4}


LOG_FIELDS = ["loss", "content", "style", "seconds"]


def init_model(init: str | Path | TransformerNet, seed: int = 0) -> tuple[TransformerNet, str]:
    """(network, label) for ``init``: ``"random"``, a model checkpoint path (e.g. theta.pt) or a network."""
    if isinstance(init, TransformerNet):
        return init, "given"
    if str(init) == "random":
        return random_init(seed), f"random seed={seed}"
    net, _ = nets.load_model(init)
    return net, str(init)


def train_johnson(ctx: Context, style: torch.Tensor, contents: ImageSet, out_dir: str | Path, *,
                  init: str | Path | TransformerNet = "random", steps: int | None = None,
                  style_name: str = "style", ckpt_every: int | None = None, resume: bool = False,
                  callback: Callable[[StepInfo], None] | None = None, progress: bool = False,
                  model_path: str | Path | None = None, overwrite: bool = False) -> tuple[TransformerNet, Path]:
    """Train one style's feed-forward network; returns it and the path of its model file.

    Args:
        style: ``(1, 3, S, S)`` in [0, 1]; contents: training contents at ``adapt.content_size``.
        init: ``"random"`` (Johnson et al.), a checkpoint path (e.g. theta: "Johnson initialised by
            MetaStyle"), or a network (never modified).
        steps: default ``STEPS[profile]``. ckpt_every: default ``meta.ckpt_every``.
        resume: continue from ``out_dir/train_state.pt`` exactly (batches depend only on (seed, step)), with
            meta-training's checks (``infra.train.Run.resume``) and the style and init the state records.
            Without it, a folder holding a run is refused unless ``overwrite`` (which deletes that run's files),
            and a run of another kind is refused always.
    Writes:
        ``out_dir/config.json``, ``out_dir/log.csv`` (one row per step; ``seconds``: training time so far in
        this process), ``out_dir/train_state.pt`` (model, optimiser, step, RNG; atomic, every ``ckpt_every``
        steps and at the end) and ``model_path`` (default ``out_dir/model.pt``; a ``metastyle-model`` file
        ``stylize`` reads).

    Example:
        >>> net, path = train_johnson(ctx, style, content_set(ctx.splits.content_train, 256), "runs/johnson")
    """
    cfg = ctx.cfg
    steps = STEPS[cfg.profile] if steps is None else steps
    model_path = Path(model_path) if model_path else Path(out_dir) / "model.pt"
    with train.open_run(out_dir, "johnson", LOG_FIELDS, resume=resume, overwrite=overwrite,
                        role="johnson-train") as run:
        net, init_label = init_model(init, cfg.run.seed)
        net = copy.deepcopy(net).to(ctx.device).train()
        opt = torch.optim.Adam(trainable(net, "all"), lr=cfg.adapt.lr)
        start = run.resume(net, opt, ctx, last=steps, limit="--steps")
        if resume:
            if run.state.get("style") != style_name:
                raise MetaStyleError(f"{run.state_path} is not a Johnson run for style {style_name!r}")
            if not isinstance(run.state.get("init"), str):
                raise CheckpointError(f"{run.state_path} is damaged: it records no init")
            init_label = run.state["init"]
        meta = dict(**ctx.record(), style=style_name, init=init_label)
        run.begin({**meta, "method": "johnson", "steps": steps}, meta | {"role": "johnson-train"})
        grams = style_targets(ctx.loss_net, style.to(ctx.device), ctx.spec)
        seconds = 0.0

        def after(step: int, stats: dict, took: float) -> None:
            nonlocal seconds
            seconds += took
            run.step_done(step, stats | {"seconds": seconds})
            if callback is not None:
                callback(StepInfo(step, **stats, seconds=seconds))

        train.fit(opt, style_step(net, ctx, grams, contents, batch=cfg.adapt.batch, seed=cfg.run.seed,
                                  desc="johnson"),
                  steps, start=start, after=after, save=run.save, every=ckpt_every or cfg.meta.ckpt_every,
                  progress=progress, desc=f"johnson [{ctx.loss_net.info.name}]")
        net.eval()
        checkpoint.save(checkpoint.model_record(net, **meta, role="johnson", steps=steps), model_path)
    return net, model_path
