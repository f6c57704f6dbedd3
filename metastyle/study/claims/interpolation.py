"""Claim 8: convex combinations of adapted models interpolate smoothly (notebook 05, paper Sec. 4.2)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from metastyle.errors import DataError
from metastyle.study.claims.base import FAILS, HOLDS, Claim, Record, Source, Verdict, need, single, untestable

#: at most this many non-monotone steps of the style loss to B
SMOOTH_VIOLATIONS = 1
#: largest step change <= this x the median step change
SMOOTH_JUMP = 3.0


@dataclass(frozen=True)
class Interpolation(Record):
    notebook = "05_style_interpolation"
    style_loss_to_B_violations: int | None = None  # noqa: N815 (the metrics key)
    max_step_change: float | None = None
    median_step_change: float | None = None


def monotone_violations(values: Sequence[float], *, decreasing: bool) -> int:
    """How many consecutive pairs of ``values`` break the order: a rise when ``decreasing``, a fall when not.
    0 for a monotone sequence (ties allowed)."""
    v = [float(x) for x in values]
    return sum(1 for a, b in zip(v, v[1:]) if (b > a if decreasing else b < a))


def measure(path: dict) -> dict:
    """05's numbers for claim 8, from ``evaluation.interpolation_path``: the style loss to B should fall and the
    loss to A rise as λ goes from A to B (``*_violations``: consecutive pairs that do not), and no step should
    change the image much more than the median step."""
    to_a, to_b, steps = path["style_loss_to_A"], path["style_loss_to_B"], path["step_change"]
    if not steps or len(to_a) != len(to_b) or len(steps) != len(to_b) - 1:
        raise DataError(f"malformed interpolation path: {len(to_a)} and {len(to_b)} losses, {len(steps)} steps")
    return {"style_loss_to_B_violations": monotone_violations(to_b, decreasing=True),
            "style_loss_to_A_violations": monotone_violations(to_a, decreasing=False),
            "style_loss_to_B_start": to_b[0], "style_loss_to_B_end": to_b[-1],
            "max_step_change": max(steps), "median_step_change": sorted(steps)[len(steps) // 2]}


def verdict(s: Interpolation) -> Verdict:
    st = "convex combinations interpolate smoothly"
    vb, mx, md = s.style_loss_to_B_violations, s.max_step_change, s.median_step_change
    if not need(vb, mx, md):
        return untestable(st, "missing (05)", "needs 05")
    ok = vb <= SMOOTH_VIOLATIONS and mx <= SMOOTH_JUMP * max(md, 1e-12)
    return Verdict(st, HOLDS if ok else FAILS,
                   f"{vb} non-monotone steps of the style loss to B; largest/median step change "
                   f"{mx / max(md, 1e-12):.3g}",
                   f"holds iff <= {SMOOTH_VIOLATIONS} violations and largest step <= {SMOOTH_JUMP}x median")


CLAIMS = (Claim(8, (Source(Interpolation),), single(verdict)),)
