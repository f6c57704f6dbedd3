"""Calibrate the style weight (beta) of a loss network by a small, reproducible sweep.

The official beta=1e5 assumes ImageNet VGG-16; a randomly initialised VGG has different feature and Gram
magnitudes, so its beta must be chosen anew. Rule (documented in README "Loss networks"): for each beta on a
log grid, train the transformer from scratch for one style (the single-style Adam loop of adaptation and
Johnson) on the embedded contents, then measure on held-out embedded contents
  - ``style_ratio``: the final Gram distance divided by the Gram distance of the content image itself
    (1 = no style transferred, 0 = perfect Gram match), and
  - ``ssim``: SSIM of the output to the content on luminance (content kept).
We pick the smallest beta whose mean ``style_ratio`` is at most ``target`` (0.5: half of the way to the
style's Gram statistics) while ``ssim`` stays at least ``min_ssim``; ``python -m metastyle.calibrate`` prints
the table so the choice can be checked and redone for another loss network or scale.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from .adapt import fit_style
from .data import content_set, source_items, style_set
from .losses import LossSpec, content_targets, perceptual_loss, style_targets
from .nets import TransformerNet
from .stylize import stylize
from .vgg import VGG16_LAYERS, load_loss_net


def _ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    from skimage.metrics import structural_similarity

    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    ya, yb = (a * w).sum(1), (b * w).sum(1)
    return sum(structural_similarity(x.numpy(), y.numpy(), data_range=1.0) for x, y in zip(ya, yb)) / len(ya)


def sweep(loss_net_name: str = "vgg16-random", betas=(1e4, 1e5, 1e6, 1e7), *, size: int = 64, steps: int = 60,
          n_styles: int = 2, seed: int = 0) -> list[dict]:
    """One row per (beta, style): style_ratio and ssim on held-out contents."""
    torch.manual_seed(seed)
    loss_net = load_loss_net(loss_net_name, VGG16_LAYERS)
    contents = source_items("embedded", "content")
    train, test = content_set(contents[4:], size), content_set(contents[:4], size).all()
    styles = style_set(source_items("embedded", "style", n_styles=8, seed=seed)[:n_styles], size)
    rows = []
    for beta in betas:
        spec = LossSpec(style_weight=1.0)
        for k in range(n_styles):
            style = styles.batch([k])
            net, _ = fit_style(TransformerNet(), loss_net, LossSpec(style_weight=beta), style, train,
                               steps=steps, lr=1e-3, batch=4, seed=seed)
            out = stylize(net, test)
            grams, feats = style_targets(loss_net, style, spec), content_targets(loss_net, test, spec)
            base = perceptual_loss(loss_net, test, feats, grams, spec).style.item()
            final = perceptual_loss(loss_net, out, feats, grams, spec).style.item()
            rows.append({"beta": beta, "style": styles.items[k].name, "style_ratio": final / base,
                         "ssim": _ssim(out, test)})
    return rows


def choose(rows: list[dict], target: float = 0.5, min_ssim: float = 0.2) -> float | None:
    """Smallest beta meeting the rule (mean over styles), or None."""
    for beta in sorted({r["beta"] for r in rows}):
        sel = [r for r in rows if r["beta"] == beta]
        ratio, ssim = (sum(r[k] for r in sel) / len(sel) for k in ("style_ratio", "ssim"))
        if ratio <= target and ssim >= min_ssim:
            return beta
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="style-weight calibration sweep for a loss network")
    p.add_argument("--loss-net", default="vgg16-random")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args(argv)
    rows = sweep(args.loss_net, size=args.size, steps=args.steps)
    for r in rows:
        print(json.dumps(r))
    print(json.dumps({"chosen_beta": choose(rows)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
