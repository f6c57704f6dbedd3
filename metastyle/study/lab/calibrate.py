"""Calibrate the style weight (beta) of a loss network by a small, reproducible sweep.

The official beta=1e5 assumes ImageNet VGG-16; a randomly initialised VGG has different feature and Gram
magnitudes, so its beta must be chosen anew. Rule (documented in README "Loss networks"): for each beta on a
log grid, train the transformer from scratch for one style (the single-style Adam loop of adaptation and
Johnson) on the embedded contents, then measure on held-out embedded contents
  - ``style_ratio``: the final Gram distance divided by the Gram distance of the content image itself
    (1 = no style transferred, 0 = perfect Gram match), and
  - ``ssim``: SSIM of the output to the content on luminance (content kept; ``study.metrics.ssim``).
We pick the smallest beta whose mean ``style_ratio`` is at most ``target`` (0.5: half of the way to the
style's Gram statistics) while ``ssim`` stays at least ``min_ssim``; ``python -m metastyle.study.lab.calibrate`` prints
the table so the choice can be checked and redone for another loss network or scale.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from metastyle.data.sets import content_set, source_items, style_set
from metastyle.infra import files
from metastyle.method.adapt import fit_style
from metastyle.method.context import Objective
from metastyle.method.losses import LossSpec, content_targets, perceptual_loss, style_targets
from metastyle.method.nets import TransformerNet
from metastyle.method.stylize import stylize
from metastyle.method.vgg import VGG16_LAYERS, load_loss_net
from metastyle.study import metrics


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
            net, _ = fit_style(TransformerNet(), Objective(loss_net, LossSpec(style_weight=beta)), style, train,
                               steps=steps, lr=1e-3, batch=4, params="all", seed=seed)
            out = stylize(net, test)
            grams, feats = style_targets(loss_net, style, spec), content_targets(loss_net, test, spec)
            base = perceptual_loss(loss_net, test, feats, grams, spec).style.item()
            final = perceptual_loss(loss_net, out, feats, grams, spec).style.item()
            rows.append({"beta": beta, "style": styles.items[k].name, "style_ratio": final / base,
                         "ssim": metrics.ssim(out, test)})
    return rows


def choose(rows: list[dict], target: float = 0.5, min_ssim: float = 0.2) -> float | None:
    """Smallest beta meeting the rule (mean over styles), or None."""
    for beta in sorted({r["beta"] for r in rows}):
        sel = [r for r in rows if r["beta"] == beta]
        ratio, ssim = (sum(r[k] for r in sel) / len(sel) for k in ("style_ratio", "ssim"))
        if ratio <= target and ssim >= min_ssim:
            return beta
    return None


def inner_lr_for(loss_net_name: str, beta: float, *, size: int = 64, decrease: float = 0.05, n_styles: int = 4,
                 seed: int = 0) -> float:
    """Inner SGD step on the IN parameters whose first-order predicted decrease is ``decrease`` of the
    inner loss (lr = decrease * L / |grad L|^2), averaged over styles, at a seeded random init."""
    from metastyle.method.nets import is_instance_norm

    torch.manual_seed(seed)
    loss_net, spec = load_loss_net(loss_net_name, VGG16_LAYERS), LossSpec(style_weight=beta)
    net, x = TransformerNet(), content_set(source_items("embedded", "content")[:4], size).all()
    styles = style_set(source_items("embedded", "style", n_styles=n_styles, seed=seed), size)
    feats, fast = content_targets(loss_net, x, spec), [p for n, p in net.named_parameters() if is_instance_norm(n)]
    lrs = []
    for k in range(n_styles):
        loss = perceptual_loss(loss_net, net(x), feats, style_targets(loss_net, styles.batch([k]), spec), spec).total
        g2 = sum((g ** 2).sum() for g in torch.autograd.grad(loss, fast)).item()
        lrs.append(decrease * loss.item() / g2)
    return sum(lrs) / len(lrs)


def check_figure(content_dir: str, style_path: str, out_dir: str, *, loss_net_name: str = "vgg16-caffe",
                 size: int = 128, gatys_iterations: int = 60, johnson_steps: int = 150, seed: int = 0,
                 show: str = "golden_gate", unseen: str = "sailboat") -> Path:
    """Look at a loss network's Gatys and Johnson results on real images (README, "Loss networks").

    Gatys (L-BFGS from the content) on the photo ``show`` of ``content_dir`` (else its first); a Johnson
    network trained from a seeded random init for ``johnson_steps`` Adam steps (1e-3, batch 4) on every photo
    but ``unseen`` (else the last), shown on both. Writes ``check.png`` and ``run.json`` (settings,
    losses, the loss network's record, provenance) under ``out_dir``.
    """
    from metastyle.baselines.gatys import gatys
    from metastyle.data.images import find_images, load_image, resize_crop, to_tensor
    from metastyle.data.sets import Item
    from metastyle.infra import runtime
    from metastyle.study.nb.notebook import grid_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    loss_net, spec = load_loss_net(loss_net_name, VGG16_LAYERS), LossSpec(style_weight=1e5)
    photos = find_images(content_dir)
    if len(photos) < 2:
        raise SystemExit(f"{content_dir}: need at least 2 photos (found {len(photos)})")
    held = next((p for p in photos if p.stem == unseen), photos[-1])
    train = sorted((p for p in photos if p != held), key=lambda p: p.stem != show)
    unseen = held
    style = to_tensor(resize_crop(load_image(style_path), size))[None]
    first = to_tensor(resize_crop(load_image(train[0]), size))[None]
    last = to_tensor(resize_crop(load_image(unseen), size))[None]
    g = gatys(first, style, Objective(loss_net, spec), iterations=gatys_iterations, init="content")
    net, _ = fit_style(TransformerNet(), Objective(loss_net, spec), style, content_set(
        [Item(p.stem, p) for p in train], size), steps=johnson_steps, lr=1e-3, batch=4, params="all", seed=seed)
    with torch.no_grad():
        j_first, j_last = stylize(net.eval(), first), stylize(net, last)
    label = loss_net.info.label()
    fig = grid_figure([[first, style, g.image, j_first], [last, None, None, j_last]],
                      row_labels=[train[0].stem, f"{unseen.stem} (unseen)"],
                      col_labels=["content", Path(style_path).stem, f"Gatys, {gatys_iterations} L-BFGS it.",
                                  f"Johnson, {johnson_steps} steps"],
                      title=f"{label}\n{size} px, alpha 1, beta 1e5", cell=2.2)
    with files.atomic_path(out / "check.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    record = {"loss_net": loss_net.info.to_dict(), "loss_net_label": label, "size": size,
              "gatys_iterations": gatys_iterations, "gatys_loss": [g.history[0].loss, g.history[-1].loss],
              "johnson_steps": johnson_steps, "train_photos": [p.name for p in train], "unseen": unseen.name,
              "style": Path(style_path).name, "provenance": runtime.provenance()}
    files.write_json(out / "run.json", record)
    return out / "check.png"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="loss-scale calibration of a loss network: the style-weight sweep "
                                            "and the inner SGD step of the 5% rule")
    p.add_argument("--loss-net", default="vgg16-caffe")
    p.add_argument("--size", type=int, default=None, help="image size (default 64; 128 with --check)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--inner-only", action="store_true", help="skip the sweep: inner step for --beta only")
    p.add_argument("--beta", type=float, default=1e5, help="style weight for --inner-only")
    p.add_argument("--check", nargs=3, metavar=("CONTENT_DIR", "STYLE", "OUT_DIR"),
                   help="instead: Gatys and Johnson results of --loss-net on real images (check.png)")
    p.add_argument("--johnson-steps", type=int, default=150)
    args = p.parse_args(argv)
    if args.check:
        print(check_figure(*args.check, loss_net_name=args.loss_net, size=args.size or 128,
                           johnson_steps=args.johnson_steps))
        return 0
    args.size = args.size or 64
    if args.inner_only:
        beta = args.beta
    else:
        rows = sweep(args.loss_net, size=args.size, steps=args.steps)
        for r in rows:
            print(json.dumps(r))
        beta = choose(rows)
    lr = inner_lr_for(args.loss_net, beta, size=args.size) if beta else None
    print(json.dumps({"loss_net": args.loss_net, "size": args.size, "beta": beta, "inner_lr_5pct": lr}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
