"""The ``metastyle`` command line. Flags for configuration come from the dataclasses in ``config``
(``--meta.iterations 10``, ``--data.content embedded``): defaults are never restated here."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from metastyle import passive_openmp_default

passive_openmp_default()  # before anything imports torch (docs/performance.md)

from metastyle.app import baselines_cli, video_cli  # noqa: E402
from metastyle.app.flags import (  # noqa: E402
    SECTIONS,
    add_config_flags,
    add_overwrite_flag,
    check_max_side,
    config_from_args,
    default_runs_dir,
    single_image,
)
from metastyle.errors import MetaStyleError  # noqa: E402
from metastyle.study.lab import bench, perf  # noqa: E402


def cmd_train(args) -> int:
    from metastyle.method.meta import meta_train

    cfg = config_from_args(args)
    out = Path(args.out) if args.out else default_runs_dir(cfg) / f"meta-{cfg.profile}"
    if args.resume and args.overwrite:
        raise MetaStyleError("--resume and --overwrite contradict each other; pass one")
    _, theta = meta_train(cfg, out, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    print(f"theta written to {theta}")
    return 0


def cmd_adapt(args) -> int:
    from metastyle.data.images import load_image, resize_square, to_tensor
    from metastyle.data.sets import content_set, source_items
    from metastyle.infra.claims import check_output
    from metastyle.method.adapt import adapt, save_adapted
    from metastyle.method.context import make_context
    from metastyle.method.nets import load_model

    cfg = config_from_args(args)
    style_path = single_image(args.style)
    style_img = load_image(style_path)
    out = check_output(args.output, overwrite=args.overwrite, what="adapted model",
                       inputs=[args.theta, style_path, args.contents])
    theta, _ = load_model(args.theta)
    contents = (source_items(args.contents, "content") if args.contents
                else None)
    ctx = make_context(cfg, with_data=contents is None)
    items = contents if contents is not None else ctx.splits.content_train
    style = to_tensor(resize_square(style_img, cfg.adapt.style_size))[None].to(ctx.device)
    history = []
    model = adapt(theta, ctx, style, content_set(items, cfg.adapt.content_size),
                  callback=lambda s: history.append(dataclasses.asdict(s)), progress=not args.no_progress)
    save_adapted(model, out, ctx, style_name=style_path.stem, theta_path=args.theta, steps=cfg.adapt.steps,
                 history=history)
    print(f"adapted model written to {out} (final loss {history[-1]['loss']:.4g})" if history else
          f"model written to {out}")
    return 0


def cmd_stylize(args) -> int:
    from metastyle.data.images import find_images
    from metastyle.infra.runtime import resolve_device
    from metastyle.method.nets import load_model
    from metastyle.method.stylize import output_paths, stylize_files

    max_side = check_max_side(args.max_side)
    net, _ = load_model(args.model, resolve_device(args.device))
    inputs = [p for src in args.inputs for p in find_images(src)]
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise MetaStyleError(f"-o {out} is a file; stylize writes into a folder")
    output_paths(inputs, out, overwrite=args.overwrite)  # every clash refused before anything is written
    from metastyle.infra.claims import make_folder

    created = make_folder(out, 'output folder') if args.mkdir else []
    if not out.is_dir():
        raise MetaStyleError(f"output folder does not exist: {out} (pass --mkdir to create it)")
    try:
        fast = perf.AutoStylizer(net.eval(), on_compile=perf.compile_note)  # docs/performance.md
        stylize_files(fast, inputs, out, max_side=max_side, overwrite=args.overwrite,
                      on_written=lambda p: print(p, flush=True))
    except BaseException:
        for folder in created:  # the folders --mkdir made, if the failure left them empty
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return 0


def cmd_data(args) -> int:
    from metastyle.data import sources

    if args.source == "examples":
        dest = sources.download_examples(Path(args.data_dir) / "examples")
        print(f"example images in {dest}")
    elif args.source == "embedded" and args.export:
        from metastyle.data.images import save_image
        from metastyle.data.sets import source_items
        from metastyle.infra.claims import make_folder

        targets = [(item, Path(args.export) / kind / f"{item.name}.png") for kind in ("content", "style")
                   for item in source_items("embedded", kind)]
        existing = [path for _, path in targets if path.exists() or path.is_symlink()]
        if existing and not args.overwrite:
            raise MetaStyleError(f"{existing[0]} already exists ({len(existing)} of the {len(targets)} files); "
                                 f"pass --overwrite to replace them")
        for item, path in targets:
            make_folder(path.parent, "--export folder")
            save_image(item.load(), path)
        print(f"embedded images written to {args.export}")
    else:
        print(sources.describe(args.source))
    return 0


def cmd_info(args) -> int:
    import torch

    from metastyle.infra import runtime
    from metastyle.method.nets import TransformerNet, count_parameters, is_instance_norm
    from metastyle.method.vgg import VGG16_LAYERS, load_loss_net

    cfg = config_from_args(args)
    net = TransformerNet()
    device = runtime.resolve_device(cfg.run.device)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss_net = load_loss_net(cfg.loss.loss_net, VGG16_LAYERS, weights=cfg.loss.vgg_weights or None,
                                 seed=cfg.loss.loss_net_seed)
    info = {
        "transformer_parameters": count_parameters(net),
        "instance_norm_parameters": count_parameters(net, is_instance_norm),
        "loss_network": loss_net.info.to_dict() | {"label": loss_net.info.label()},
        "loss_network_warnings": [str(w.message) for w in caught],
        "device": str(device), "device_name": runtime.device_name(device),
        "cuda_available": torch.cuda.is_available(), "versions": runtime.versions(),
        "git_commit": runtime.git_commit(), "profile": cfg.profile,
    }
    print(json.dumps(info, indent=1) if args.json else "\n".join(f"{k}: {v}" for k, v in info.items()))
    return 0


# ----------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metastyle", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="meta-train theta (Algorithm 1)")
    add_config_flags(t, SECTIONS["train"])
    t.add_argument("--out", help="run folder (default $METASTYLE_RUNS/meta-<profile>)")
    t.add_argument("--resume", action="store_true", help="continue from <out>/train_state.pt")
    t.add_argument("--overwrite", action="store_true", help="delete a run already in <out> and start over")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=cmd_train)

    a = sub.add_parser("adapt", help="adapt theta to one style image")
    a.add_argument("style", help="style image")
    a.add_argument("--theta", required=True, help="theta checkpoint (metastyle train's theta.pt)")
    a.add_argument("-o", "--output", required=True, help="adapted model file (.pt)")
    a.add_argument("--contents", help="folder of content images (default: the profile's training contents)")
    a.add_argument("--no-progress", action="store_true")
    add_overwrite_flag(a)
    add_config_flags(a, SECTIONS["adapt"])
    a.set_defaults(func=cmd_adapt)

    s = sub.add_parser("stylize", help="stylise images with an adapted (or any) model")
    s.add_argument("inputs", nargs="+", help="image files or folders")
    s.add_argument("--model", required=True, help="model checkpoint (.pt)")
    s.add_argument("-o", "--output", required=True, help="output folder")
    s.add_argument("--mkdir", action="store_true", help="create the output folder if missing")
    s.add_argument("--max-side", type=int, default=0, help="downsize larger inputs to this side first")
    s.add_argument("--device", default="auto")
    add_overwrite_flag(s)
    s.set_defaults(func=cmd_stylize)

    d = sub.add_parser("data", help="fetch the example images, or print the COCO/WikiArt recipes")
    d.add_argument("source", choices=("embedded", "examples", "coco", "wikiart"))
    d.add_argument("--data-dir", default="data")
    d.add_argument("--export", help="embedded: write its images as PNG files into this folder")
    add_overwrite_flag(d)
    d.set_defaults(func=cmd_data)

    i = sub.add_parser("info", help="parameter count, loss network status, device, versions")
    add_config_flags(i, SECTIONS["info"])
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    b = sub.add_parser("bench", help="benchmark stylisation, meta-training, adaptation, FLOP rates")
    bench.add_arguments(b)
    b.set_defaults(func=bench.cmd_bench)

    baselines_cli.add_commands(sub)  # gatys, johnson, train-plain, arbitrary-train, arbitrary-stylize
    video_cli.add_commands(sub)      # stylize-video, video-metrics
    return p


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one ``metastyle: warning: ...`` line (no source excerpt)."""
    print(f"metastyle: warning: {_one_line(message)}", file=sys.stderr)


