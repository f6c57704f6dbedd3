"""``metastyle stylize-video`` and ``metastyle video-metrics`` (paper E.6; docs/interactive.md)."""
from __future__ import annotations

from pathlib import Path

from metastyle.data.video_io import PIX_FMTS, VIDEO_SUFFIXES, probe, read_frames
from metastyle.method.video import comparison_size, stylize_video

#: the most frames ``--batch`` takes at once
MAX_BATCH = 1024


def add_commands(subparsers) -> None:
    """``metastyle stylize-video`` and ``metastyle video-metrics``."""
    v = subparsers.add_parser("stylize-video", help="stylise a video frame by frame (H.264 MP4 out)")
    v.add_argument("input", help="input video")
    v.add_argument("output", help="output video (.mp4)")
    v.add_argument("--model", required=True, help="model checkpoint (.pt)")
    v.add_argument("--batch", type=int, default=8, help="frames per forward pass (default 8)")
    v.add_argument("--keep-audio", action="store_true", help="copy the input's audio (dropped by default)")
    v.add_argument("--max-side", type=int, default=0, help="downsize larger frames to this side first")
    v.add_argument("--pix-fmt", choices=PIX_FMTS, default="auto", help="auto: yuv420p, yuv444p for odd sizes")
    v.add_argument("--device", default="auto")
    v.add_argument("--no-progress", action="store_true")
    v.add_argument("--overwrite", action="store_true", help="replace an existing output video")
    v.set_defaults(func=_cmd_stylize_video)

    m = subparsers.add_parser("video-metrics", help="temporal warping error and flicker of a stylised video")
    m.add_argument("input", help="the input video (optical flow is computed on it)")
    m.add_argument("output", nargs="?", help="the stylised video (default: the input itself, a lower bound)")
    m.add_argument("--max-side", type=int, default=0)
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_cmd_video_metrics)


def _cmd_stylize_video(args) -> int:
    from metastyle.app.flags import bounded, check_max_side, require
    from metastyle.data.video_io import _target_size
    from metastyle.infra.claims import check_output
    from metastyle.infra.runtime import check_fits, resolve_device
    from metastyle.method.context import INFER_BYTES_PER_PIXEL
    from metastyle.method.nets import load_model

    check_max_side(args.max_side)
    require(args.batch >= 1, "--batch", args.batch, ">= 1")
    bounded(args.batch, "--batch", 1, MAX_BATCH)
    out = Path(args.output)
    require(out.suffix.lower() in VIDEO_SUFFIXES, "the output", str(out),
            f"a video file ({', '.join(VIDEO_SUFFIXES)})")
    meta = probe(args.input)  # a missing or corrupt input fails before the model is loaded
    check_output(out, overwrite=args.overwrite, what="output video", inputs=[args.input, args.model])
    device = resolve_device(args.device)
    w, h = _target_size(*meta["size"], args.max_side)
    check_fits(f"stylising {args.batch} frame(s) of {w}x{h} px at once", args.batch * w * h * INFER_BYTES_PER_PIXEL,
               device, "lower --batch or --max-side")
    from metastyle.study.lab.perf import AutoStylizer, compile_note

    net, _ = load_model(args.model, device)
    net = AutoStylizer(net, on_compile=compile_note)  # the fast path where it pays (docs/performance.md)
    out = stylize_video(args.input, args.output, net, batch=args.batch, keep_audio=args.keep_audio,
                        max_side=args.max_side, progress=not args.no_progress, pix_fmt=args.pix_fmt)
    print(out)
    return 0


def _cmd_video_metrics(args) -> int:
    import json

    from metastyle.app.flags import check_max_side
    from metastyle.study.temporal import temporal_metrics

    check_max_side(args.max_side)
    out = args.output or args.input
    res = temporal_metrics(read_frames(args.input, size=comparison_size(args.input, out, args.max_side)),
                           read_frames(out, args.max_side))
    d = res.to_dict()
    print(json.dumps(d, indent=1) if args.json else "\n".join(f"{k}: {v}" for k, v in d.items()))
    return 0
