"""Video style transfer, frame by frame (paper E.6: no temporal loss, no flow, no smoothing).

Frames are streamed through ffmpeg (the binary bundled in ``imageio-ffmpeg``, the engine of imageio's
``FFMPEG`` plugin): decoded one at a time, stylised in batches of ``batch`` with ``stylize.stylize``, and
piped to libx264, so memory stays flat in the clip length. The output is written to a temporary file
beside ``out_path`` and renamed on success.

Pixel format: H.264 4:2:0 (``yuv420p``, what every player decodes) cannot code odd widths or heights (its
crop unit is 2 px). ``pix_fmt="auto"`` therefore writes yuv420p when both sides are even and yuv444p
(High 4:4:4, exact size kept) otherwise; ``pix_fmt="yuv420p"`` forces 4:2:0 by padding odd sides with one
replicated pixel (the output is then up to 1 px larger).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .errors import DataError, DataWarning, MetaStyleError

PIX_FMTS = ("auto", "yuv420p", "yuv444p")
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")  # containers that hold H.264


def _ffmpeg():
    import imageio_ffmpeg

    return imageio_ffmpeg


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else type(err).__name__)[:200]


def probe(path: str | Path) -> dict:
    """ffmpeg's metadata of a video: ``fps``, ``size`` (w, h), ``duration``, ``audio_codec`` (or absent)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such video: {path}")
    gen = _ffmpeg().read_frames(str(path))
    try:
        return next(gen)
    except (OSError, RuntimeError, StopIteration, ValueError) as err:
        raise DataError(f"cannot read video {path}: {_first_line(err)}") from None
    finally:
        gen.close()


def _target_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    if not max_side or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(16, round(w * s)), max(16, round(h * s))