#: suffixes of the files the commands read and write: an argument like ``-photo.png`` is a file name
FILE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".pt", ".pth", ".json", ".mp4",
                 ".m4v", ".mov", ".mkv", ".safetensors")


def _dash_names(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """File names that begin with a dash (``-photo.png``), which argparse would take for options, as
    ``./-photo.png``: an argument that is no option of any subcommand and names an existing path or has a
    file suffix. Everything after ``--`` is left as it is."""
    options = {o for action in parser._actions for o in action.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= {o for a in sub._actions for o in a.option_strings}
    shorts = [o for o in options if len(o) == 2]  # -oNAME: a short option with its value attached
    out = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if any(arg.startswith(o) for o in shorts) and not Path(arg).exists():
            continue
        if (len(arg) > 1 and arg.startswith("-") and arg.split("=")[0] not in options
                and (Path(arg).exists() or Path(arg).suffix.lower() in FILE_SUFFIXES)):
            out[i] = f"./{arg}"
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors (``MetaStyleError``, OS errors such as a full disk) print one line, exit 2."""
    import warnings

    parser = build_parser()
    args = parser.parse_args(_dash_names(parser, sys.argv[1:] if argv is None else [str(a) for a in argv]))
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.func(args)
        except MetaStyleError as err:
            print(f"metastyle: error: {_one_line(err)}", file=sys.stderr)
            return 2
        except OSError as err:  # environment, not a bug: missing/read-only folder, disk full, ...
            where = f": {err.filename}" if getattr(err, "filename", None) else ""
            print(f"metastyle: error: {_one_line(err.strerror or err)}{where}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("metastyle: interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())

