"""Subcommands of the baselines: ``metastyle gatys``, ``johnson``, ``train-plain``, ``arbitrary-train`` and
``arbitrary-stylize`` (docs/baselines.md, docs/arbitrary.md)."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from metastyle import config
from metastyle.app.flags import (
    SECTIONS,
    add_config_flags,
    add_overwrite_flag,
    bounded,
    config_from_args,
    default_runs_dir,
    require,
    single_image,
)
from metastyle.baselines.arbitrary import METHODS
from metastyle.baselines.arbitrary.common import ENCODER_CHOICES
from metastyle.baselines.gatys import ADAM_LR, BUDGETS, INITS, OPTIMIZERS, gatys, load_pair
from metastyle.baselines.johnson import train_johnson
from metastyle.baselines.plain import train_plain
from metastyle.config import MAX_IMAGE_SIDE, MAXIMA, MIN_IMAGE_SIDE
from metastyle.data.images import load_image, resize_square, save_image, to_tensor, write_image
from metastyle.data.sets import content_set, make_splits, source_items
from metastyle.errors import MetaStyleError
from metastyle.infra import files, runtime
from metastyle.infra.claims import check_output
from metastyle.infra.runs import RUN_FILES
from metastyle.method.context import make_context

#: the most steps or iterations a flag accepts (as ``meta.iterations``)
MAX_STEPS = MAXIMA["meta.iterations"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register every baseline subcommand on the ``metastyle`` parser."""
    add_gatys(sub)
    add_johnson(sub)
    add_train_plain(sub)
    add_arbitrary(sub)


def _check_args(args) -> None:
    require(args.size is None or args.size >= MIN_IMAGE_SIDE, "--size", args.size, f">= {MIN_IMAGE_SIDE} px")
    bounded(args.size, "--size", MIN_IMAGE_SIDE, MAX_IMAGE_SIDE)
    require(args.iterations is None or args.iterations >= 1, "--iterations", args.iterations, ">= 1")
    bounded(args.iterations, "--iterations", 1, MAX_STEPS)
    require(args.lr is None or (math.isfinite(args.lr) and args.lr > 0), "--lr", args.lr, "a finite number > 0")


def cmd_gatys(args) -> int:
    from metastyle.infra import runtime
    cfg = config_from_args(args)
    budget = BUDGETS[cfg.profile]
    _check_args(args)
    inputs = [args.content, args.style, None if args.init in INITS else args.init]
    out, record_path = Path(args.output), Path(args.output).with_suffix(".json")
    check_output(out, overwrite=args.overwrite, inputs=inputs, others=[record_path])
    check_output(record_path, overwrite=args.overwrite, what="record", inputs=inputs)
    runtime.seed_everything(cfg.run.seed)
    ctx = make_context(cfg, with_data=False)
    size = args.size or budget.size
    content, style = load_pair(args.content, args.style, size, ctx.device)
    init = args.init
    if init not in INITS:
        img = load_image(init).resize((content.shape[-1], content.shape[-2]))
        init = to_tensor(img)[None].to(ctx.device)
    res = gatys(content, style, ctx, iterations=args.iterations or budget.iterations,
                optimizer=args.optimizer or budget.optimizer, init=init, lr=args.lr, seed=cfg.run.seed,
                progress=not args.no_progress)
    record = {**ctx.record(), "method": "gatys", "content": str(args.content), "style": str(args.style),
              "init": args.init, "optimizer": res.optimizer, "iterations": res.iterations, "size": size,
              "seconds": res.seconds, "history": res.history_rows()}
    with files.atomic_paths(out, record_path) as (image_tmp, record_tmp):  # the image and its record land together
        write_image(res.image, image_tmp, like=out)
        record_tmp.write_text(json.dumps(record, indent=1, default=str))
    h0, h1 = res.history[0], res.history[-1]
    print(f"{out} written: loss {h0.loss:.4g} -> {h1.loss:.4g} in {res.iterations} {res.optimizer} "
          f"iterations, {res.seconds:.1f} s [{ctx.loss_net.info.label()}]")
    return 0


