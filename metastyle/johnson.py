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

import json
from pathlib import Path
from typing import Callable

import torch

from . import checkpoint, runtime
from .adapt import StepInfo, fit_style
from .context import Context
from .data import ImageSet
from .errors import MetaStyleError
from .nets import TransformerNet
from .runlog import RunLog

#: Steps per profile. paper: two epochs of COCO-2014 train (82,783 images) at batch 4 = 41,392, rounded as
#: Johnson et al. report "about 40,000 iterations". quick: what two CPU cores do in about ten minutes at 96 px.
STEPS = {"paper": 40_000, "quick": 300, "smoke": 4}
LOG_FIELDS = ["loss", "content", "style", "seconds"]


def random_init(seed: int = 0) -> TransformerNet:
    """PyTorch's default initialisation of a fresh TransformerNet, seeded (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformerNet()


def init_model(init: str | Path | TransformerNet, seed: int = 0) -> tuple[TransformerNet, str]:
    """(network, label) for ``init``: ``"random"``, a model checkpoint path (e.g. theta.pt) or a network."""
    if isinstance(init, TransformerNet):
        return init, "given"
    if str(init) == "random":
        return random_init(seed), f"random seed={seed}"
    net, _ = checkpoint.load_model(init)
    return net, str(init)


def train_johnson(ctx: Context, style: torch.Tensor, contents: ImageSet, out_dir: str | Path, *,
                  init: str | Path | TransformerNet = "random", steps: int | None = None,
                  style_name: str = "style", ckpt_every: int | None = None, resume: bool = False,
                  callback: Callable[[StepInfo], None] | None = None, progress: bool = False,
                  model_path: str | Path | None = None) -> tuple[TransformerNet, Path]:
    """Train one style's feed-forward network; returns it and the path of its model file.

    Args:
        style: ``(1, 3, S, S)`` in [0, 1]; contents: training contents at ``adapt.content_size``.
        init: ``"random"`` (Johnson et al.), a checkpoint path (e.g. theta: "Johnson initialised by
            MetaStyle"), or a network.
        steps: default ``STEPS[profile]``. ckpt_every: default ``meta.ckpt_every``.
        resume: continue from ``out_dir/train_state.pt`` exactly (batches depend only on (seed, step)).
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
    out.mkdir(parents=True, exist_ok=True)
    model_path = Path(model_path) if model_path else out / "model.pt"
    state_path = out / "train_state.pt"
    net, init_label = init_model(init, cfg.run.seed)
    start, opt_state = 0, None
    if resume:
        if not state_path.exists():
            raise MetaStyleError(f"--resume given but no {state_path} to resume from")
        state = checkpoint.load(state_path, "metastyle-train")
        if state.get("role") != "johnson-train" or state.get("style") != style_name:
            raise MetaStyleError(f"{state_path} is not a Johnson run for style {style_name!r}")
        net.load_state_dict(state["model"])
        opt_state, start, init_label = state["optimizer"], state["step"], state["init"]
        runtime.set_rng_state(state["rng"])
    meta = dict(**ctx.record(), style=style_name, init=init_label)
    (out / "config.json").write_text(json.dumps({**meta, "method": "johnson", "steps": steps}, indent=1,
                                                default=str))
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

    a = cfg.adapt
    try:
        model, _ = fit_style(net.to(ctx.device), ctx.loss_net, ctx.spec, style.to(ctx.device), contents,
                             steps=steps, lr=a.lr, batch=a.batch, params="all", seed=cfg.run.seed,
                             start_step=start, optimizer_state=opt_state, callback=on_step, progress=progress,
                             desc=f"johnson [{ctx.loss_net.info.name}]",
                             hook_every=ckpt_every or cfg.meta.ckpt_every, hook=save_state)
    finally:
        log.close()
    checkpoint.save(checkpoint.model_record(model, **meta, role="johnson", steps=steps), model_path)
    return model, model_path


# ------------------------------------------------------------------------------------------------- CLI
def cmd_johnson(args) -> int:
    from .checkpoint import check_output
    from .cli import config_from_args, require, single_image
    from .context import make_context
    from .data import content_set, load_image, resize_square, source_items, to_tensor

    cfg = config_from_args(args)
    require(args.steps is None or args.steps >= 1, "--steps", args.steps, ">= 1")
    require(args.ckpt_every is None or args.ckpt_every >= 1, "--ckpt-every", args.ckpt_every, ">= 1")
    out = check_output(args.output, overwrite=args.overwrite or args.resume, what="model")
    style_path = single_image(args.style)
    if args.init != "random" and not Path(args.init).is_file():
        raise MetaStyleError(f"--init must be 'random' or a model checkpoint file; no such file: {args.init}")
    runtime.seed_everything(cfg.run.seed)
    items = source_items(args.contents, "content") if args.contents else None
    ctx = make_context(cfg, with_data=items is None)
    items = items if items is not None else ctx.splits.content_train
    style = to_tensor(resize_square(load_image(style_path), cfg.adapt.style_size))[None]
    run_dir = Path(args.run_dir) if args.run_dir else out.parent / f"{out.stem}.run"
    history = []
    _, path = train_johnson(ctx, style, content_set(items, cfg.adapt.content_size), run_dir, init=args.init,
                            steps=args.steps, style_name=style_path.stem, ckpt_every=args.ckpt_every,
                            resume=args.resume, callback=history.append, progress=not args.no_progress,
                            model_path=out)
    tail = f" (loss {history[0].loss:.4g} -> {history[-1].loss:.4g})" if history else ""
    print(f"Johnson model written to {path}{tail}; log and train state in {run_dir}")
    return 0


def add_commands(sub) -> None:
    from .cli import add_config_flags

    p = sub.add_parser("johnson", help="Johnson et al. baseline: train a network for one style")
    p.add_argument("style", help="style image")
    p.add_argument("--init", default="random", help="random | PATH of a model checkpoint (e.g. theta.pt)")
    p.add_argument("-o", "--output", required=True, help="model file (.pt)")
    p.add_argument("--steps", type=int, default=None, help="default: per profile (johnson.STEPS)")
    p.add_argument("--contents", help="folder of content images (default: the profile's training contents)")
    p.add_argument("--run-dir", help="log.csv, train_state.pt, config.json (default OUT.run/ beside OUT)")
    p.add_argument("--ckpt-every", type=int, default=None, help="default: meta.ckpt_every")
    p.add_argument("--resume", action="store_true", help="continue from <run-dir>/train_state.pt")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output model")
    add_config_flags(p, ("data", "loss", "adapt", "run"))
    p.set_defaults(func=cmd_johnson)
