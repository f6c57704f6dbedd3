"""Quality numbers for stylised images, and a timed evaluation of any stylisation method.

The paper reports no quality metric (docs/paper-vs-code.md §5); these are ours, each defined here:
- ``content`` / ``style`` / ``total``: the weighted terms of ``losses.perceptual_loss`` under the run's loss
  network and ``LossSpec`` (the objective every method here optimises; record the loss network with them).
- ``ssim``: structural similarity of the output's luminance to the content's (scikit-image
  ``structural_similarity``, data range 1, its default 7x7 uniform window), luminance
  Y = 0.2125 R + 0.7154 G + 0.0721 B (``skimage.color.rgb2gray``). 1 = same structure.
- ``colour_w2``: the 2-Wasserstein (Frechet) distance between Gaussians fitted to the pixel colours of the
  output and of the style in CIE Lab (D65):
  ``sqrt(|mu_o - mu_s|^2 + tr(S_o + S_s - 2 (S_o^1/2 S_s S_o^1/2)^1/2))``, with ``mu`` the mean Lab colour
  and ``S`` the 3x3 covariance over all pixels. In Lab units (L in 0..100); 0 for identical colour statistics,
  independent of image size and of where the colours are.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from skimage.color import rgb2gray, rgb2lab
from skimage.metrics import structural_similarity

from metastyle.method.context import LossSetup
from metastyle.method.losses import content_targets, perceptual_loss, style_targets
from metastyle.study.timing import timed


def _hwc(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> float64 (H, W, 3) array."""
    x = x.detach().float().cpu().clamp(0, 1)
    x = x[0] if x.dim() == 4 else x
    return x.permute(1, 2, 0).numpy().astype(np.float64)


def _batch(x: torch.Tensor) -> torch.Tensor:
    return x if x.dim() == 4 else x[None]


@torch.no_grad()
def perceptual(image: torch.Tensor, content: torch.Tensor, style: torch.Tensor, ctx: LossSetup) -> dict[str, float]:
    """The perceptual loss of ``image`` against ``content`` and one ``style``: ``total``, ``content``, ``style``.

    ``image`` and ``content``: batches ``(B, 3, H, W)`` of the same shape (or one ``(3, H, W)`` image each),
    image i scored against content i; the loss is the batch mean (``losses.perceptual_loss``). ``style``:
    ``(1, 3, S, S)`` or ``(3, S, S)``, any size. Everything is moved to ``ctx.device``; ``ctx`` is a
    ``Context`` or an ``Objective`` (its loss network and ``LossSpec`` define the numbers).
    """
    net, spec = ctx.loss_net, ctx.spec
    image, content, style = (_batch(t).to(ctx.device) for t in (image, content, style))
    if image.shape != content.shape:
        raise ValueError(f"perceptual: image {tuple(image.shape)} and content {tuple(content.shape)} differ in shape")
    loss = perceptual_loss(net, image, content_targets(net, content, spec), style_targets(net, style, spec), spec)
    return {"total": loss.total.item(), "content": loss.content.item(), "style": loss.style.item()}


def ssim_each(images: torch.Tensor, contents: torch.Tensor) -> list[float]:
    """SSIM of the luminances of every pair ``(images[i], contents[i])`` (see module docstring).

    Batches ``(B, 3, H, W)`` of the same shape (or one ``(3, H, W)`` image each), at least 7 px a side.
    """
    a, b = _batch(images), _batch(contents)
    if a.shape != b.shape:
        raise ValueError(f"ssim needs batches of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return [float(structural_similarity(rgb2gray(_hwc(x)), rgb2gray(_hwc(y)), data_range=1.0))
            for x, y in zip(a, b)]


def ssim(image: torch.Tensor, content: torch.Tensor) -> float:
    """Mean of ``ssim_each`` over the batch: every image is scored, not only the first."""
    scores = ssim_each(image, content)
    return float(sum(scores) / len(scores))


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def lab_gaussian(image: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and covariance (3, 3) of the image's pixels in CIE Lab."""
    lab = rgb2lab(_hwc(image)).reshape(-1, 3)
    return lab.mean(0), np.cov(lab, rowvar=False, bias=True)


def colour_w2(image: torch.Tensor, style: torch.Tensor) -> float:
    """2-Wasserstein distance between Gaussian fits of the Lab colours (see module docstring)."""
    (m1, s1), (m2, s2) = lab_gaussian(image), lab_gaussian(style)
    r1 = _sqrtm_psd(s1)
    cross = _sqrtm_psd(r1 @ s2 @ r1)
    d2 = float(np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * cross))
    return float(np.sqrt(max(d2, 0.0)))


def image_metrics(image: torch.Tensor, content: torch.Tensor, style: torch.Tensor, ctx: LossSetup) -> dict[str, float]:
    """Every metric of one output: total, content, style (``perceptual``), ssim, colour_w2."""
    return {**perceptual(image, content, style, ctx), "ssim": ssim(image, content),
            "colour_w2": colour_w2(image, style)}


def evaluate_method(stylize_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                    pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], ctx: LossSetup, *,
                    method: str = "", names: Sequence[str] | None = None) -> list[dict]:
    """Run ``stylize_fn(content, style) -> image`` on each (content, style) pair, timed, and score it.

    Contents and styles are ``(1, 3, H, W)`` (or ``(3, H, W)``) in [0, 1]; the output must have the
    content's size. Each call is timed with wall-clock seconds (CUDA synchronised before and after); include
    any per-style cost (adaptation, optimisation) inside ``stylize_fn`` if it should count.
    Returns one dict per pair (``pandas.DataFrame(rows)`` makes the table) with the loss network recorded.
    """
    info = ctx.loss_net.info
    rows = []
    for i, (content, style) in enumerate(pairs):
        seconds, out = timed(lambda content=content, style=style: stylize_fn(content, style))
        if _batch(out).shape[-2:] != _batch(content).shape[-2:]:
            raise ValueError(f"{method or 'method'} returned {tuple(out.shape)} for content "
                             f"{tuple(content.shape)}: outputs must have the content's size")
        rows.append({"method": method, "pair": names[i] if names else i, "seconds": seconds,
                     **image_metrics(out, content, style, ctx),
                     "loss_net": info.name, "loss_net_label": info.label()})
    return rows