def add_gatys(sub) -> None:
    p = sub.add_parser("gatys", help="Gatys et al. baseline: optimise the image itself")
    p.add_argument("content", help="content image")
    p.add_argument("style", help="style image")
    p.add_argument("-o", "--output", required=True, help="output image (a .json record is written beside it)")
    p.add_argument("--iterations", type=int, default=None, help="default: per profile (gatys.BUDGETS)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="default: per profile (lbfgs)")
    p.add_argument("--init", default="content", help="content | noise | PATH of a starting image")
    p.add_argument("--size", type=int, default=None, help="long side in px (default: per profile)")
    p.add_argument("--lr", type=float, default=None, help=f"lbfgs 1.0, adam {ADAM_LR} (on logits)")
    p.add_argument("--no-progress", action="store_true")
    add_overwrite_flag(p)
    add_config_flags(p, ("loss", "run"))
    p.set_defaults(func=cmd_gatys)




def cmd_johnson(args) -> int:
    cfg = config_from_args(args)
    require(args.steps is None or args.steps >= 1, "--steps", args.steps, ">= 1")
    bounded(args.steps, "--steps", 1, MAX_STEPS)
    require(args.ckpt_every is None or args.ckpt_every >= 1, "--ckpt-every", args.ckpt_every, ">= 1")
    bounded(args.ckpt_every, "--ckpt-every", 1, MAX_STEPS)
    if args.resume and args.overwrite:
        raise MetaStyleError("--resume and --overwrite contradict each other; pass one")
    style_path = single_image(args.style)
    if args.init != "random" and not Path(args.init).is_file():
        raise MetaStyleError(f"--init must be 'random' or a model checkpoint file; no such file: {args.init}")
    out = Path(args.output)
    run_dir = Path(args.run_dir) if args.run_dir else out.parent / f"{out.stem}.run"
    out = check_output(out, overwrite=args.overwrite or args.resume, what="model",
                       inputs=[style_path, None if args.init == "random" else args.init],
                       others=[run_dir / name for name in RUN_FILES])
    runtime.seed_everything(cfg.run.seed)
    items = source_items(args.contents, "content") if args.contents else None
    ctx = make_context(cfg, with_data=items is None)
    items = items if items is not None else ctx.splits.content_train
    style = to_tensor(resize_square(load_image(style_path), cfg.adapt.style_size))[None]
    history = []
    _, path = train_johnson(ctx, style, content_set(items, cfg.adapt.content_size), run_dir, init=args.init,
                            steps=args.steps, style_name=style_path.stem, ckpt_every=args.ckpt_every,
                            resume=args.resume, callback=history.append, progress=not args.no_progress,
                            model_path=out, overwrite=args.overwrite)
    tail = f" (loss {history[0].loss:.4g} -> {history[-1].loss:.4g})" if history else ""
    print(f"Johnson model written to {path}{tail}; log and train state in {run_dir}")
    return 0


def add_johnson(sub) -> None:
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
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output model and a Johnson run already in the run folder")
    add_config_flags(p, ("data", "loss", "adapt", "run"))
    p.set_defaults(func=cmd_johnson)




def cmd_train_plain(args) -> int:
    cfg = config_from_args(args)
    out = Path(args.out) if args.out else default_runs_dir(cfg) / f"plain-{cfg.profile}"
    if args.resume and args.overwrite:
        raise MetaStyleError("--resume and --overwrite contradict each other; pass one")
    _, path = train_plain(make_context(cfg), out, resume=args.resume, progress=not args.no_progress,
                          overwrite=args.overwrite)
    print(f"theta_plain written to {path}")
    return 0


def add_train_plain(sub) -> None:
    p = sub.add_parser("train-plain", help="control: train theta_plain by multi-style training (no inner loop)")
    add_config_flags(p, SECTIONS["train"])
    p.add_argument("--out", help="run folder (default $METASTYLE_RUNS/plain-<profile>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/train_state.pt")
    p.add_argument("--overwrite", action="store_true", help="delete a plain run already in <out> and start over")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train_plain)




def cmd_train_arbitrary(args) -> int:
    m = METHODS[args.method]
    if args.iterations < 0:
        raise MetaStyleError(f"--iterations must be >= 0 (0: the profile's count), got {args.iterations}")
    bounded(args.iterations, "--iterations", 0, MAX_STEPS)
    bounded(args.seed, "--seed", 0, MAXIMA["run.seed"])
    config.load(args.profile)  # an unknown profile is refused before any work
    runtime.seed_everything(args.seed)
    out = check_output(args.output, overwrite=args.overwrite, what="weights file")
    splits = make_splits(config.load(args.profile).data, args.seed)
    model = m.build(args.encoder)
    overrides = {"iterations": args.iterations} if args.iterations else {}
    s = m.settings(args.profile, **overrides)
    history = m.train(model, s, splits, None, progress=not args.no_progress, seed=args.seed)
    m.save(model, out, settings=s.to_dict(), history=history, profile=args.profile, seed=args.seed)
    print(f"{m.name} ({model.encoder.info.label()}) written to {out}; final loss {history[-1]['loss']:.4g}"
          if history else f"{m.name} written to {out}")
    return 0


def cmd_stylize_arbitrary(args) -> int:
    m = METHODS[args.method]
    if args.alpha is not None and "alpha" not in m.knobs:
        raise MetaStyleError(f"{args.method} has no content-style trade-off (--alpha)")
    if args.alpha is not None and not 0 <= args.alpha <= 1:  # NaN fails this test too
        raise MetaStyleError(f"--alpha must be in [0, 1], got {args.alpha}")
    check_output(args.output, overwrite=args.overwrite, inputs=[args.content, args.style, args.weights])
    model, meta = m.load(args.weights)
    knobs = {"alpha": args.alpha} if args.alpha is not None else {}
    content, style = to_tensor(load_image(args.content)), to_tensor(load_image(args.style))
    out = m.stylize(model, content, style, **knobs)
    save_image(out, args.output)
    print(f"{args.output} ({m.name}, encoder {model.encoder.info.label()})")
    return 0


def add_arbitrary(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("arbitrary-train", help="train an arbitrary-style baseline of Table 1")
    t.add_argument("method", choices=tuple(METHODS))
    t.add_argument("--profile", default="quick", help="paper | quick | smoke (data and training recipe)")
    t.add_argument("-o", "--output", required=True, help="weights file (.pt)")
    t.add_argument("--encoder", default="auto-vgg19", choices=ENCODER_CHOICES,
                   help="VGG-19 encoder policy (Meta Networks uses the matching VGG-16)")
    t.add_argument("--iterations", type=int, default=0, help="override the profile's iteration count")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--overwrite", action="store_true", help="replace an existing weights file")
    t.set_defaults(func=cmd_train_arbitrary)

    s = sub.add_parser("arbitrary-stylize", help="stylise one content image with one style image")
    s.add_argument("method", choices=tuple(METHODS))
    s.add_argument("content")
    s.add_argument("style")
    s.add_argument("--weights", required=True, help="file written by arbitrary-train")
    s.add_argument("-o", "--output", required=True, help="output image")
    s.add_argument("--alpha", type=float, default=None, help="content-style trade-off in [0, 1] (adain, wct, avatar)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output image")
    s.set_defaults(func=cmd_stylize_arbitrary)
