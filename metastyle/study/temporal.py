"""Temporal consistency of a stylised video: flow-based warping error and a flicker ratio (extension of E.6).

The paper only claims, qualitatively, that frame-by-frame MetaStyle "does not introduce flickering". We
measure it the way video style-transfer papers do (Ruder et al. 2016; Lai et al. 2018):

* **Warping error**: optical flow is computed on the *input* frames (OpenCV DIS), the stylised frame t+1
  is warped back onto frame t, and the squared difference is averaged over pixels that are visible in both
  frames. Occlusions are masked by the forward-backward consistency check of Sundaram et al. 2010 (as in
  Ruder et al.): ``|f + b(x + f)|^2 < 0.01 (|f|^2 + |b(x + f)|^2) + 0.5``, plus flow leaving the frame.
  Images are in [0, 1], so the error is an MSE on that scale. The same number for the input video itself
  (``input_metrics``) is the floor set by flow errors and lighting changes.
* **Flicker ratio**: ``mean |out_{t+1} - out_t| / mean |in_{t+1} - in_t|``: how much more the output
  changes between frames than the input does (1 = as much; inf when the input is static but the output
  is not).

Everything streams: only the previous input/output frame pair is held.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Callable, Iterable

import numpy as np

from metastyle.errors import DataError


@dataclasses.dataclass
class TemporalMetrics:
    """Pooled over all consecutive pairs. ``warp_mse``/``warp_mae``: masked error of the warped output;
    ``flicker_ratio``: output change / input change; ``valid_fraction``: share of pixels not masked."""

    warp_mse: float
    warp_mae: float
    flicker_ratio: float
    out_change: float
    in_change: float
    valid_fraction: float
    pairs: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def as_float_frame(frame) -> np.ndarray:
    """``(H, W, 3)`` float32 in [0, 1] from a uint8/float array ``(H, W, 3)`` or a tensor ``(3, H, W)``."""
    if hasattr(frame, "detach"):  # torch tensor (3, H, W) in [0, 1]
        frame = frame.detach().cpu().float().permute(1, 2, 0).numpy()
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise DataError(f"expected an (H, W, 3) frame, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    return arr.astype(np.float32)


def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor((frame * 255 + 0.5).clip(0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def optical_flow(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Dense flow ``(H, W, 2)`` (dx, dy) from ``prev`` to ``nxt`` (float frames), OpenCV DIS (medium)."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_gray(prev), _gray(nxt), None)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``img`` sampled at ``x + flow(x)`` (bilinear, border replicated): frame t+1 brought onto frame t."""
    import cv2

    xs, ys = _grid(*flow.shape[:2])
    return cv2.remap(img, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def valid_mask(fw: np.ndarray, bw: np.ndarray, border: int = 0) -> np.ndarray:
    """Pixels of frame t visible in t+1: forward-backward consistent and flowing inside the frame."""
    h, w = fw.shape[:2]
    xs, ys = _grid(h, w)
    bw_at = warp(bw, fw)
    err = ((fw + bw_at) ** 2).sum(-1)
    tol = 0.01 * ((fw ** 2).sum(-1) + (bw_at ** 2).sum(-1)) + 0.5
    tx, ty = xs + fw[..., 0], ys + fw[..., 1]
    mask = (err < tol) & (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    if border:
        mask[:border], mask[-border:], mask[:, :border], mask[:, -border:] = False, False, False, False
    return mask


def temporal_metrics(input_frames: Iterable, output_frames: Iterable, *, border: int = 0) -> TemporalMetrics:
    """Warping error and flicker ratio of ``output_frames`` (stylised) given ``input_frames`` (streams).

    Args:
        input_frames: The original frames (flow is computed on these); uint8/float ``(H, W, 3)`` or tensors.
        output_frames: The stylised frames, same count and size.
        border: Also ignore pixels within this many pixels of the frame edge.
    """
    sq = ab = valid = total = out_change = in_change = 0.0
    pairs = 0
    prev_in = prev_out = None
    for fin, fout in itertools.zip_longest(input_frames, output_frames):
        if fin is None or fout is None:
            raise DataError("input and output videos have different frame counts")
        fin, fout = as_float_frame(fin), as_float_frame(fout)
        if fin.shape != fout.shape:
            raise DataError(f"input frame {fin.shape[:2]} and output frame {fout.shape[:2]} differ in size")
        if prev_in is not None:
            fw, bw = optical_flow(prev_in, fin), optical_flow(fin, prev_in)
            mask = valid_mask(fw, bw, border)
            diff = prev_out - warp(fout, fw)  # (H, W, 3)
            sq += float((diff ** 2).mean(-1)[mask].sum())
            ab += float(np.abs(diff).mean(-1)[mask].sum())
            valid += float(mask.sum())
            total += mask.size
            out_change += float(np.abs(fout - prev_out).mean())
            in_change += float(np.abs(fin - prev_in).mean())
            pairs += 1
        prev_in, prev_out = fin, fout
    if pairs == 0:
        raise DataError("need at least two frames for temporal metrics")
    ratio = out_change / in_change if in_change > 0 else (0.0 if out_change == 0 else math.inf)
    return TemporalMetrics(warp_mse=sq / max(valid, 1), warp_mae=ab / max(valid, 1), flicker_ratio=ratio,
                           out_change=out_change / pairs, in_change=in_change / pairs,
                           valid_fraction=valid / total, pairs=pairs)


def input_metrics(frames: Iterable, *, border: int = 0) -> TemporalMetrics:
    """Metrics of the input against itself: its warping error is the lower bound for any stylisation."""
    a, b = itertools.tee(frames)
    return temporal_metrics(a, b, border=border)


def stylized_metrics(frames: Iterable, stylize_fn: Callable, *, border: int = 0) -> TemporalMetrics:
    """Metrics of ``stylize_fn`` applied to every frame independently (e.g. a per-frame Gatys optimisation,
    or a feed-forward model); ``stylize_fn`` maps one frame to one frame of the same size."""
    a, b = itertools.tee(frames)
    return temporal_metrics(a, map(stylize_fn, b), border=border)


# ------------------------------------------------------------------------------------ synthetic clips
@dataclasses.dataclass
class SyntheticClip:
    """Frames ``(N, H, W, 3)`` uint8, the true forward flows ``(N-1, H, W, 2)`` and a frame rate."""

    frames: np.ndarray
    flows: np.ndarray
    fps: float = 12.0

    def write(self, path, pix_fmt: str = "auto"):
        """Write the clip as an H.264 MP4 (``video_io.write_video``). Writes: ``path``."""
        from metastyle.data.video_io import write_video

        return write_video(iter(self.frames), path, fps=self.fps, pix_fmt=pix_fmt)


MOTIONS = ("pan", "zoom", "static")


def synthetic_clip(n_frames: int = 24, size: tuple[int, int] = (128, 96), motion: str = "pan",
                   seed: int = 0, fps: float = 12.0) -> SyntheticClip:
    """A clip made by moving a virtual camera over the bundled photo ``embedded.content_images()[0]``.

    ``size`` is (width, height). ``pan``: constant sub-pixel translation of 1-2.5 px/frame in a random
    direction; ``zoom``: scale by 1.5-3 % per frame about the centre; ``static``: one frame repeated. The
    true flow from frame t to t+1 is known in closed form and returned.
    """
    import cv2

    from metastyle.data.embedded import content_images

    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
    w, h = size
    rng = np.random.default_rng(seed)
    photo = np.asarray(content_images()[0][1].convert("RGB"))
    base = 3 * max(w, h)  # downsize once (area) so the warps below never minify much: no aliasing
    photo = cv2.resize(photo, (base, base * photo.shape[0] // photo.shape[1]), interpolation=cv2.INTER_AREA)
    ph, pw = photo.shape[:2]
    xs, ys = _grid(h, w)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    angle, speed = rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 2.5)
    v = np.array([np.cos(angle), np.sin(angle)]) * speed
    rate = 1 + rng.uniform(0.015, 0.03)
    start = np.array([pw / 2, ph / 2]) - v * (n_frames - 1) / 2  # photo point at the frame centre at t=0
    frames, flows = [], []
    for t in range(n_frames):
        c, s = (start + v * t, 1.0) if motion == "pan" else (np.array([pw / 2, ph / 2]), rate ** t)
        if motion == "static":
            c, s = np.array([pw / 2, ph / 2]), 1.0
        # frame pixel x shows photo point c + (x - centre) / s
        m = np.array([[1 / s, 0, c[0] - cx / s], [0, 1 / s, c[1] - cy / s]], np.float32)
        frames.append(cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REFLECT))
        if t + 1 < n_frames:
            if motion == "pan":
                flow = np.broadcast_to(-v.astype(np.float32), (h, w, 2))
            elif motion == "zoom":
                flow = np.stack([(rate - 1) * (xs - cx), (rate - 1) * (ys - cy)], -1)
            else:
                flow = np.zeros((h, w, 2), np.float32)
            flows.append(flow)
    return SyntheticClip(np.stack(frames), np.stack(flows).astype(np.float32) if flows else
                         np.zeros((0, h, w, 2), np.float32), fps)
