"""``metastyle arbitrary-train METHOD`` and ``metastyle arbitrary-stylize METHOD CONTENT STYLE``."""
from __future__ import annotations

import argparse

from ..errors import MetaStyleError


def cmd_train(args) -> int:
    from .. import config, data, runtime
    from ..checkpoint import check_output
    from . import METHODS

    m = METHODS[args.method]
    if args.iterations < 0:
        raise MetaStyleError(f"--iterations must be >= 0 (0: the profile's count), got {args.iterations}")
    runtime.seed_everything(args.seed)
    out = check_output(args.output, overwrite=args.overwrite, what="weights file")
    splits = data.make_splits(config.load(args.profile).data, args.seed)
    model = m.build(args.encoder)
    overrides = {"iterations": args.iterations} if args.iterations else {}
    s = m.settings(args.profile, **overrides)
    history = m.train(model, s, splits, None, progress=not args.no_progress, seed=args.seed)
    m.save(model, out, settings=s.to_dict(), history=history, profile=args.profile, seed=args.seed)
    print(f"{m.name} ({model.encoder.info.label()}) written to {out}; final loss {history[-1]['loss']:.4g}"
          if history else f"{m.name} written to {out}")
    return 0


def cmd_stylize(args) -> int:
    from ..checkpoint import check_output
    from ..data import load_image, save_image, to_tensor
    from . import METHODS

    m = METHODS[args.method]
    if args.alpha is not None and "alpha" not in m.knobs:
        raise MetaStyleError(f"{args.method} has no content-style trade-off (--alpha)")
    if args.alpha is not None and not 0 <= args.alpha <= 1:  # NaN fails this test too
        raise MetaStyleError(f"--alpha must be in [0, 1], got {args.alpha}")
    check_output(args.output, overwrite=args.overwrite)
    model, meta = m.load(args.weights)
    knobs = {"alpha": args.alpha} if args.alpha is not None else {}
    content, style = to_tensor(load_image(args.content)), to_tensor(load_image(args.style))
    out = m.stylize(model, content, style, **knobs)
    save_image(out, args.output)
    print(f"{args.output} ({m.name}, encoder {model.encoder.info.label()})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    from . import METHODS
    from .common import ENCODER_CHOICES

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
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("arbitrary-stylize", help="stylise one content image with one style image")
    s.add_argument("method", choices=tuple(METHODS))
    s.add_argument("content")
    s.add_argument("style")
    s.add_argument("--weights", required=True, help="file written by arbitrary-train")
    s.add_argument("-o", "--output", required=True, help="output image")
    s.add_argument("--alpha", type=float, default=None, help="content-style trade-off in [0, 1] (adain, wct, avatar)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing output image")
    s.set_defaults(func=cmd_stylize)
