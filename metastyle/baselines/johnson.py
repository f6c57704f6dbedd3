"""Johnson et al. (2016) baseline: train the TransformerNet for one style, from scratch or from a given init.

The loop is ``adapt.fit_style`` (the one MetaStyle's adaptation uses), so "Johnson for 200 steps from a random
init" and "adapt theta for 200 steps" differ only in where they start. Settings: the config's adaptation
section, i.e. the published Johnson recipe (Adam 1e-3, batch 4, contents 256 px, every parameter trained);
the style is ``Resize((adapt.style_size,)*2)`` (512 px under ``paper``, as MetaStyle's adaptation; Johnson's
code uses the style at its own size by default). The number of steps is per profile (``STEPS``).
Deviations from Johnson et al.: TransformerNet with the official MetaStyle changes (sigmoid output,
instance norm; see ``nets``), no total-variation term (``loss.tv_weight`` adds it), relu2_2 content.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from metastyle.data.sets import ImageSet
from metastyle.errors import CheckpointError, MetaStyleError
from metastyle.infra import checkpoint, claims, files, runs, runtime
from metastyle.infra.runlog import RunLog
from metastyle.method import nets
from metastyle.method.adapt import StepInfo, fit_style, trainable
from metastyle.method.context import Context
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


@claims.holding_lock("out_dir")
def train_johnson(ctx: Context, style: torch.Tensor, contents: ImageSet, out_dir: str | Path, *,
                  init: str | Path | TransformerNet = "random", steps: int | None = None,
                  style_name: str = "style", ckpt_every: int | None = None, resume: bool = False,
                  callback: Callable[[StepInfo], None] | None = None, progress: bool = False,
                  model_path: str | Path | None = None, overwrite: bool = False) -> tuple[TransformerNet, Path]:
    """Train one style's feed-forward network; returns it and the path of its model file.

    Args:
        style: ``(1, 3, S, S)`` in [0, 1]; contents: training contents at ``adapt.content_size``.
        init: ``"random"`` (Johnson et al.), a checkpoint path (e.g. theta: "Johnson initialised by
            MetaStyle"), or a network.
        steps: default ``STEPS[profile]``. ckpt_every: default ``meta.ckpt_every``.
        resume: continue from ``out_dir/train_state.pt`` exactly (batches depend only on (seed, step)), with
            meta-training's checks (``runs.resume``). Without it, a folder holding a run is refused unless
            ``overwrite`` (which deletes that run's files), and a run of another kind is refused always.
    Writes:
        ``out_dir/config.json``, ``out_dir/log.csv`` (one row per step), ``out_dir/train_state.pt``
        (model, optimiser, step, RNG; atomic, every ``ckpt_every`` steps and at the end) and
        ``model_path`` (default ``out_dir/model.pt``; a ``metastyle-model`` file ``stylize`` reads).

    Example:
        >>> net, path = train_johnson(ctx, style, content_set(ctx.splits.content_train, 256), "runs/johnson")
    """
    cfg = ctx.cfg
    steps = STEPS[cfg.profile] if steps is None else steps
    out = Path(out_dir)
    if not resume:  # the lock made the folder; a new run never lands on an old one
        runs.claim_run_folder(out, overwrite=overwrite, main=True, method="johnson")
    model_path = Path(model_path) if model_path else out / "model.pt"
    state_path = out / "train_state.pt"
    net, init_label = init_model(init, cfg.run.seed)
    start, opt_state = 0, None
    if resume:
        runs.require_train_state(state_path)
        state = checkpoint.load(state_path, "metastyle-train")
        if state.get("role") != "johnson-train" or state.get("style") != style_name:
            raise MetaStyleError(f"{state_path} is not a Johnson run for style {style_name!r}")
        if not isinstance(state.get("init"), str):
            raise CheckpointError(f"{state_path} is damaged: it records no init")
        # the same rules as meta-training's resume (docs/reliability.md): config, loss network, intact weights,
        # Adam and RNG states, a step within --steps, a complete log
        opt = torch.optim.Adam(trainable(net, "all"), lr=cfg.adapt.lr)  # what fit_style builds
        start = runs.resume(state_path, net, opt, ctx, log=out / "log.csv", fields=LOG_FIELDS, last=steps,
                            limit="--steps", role="johnson-train")
        opt_state, init_label = opt.state_dict(), state["init"]
    meta = dict(**ctx.record(), style=style_name, init=init_label)
    files.write_json(out / "config.json", {**meta, "method": "johnson", "steps": steps})
    log = RunLog(out / "log.csv", LOG_FIELDS)
    log.truncate(start)

    def on_step(info: StepInfo) -> None:
        log.write(info.step, {"loss": info.loss, "content": info.content, "style": info.style,
                              "seconds": info.seconds})
        if callback is not None:
            callback(info)

    def save_state(step: int, model: TransformerNet, opt) -> None:
        checkpoint.save(checkpoint.model_record(model, **meta, kind="metastyle-train", role="johnson-train",
                                                step=step, optimizer=opt.state_dict(), rng=runtime.rng_state()),
                        state_path)

    try:
        model, _ = fit_style(net, ctx, style, contents, steps=steps, params="all", start_step=start,
                             optimizer_state=opt_state, callback=on_step, progress=progress,
                             desc=f"johnson [{ctx.loss_net.info.name}]",
                             hook_every=ckpt_every or cfg.meta.ckpt_every, hook=save_state)
    finally:
        log.close()
    checkpoint.save(checkpoint.model_record(model, **meta, role="johnson", steps=steps), model_path)
    return model, model_path
