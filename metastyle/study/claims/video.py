"""Claim 9: frame-by-frame video has no visible flicker (notebook 06: a synthetic clip, no optical flow)."""
from __future__ import annotations

from dataclasses import dataclass

from metastyle.study.claims.base import FAILS, HOLDS, Claim, Record, Source, Verdict, single, untestable

#: stylised frame-to-frame change <= this x the input's
NO_FLICKER = 1.5


@dataclass(frozen=True)
class Video(Record):
    notebook = "06_video_style_transfer"
    instability_ratio_metastyle: float | None = None
    instability_ratio_gatys: float | None = None


def measure(input_change: float, metastyle_change: float, gatys_change: float | None = None) -> dict:
    """06's numbers for claim 9: each stylisation's mean frame-to-frame change (``evaluation.temporal_change``)
    relative to the input clip's."""
    out = {"instability_ratio_metastyle": metastyle_change / input_change}
    if gatys_change is not None:
        out["instability_ratio_gatys"] = gatys_change / input_change
    return out


def verdict(v: Video) -> Verdict:
    st, fr = "frame-by-frame video has no visible flicker", v.instability_ratio_metastyle
    if fr is None:
        return untestable(st, "missing (06)", "needs 06")
    gr = v.instability_ratio_gatys
    return Verdict(st, HOLDS if fr <= NO_FLICKER else FAILS,
                   f"stylised/input frame change = {fr:.3g}" + (f"; per-frame Gatys {gr:.3g}" if gr else ""),
                   f"holds iff <= {NO_FLICKER} (synthetic clip, no optical flow)")


CLAIMS = (Claim(9, (Source(Video),), single(verdict)),)
