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
from metastyle.method.losses import content_targets, perceptual_loss, style_targets
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


class HeldOut:
    """The perceptual loss of a network's outputs on fixed held-out contents for one style, with the content
    features and the style's Gram targets computed once (no call climbs back up a layer)."""

    def __init__(self, ctx, contents: torch.Tensor, style: torch.Tensor):
        self.ctx, self.contents = ctx, contents.to(ctx.device)
        with torch.no_grad():
            self.feats = content_targets(ctx.loss_net, self.contents, ctx.spec)
            self.grams = style_targets(ctx.loss_net, style.to(ctx.device), ctx.spec)

    def __call__(self, net: TransformerNet) -> dict:
        was = net.training
        with torch.no_grad():
            loss = perceptual_loss(self.ctx.loss_net, net.eval()(self.contents), self.feats, self.grams,
                                   self.ctx.spec)
        net.train(was)
        return {"loss": loss.total.item(), "content": loss.content.item(), "style": loss.style.item()}


def adaptation_curve(init: TransformerNet, style: torch.Tensor, ctx, eval_contents: torch.Tensor, *,
                     steps: int, points: int = 6, contents: ImageSet | None = None,
                     snapshot: torch.Tensor | None = None, desc: str = "") -> list[dict]:
    """Held-out loss at ``points`` step counts from 0 to ``steps`` while fitting ``init`` to ``style``.

    One Adam run of ``steps`` steps (``fit_style``), evaluated by a hook at the marks, with the style's Gram
    targets and the held-out contents' features computed once (``HeldOut``). Rows: ``step``, ``loss_total``,
    ``loss_content``, ``loss_style`` (prefixed, so a caller's ``style`` / ``init`` name columns never collide
    with the losses). With ``snapshot`` (a content batch), each row also carries ``image``: the model's
    stylisation of it at that step.
    """
    from metastyle.method.stylize import stylize

    contents = contents or train_contents(ctx)
    marks = sorted({round(steps * i / (points - 1)) for i in range(points)}) if points > 1 else [0, steps]
    held, rows = HeldOut(ctx, eval_contents, style), []

    def record(step: int, net: TransformerNet, _opt=None) -> None:
        if step in marks:
            loss = held(net)
            rows.append({"step": step, "loss_total": loss["loss"], "loss_content": loss["content"],
                         "loss_style": loss["style"],
                         **({"image": stylize(net, snapshot)} if snapshot is not None else {})})

    record(0, init.to(ctx.device))
    if steps > 0:
        fit_style(init, ctx, style, contents, steps=steps, progress=True, desc=f"curve {desc}".rstrip(),
                  hook_every=math.gcd(*[m for m in marks if m]), hook=record)
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
