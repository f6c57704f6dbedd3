"""Video style transfer, frame by frame (paper E.6: no temporal loss, no flow, no smoothing): frames stream
from ffmpeg (``metastyle.data.video_io``), are stylised in batches with ``stylize.stylize`` and stream back
to libx264, so memory stays flat in the clip length; the output appears only when complete."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from metastyle.data.video_io import _atomic_video, _mux_audio, _target_size, probe, read_frames, write_video
from metastyle.errors import DataError, DataWarning, MetaStyleError


def _to_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().div_(255)  # (B, 3, H, W)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.clamp(0, 1).mul(255).add_(0.5)).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (B, H, W, 3)


def stylize_frames(frames, net: torch.nn.Module, batch: int = 8) -> Iterator[np.ndarray]:
    """Stylise a stream of uint8 frames in batches of ``batch``; yields uint8 frames in order."""
    from metastyle.method.stylize import stylize

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

    from metastyle.method.nets import load_model

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
                                  f"declares (truncated or damaged?); {out_path} has {counted.n} frames"),
                      stacklevel=2)
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
                                  f"px for comparison"), stacklevel=2)
    return target
