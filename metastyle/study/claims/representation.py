"""Claim 7: M(·; θ) is a recognizable, style-neutral rendering (notebook 07; the budget curve's longest-trained
θ from 11 is shown beside it, not judged)."""
from __future__ import annotations

from dataclasses import dataclass

from metastyle.study import evaluation, metrics
from metastyle.study.claims.adaptation import BUDGET, Budget
from metastyle.study.claims.base import FAILS, HOLDS, Claim, Read, Record, Source, Verdict, need, untestable

#: SSIM(M(I_c; θ), I_c) at least this for every content
RECOGNIZABLE_SSIM = 0.3
#: style loss of M(I_c; θ) / of I_c, to every training style, at least this
NEUTRAL_GRAM = 1.0


@dataclass(frozen=True)
class Representation(Record):
    notebook = "07_representation"
    ssim_theta_min: float | None = None
    gram_ratio_train_min: float | None = None
    n_train_styles: int | None = None
    ssim_theta_to_content: float | None = None
    n_contents: int | None = None


def measure(neutral, contents, train_styles, ctx) -> dict:
    """07's numbers for claim 7: every content's SSIM(M(I_c; θ), I_c) and, for every training style (an
    ``ImageSet``), the style loss of M(I_c; θ) relative to the content's own (``evaluation.style_loss_ratios``;
    below 1: θ's rendering leans toward that style)."""
    ssim_theta = metrics.ssim_each(neutral, contents)
    ratios = evaluation.style_loss_ratios(neutral, contents, [x[None] for x in train_styles.all()], ctx)
    lean = sorted(zip(ratios, train_styles.names()))
    return {"ssim_theta_each": ssim_theta, "ssim_theta_min": min(ssim_theta), "n_contents": len(ssim_theta),
            "gram_ratio_train_min": min(ratios), "gram_ratio_train_median": sorted(ratios)[len(ratios) // 2],
            "gram_ratio_train_min_style": lean[0][1], "n_train_styles": len(ratios)}


def verdict(r: Representation, b: Budget | None = None) -> Verdict:
    """Recognizable: SSIM(M(I_c; θ), I_c) >= RECOGNIZABLE_SSIM for every content (the minimum). Style-neutral:
    for every training style s, the Gram (style) loss of M(I_c; θ) to s is not smaller than that of the content
    itself (min over s of the ratio >= NEUTRAL_GRAM): θ's rendering is no closer to any style it was
    meta-trained on than the photograph is."""
    st = "M(·; θ) is a recognizable, style-neutral rendering"
    ss, g, n = r.ssim_theta_min, r.gram_ratio_train_min, r.n_train_styles
    if not need(ss, g):
        return untestable(st, "missing (07)", "needs 07's per-content SSIM and training-style Gram ratios")
    ok = ss >= RECOGNIZABLE_SSIM and g >= NEUTRAL_GRAM
    mean = float("nan") if r.ssim_theta_to_content is None else r.ssim_theta_to_content
    meas = (f"SSIM(M(I_c;θ), I_c): min {ss:.3g}, mean {mean:.3g} over "
            f"{'?' if r.n_contents is None else r.n_contents} contents; style loss θ-output/content, min over {n} "
            f"training styles = {g:.3g}")
    if b is not None and b.neutral_ssim_min is not None:  # the longest-trained θ of the budget curve, beside it
        meas += f"; budget run's θ@{b.meta_iterations}: SSIM min {b.neutral_ssim_min:.3g} (not part of the rule)"
    return Verdict(st, HOLDS if ok else FAILS, meas,
                   f"holds iff every content's SSIM >= {RECOGNIZABLE_SSIM} (recognizable) and, for every training "
                   f"style, style loss of M(I_c;θ) >= {NEUTRAL_GRAM}x the content's own (style-neutral)")


def _judge(r: Read, b: Read) -> Verdict:
    return verdict(r.record, b.record).at(r.profile)


CLAIMS = (Claim(7, (Source(Representation), BUDGET), _judge),)
