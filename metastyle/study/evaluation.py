"""Numbers the study reads off stylised images: perceptual losses of outputs, held-out adaptation curves,
style-loss ratios, colour statistics, and the convex combination of models (paper Sec. E.5)."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from metastyle.data.sets import ImageSet
from metastyle.errors import DataError
from metastyle.method.adapt import fit_style
from metastyle.method.interpolate import blend
from metastyle.method.nets import TransformerNet
from metastyle.study.metrics import perceptual
from metastyle.study.shared import train_contents

# --------------------------------------------------------------------------------------------- losses

def style_loss_ratios(outputs: torch.Tensor, contents: torch.Tensor, styles: Sequence[torch.Tensor],
                      ctx) -> list[float]:
    """For each style ``(1, 3, S, S)``: style (Gram) loss of ``outputs`` / style loss of ``contents`` themselves.

    Claim 7's style-neutrality test (study/claims/representation.py): a ratio below 1 means the outputs are
    closer to that style than the photographs are, i.e. biased toward it."""
    ratios = []
    for s in styles:
        own = perceptual(contents, contents, s, ctx)["style"]
        ratios.append(perceptual(outputs, contents, s, ctx)["style"] / max(own, 1e-12))
    return ratios


def heldout_loss(net, contents: torch.Tensor, style: torch.Tensor, ctx) -> dict:
    """The perceptual loss of ``net``'s stylisations of held-out ``contents``."""
    from metastyle.method.stylize import stylize

    return perceptual(stylize(net, contents), contents, style, ctx)


def adaptation_curve(init: TransformerNet, style: torch.Tensor, ctx, eval_contents: torch.Tensor, *,
                     steps: int, points: int = 6, contents: ImageSet | None = None,
                     snapshot: torch.Tensor | None = None, desc: str = "") -> list[dict]:
    """Held-out loss at ``points`` step counts from 0 to ``steps`` while fitting ``init`` to ``style``.

    One continuous Adam run (``fit_style`` resumed from its optimiser state between evaluations), so the
    curve is exactly the run that ``steps`` uninterrupted steps would make. Rows: ``step``, ``loss_total``,
    ``loss_content``, ``loss_style`` (prefixed, so a caller's ``style`` / ``init`` name columns never collide
    with the losses). With ``snapshot`` (a content batch), each row also carries ``image``: the model's
    stylisation of it at that step.
    """
    contents = contents or train_contents(ctx)
    marks = sorted({round(steps * i / (points - 1)) for i in range(points)}) if points > 1 else [0, steps]
    net, opt_state, done, rows = init, None, 0, []
    for m in marks:
        if m > done:
            net, opt = fit_style(net, ctx, style, contents, steps=m, start_step=done, optimizer_state=opt_state,
                                 progress=True, desc=f"curve {desc}".rstrip())
            opt_state, done = opt.state_dict(), m
        row = {"step": m, **{f"loss_{k}": v for k, v in heldout_loss(net, eval_contents, style, ctx).items()}}
        if snapshot is not None:
            from metastyle.method.stylize import stylize

            row["image"] = stylize(net, snapshot)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------- statistics
def colour_stats(x: torch.Tensor) -> dict:
    """Mean and std of each RGB channel and mean saturation of images ``(B, 3, H, W)``."""
    x = x.float()
    mx, mn = x.max(1).values, x.min(1).values
    sat = ((mx - mn) / mx.clamp_min(1e-6)).mean().item()
    m, s = x.mean((0, 2, 3)), x.std((2, 3)).mean(0)
    return {"mean_r": m[0].item(), "mean_g": m[1].item(), "mean_b": m[2].item(),
            "std": s.mean().item(), "saturation": sat}


def finite(x, default: float = 0.0) -> float:
    x = float(x)
    return x if math.isfinite(x) else default


def convex_combination(models: Sequence[TransformerNet], weights: Sequence[float]) -> TransformerNet:
    """Whole-parameter convex combination ``sum_k w_k * theta_k`` of models (the paper's style
    interpolation; docs/paper-vs-code.md §5).

    ``metastyle.method.interpolate.blend`` checks the weights.
    """
    net = TransformerNet().to(next(models[0].parameters()).device)
    net.load_state_dict(blend([m.state_dict() for m in models], list(weights)))
    return net.eval()


def temporal_change(frames: torch.Tensor) -> float:
    """Mean absolute difference between consecutive frames ``(T, 3, H, W)``."""
    return (frames[1:] - frames[:-1]).abs().mean().item()


# ------------------------------------------------------------------------------ interpolation (claim 8)
def interpolation_path(outputs: Sequence[torch.Tensor], content: torch.Tensor, style_a: torch.Tensor,
                       style_b: torch.Tensor, ctx) -> dict:
    """Claim 8's measurements along a convex combination from style A (λ = 0) to B (λ = 1), paper Sec. 4.2:
    ``style_loss_to_A`` / ``style_loss_to_B`` (style loss of each output to each end's style) and
    ``step_change`` (mean absolute change between consecutive outputs, ``temporal_change``); claim 8's
    numbers are ``claims.interpolation.measure`` of it."""
    if len(outputs) < 2:
        raise DataError(f"an interpolation path needs at least 2 outputs, got {len(outputs)}")
    return {"style_loss_to_A": [perceptual(o, content, style_a, ctx)["style"] for o in outputs],
            "style_loss_to_B": [perceptual(o, content, style_b, ctx)["style"] for o in outputs],
            "step_change": [temporal_change(torch.cat([a, b])) for a, b in zip(outputs, outputs[1:])]}