def read_frames(path: str | Path, max_side: int = 0, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Stream the frames of a video as ``(H, W, 3)`` uint8 RGB arrays (downsized to ``max_side`` if > 0, or
    resized to ``size`` (w, h) if given)."""
    import cv2

    meta = probe(path)
    w, h = meta["size"]
    tw, th = size or _target_size(w, h, max_side)
    gen = _ffmpeg().read_frames(str(path), pix_fmt="rgb24")
    try:
        next(gen)
        for raw in gen:
            frame = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
            yield frame if (tw, th) == (w, h) else cv2.resize(frame, (tw, th), interpolation=cv2.INTER_AREA)
    except (OSError, RuntimeError) as err:
        raise DataError(f"cannot decode video {path}: {_first_line(err)}") from None
    finally:
        gen.close()


class FrameWriter:
    """Pipe ``(H, W, 3)`` uint8 frames to libx264 (see the module docstring for the pixel format)."""

    def __init__(self, path: str | Path, size: tuple[int, int], fps: float, pix_fmt: str = "auto",
                 crf: int = 18):
        if pix_fmt not in PIX_FMTS:
            raise MetaStyleError(f"pix_fmt must be one of {', '.join(PIX_FMTS)}, got {pix_fmt!r}")
        w, h = size
        odd = (w % 2, h % 2)
        self.pad = odd if pix_fmt == "yuv420p" else (0, 0)
        out_fmt = pix_fmt if pix_fmt != "auto" else ("yuv420p" if odd == (0, 0) else "yuv444p")
        self.size = (w + self.pad[0], h + self.pad[1])
        self.error = ""
        self.log = tempfile.TemporaryFile()  # ffmpeg's stderr: its complaint becomes part of one error line
        self.gen = _ffmpeg().write_frames(
            str(path), self.size, fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out=out_fmt,
            macro_block_size=1, quality=None, ffmpeg_log_level="error",
            output_params=["-crf", str(crf), "-preset", "medium"])
        with _stderr_to(self.log):
            self.gen.send(None)

    def ffmpeg_error(self) -> str:
        if self.log.closed:
            return self.error
        self.log.seek(0)
        lines = [ln.strip() for ln in self.log.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1][:200] if lines else ""

    def write(self, frame: np.ndarray) -> None:
        if any(self.pad):
            frame = np.pad(frame, ((0, self.pad[1]), (0, self.pad[0]), (0, 0)), mode="edge")
        self.gen.send(np.ascontiguousarray(frame))

    def close(self) -> str:
        """Finish the file; returns what ffmpeg reported (at log level ``error``: empty when all went well)."""
        try:
            self.gen.close()
            self.error = self.ffmpeg_error()
            return self.error
        finally:
            self.log.close()


@contextlib.contextmanager
def _stderr_to(file):
    """Point file descriptor 2 at ``file`` while a child process is started (it inherits it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def write_video(frames, path: str | Path, fps: float = 12.0, pix_fmt: str = "auto", *,
                shown_as: str | Path | None = None) -> Path:
    """Write an iterable of ``(H, W, 3)`` uint8 frames to an H.264 MP4, atomically. Writes: ``path``.

    An ffmpeg failure (full disk, a container that cannot hold H.264) is one ``MetaStyleError`` naming
    ``shown_as`` (default ``path``: the file the user asked for, not a temporary name)."""
    path = Path(path)
    with _atomic_video(path) as tmp:
        writer = None
        try:
            for frame in frames:
                if writer is None:
                    writer = FrameWriter(tmp, (frame.shape[1], frame.shape[0]), fps, pix_fmt)
                writer.write(frame)
            if writer is not None:
                failed = writer.close()
                if failed or not tmp.stat().st_size:
                    raise RuntimeError(failed or "ffmpeg wrote nothing")
        except (OSError, RuntimeError) as err:
            reason = (writer.ffmpeg_error() if writer is not None else "") or _first_line(err)
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            raise MetaStyleError(f"cannot write video {shown_as or path}: {reason}") from None
        except BaseException:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            raise
        if writer is None:
            raise DataError("no frames to write")
    return path


class _atomic_video:
    """Temporary file beside ``path`` with the same suffix (ffmpeg picks the container from it)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> Path:
        if not self.path.parent.is_dir():
            raise MetaStyleError(f"output folder does not exist: {self.path.parent}")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix or ".mp4",
                                   dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
                os.replace(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)
        return False


def _to_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255)  # (B, 3, H, W)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1).mul(255).add_(0.5)).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)


def stylize_frames(frames, net: torch.nn.Module, batch: int = 8) -> Iterator[np.ndarray]:
    """Stylise a stream of uint8 frames in batches of ``batch``; yields uint8 frames in order."""
    from .stylize import stylize

    if batch < 1:
        raise MetaStyleError(f"batch must be >= 1, got {batch}")
    buf: list[np.ndarray] = []
    for frame in frames:
        buf.append(frame)
        if len(buf) == batch:
            yield from _to_uint8(stylize(net, _to_tensor(buf), max_batch=batch))
            buf = []
    if buf:
        yield from _to_uint8(stylize(net, _to_tensor(buf), max_batch=batch))


def _mux_audio(video: Path, source: Path, out: Path) -> None:
    """Copy ``video``'s stream and ``source``'s audio into ``out`` (audio copied, else re-encoded to AAC)."""
    exe = _ffmpeg().get_ffmpeg_exe()
    base = [exe, "-y", "-v", "error", "-i", str(video), "-i", str(source), "-map", "0:v:0", "-map", "1:a?",
            "-c:v", "copy", "-shortest"]
    for audio in (["-c:a", "copy"], ["-c:a", "aac", "-b:a", "192k"]):
        res = subprocess.run(base + audio + [str(out)], capture_output=True, text=True)
        if res.returncode == 0:
            return
    raise MetaStyleError(f"cannot copy the audio of {source}: {res.stderr.strip().splitlines()[-1:]}")


def stylize_video(in_path: str | Path, out_path: str | Path, model, *, batch: int = 8,
                  keep_audio: bool = False, max_side: int = 0, progress: bool = True,
                  pix_fmt: str = "auto", device=None) -> Path:
    """Stylise a video frame by frame with a feed-forward model (paper E.6).

    Args:
        in_path: Any video ffmpeg reads.
        out_path: Output video (``.mp4``), H.264, same fps and frame count; same size unless ``max_side``.
        model: A ``TransformerNet`` or a model checkpoint path.
        batch: Frames per forward pass.
        keep_audio: Copy the input's audio track (dropped by default).
        max_side: Downsize frames whose longer side exceeds this first (0: keep).
        progress: tqdm progress bar on stderr.
        pix_fmt: ``auto`` | ``yuv420p`` | ``yuv444p`` (see the module docstring).

    Writes:
        ``out_path`` (via a temporary file in the same folder, renamed on success).

    Example:
        >>> stylize_video("clip.mp4", "clip_styled.mp4", "runs/adapted/mondrian.pt", max_side=512)
    """
    from tqdm.auto import tqdm

    from .checkpoint import load_model

    in_path, out_path = Path(in_path), Path(out_path)
    net = load_model(model, device)[0] if isinstance(model, (str, Path)) else model
    net = net.eval()
    meta = probe(in_path)
    fps = meta.get("fps") or 25.0
    total = round(meta["duration"] * fps) if meta.get("duration") else None
    frames = tqdm(read_frames(in_path, max_side), total=total, unit="frame", disable=not progress,
                  desc=in_path.name)
    mux = keep_audio and bool(meta.get("audio_codec"))
    counted = _Counter(frames)
    with _atomic_video(out_path) as tmp:
        silent = tmp.with_name(f"{tmp.stem}.video{tmp.suffix}") if mux else tmp
        try:
            write_video(stylize_frames(counted, net, batch), silent, fps=fps, pix_fmt=pix_fmt, shown_as=out_path)
            if mux:
                _mux_audio(silent, in_path, tmp)
        finally:
            if mux:
                silent.unlink(missing_ok=True)
    if total and counted.n < total - 1:  # the header's duration allows one frame of rounding
        warnings.warn(DataWarning(f"{in_path}: decoded only {counted.n} of the {total} frames its header "
                                  f"declares (truncated or damaged?); {out_path} has {counted.n} frames"))
    return out_path


class _Counter:
    """Pass frames through, counting them."""

    def __init__(self, frames):
        self.frames, self.n = frames, 0

    def __iter__(self):
        for frame in self.frames:
            self.n += 1
            yield frame


def comparison_size(in_path, out_path, max_side: int = 0) -> tuple[int, int]:
    """The size both videos are compared at: the output's (after ``max_side``). Input frames of another size
    but the same aspect ratio (``stylize-video --max-side``) are resized to it, with a warning; a different
    aspect ratio cannot be a stylisation of this input and is refused."""
    (iw, ih), (ow, oh) = probe(in_path)["size"], probe(out_path)["size"]
    target = _target_size(ow, oh, max_side)
    if (iw, ih) != (ow, oh):
        if abs(iw / ih - ow / oh) > 2.0 / min(ow, oh):  # rounding to whole pixels, 1 px per side
            raise DataError(f"{in_path} ({iw}x{ih}) and {out_path} ({ow}x{oh}) differ in aspect ratio: "
                            f"the output is not a resized stylisation of this input")
        warnings.warn(DataWarning(f"input frames of {iw}x{ih} px resized to the output's {target[0]}x{target[1]} "
                                  f"px for comparison"))
    return target


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
    from .checkpoint import check_output, load_model
    from .cli import check_max_side, require
    from .runtime import resolve_device

    check_max_side(args.max_side)
    require(args.batch >= 1, "--batch", args.batch, ">= 1")
    out = Path(args.output)
    require(out.suffix.lower() in VIDEO_SUFFIXES, "the output", str(out),
            f"a video file ({', '.join(VIDEO_SUFFIXES)})")
    probe(args.input)  # a missing or corrupt input fails before the model is loaded
    check_output(out, overwrite=args.overwrite, what="output video")
    net, _ = load_model(args.model, resolve_device(args.device))
    out = stylize_video(args.input, args.output, net, batch=args.batch, keep_audio=args.keep_audio,
                        max_side=args.max_side, progress=not args.no_progress, pix_fmt=args.pix_fmt)
    print(out)
    return 0


def _cmd_video_metrics(args) -> int:
    import json

    from .temporal import temporal_metrics

    from .cli import check_max_side

    check_max_side(args.max_side)
    out = args.output or args.input
    res = temporal_metrics(read_frames(args.input, size=comparison_size(args.input, out, args.max_side)),
                           read_frames(out, args.max_side))
    d = res.to_dict()
    print(json.dumps(d, indent=1) if args.json else "\n".join(f"{k}: {v}" for k, v in d.items()))
    return 0
