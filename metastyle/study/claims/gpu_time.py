"""Claim 5: 200 adaptation steps take under 30 s on a GPU (02's adaptation time, 04's device)."""
from __future__ import annotations

from metastyle.study.claims.adaptation import ADAPTATION, Adaptation
from metastyle.study.claims.base import FAILS, HOLDS, Claim, Read, Source, Verdict, untestable
from metastyle.study.claims.speed import Timing

#: seconds for ``STEPS`` adaptation steps
GPU_SECONDS, STEPS = 30, 200


def verdict(a: Adaptation, t: Timing) -> Verdict:
    st, sec = f"{STEPS} adaptation steps < {GPU_SECONDS} s on a GPU", a.adapt_seconds_mean
    if sec is None or not t.device_is_gpu:
        return untestable(st, f"{sec:.1f} s for {a.adapt_steps} steps on CPU" if sec is not None else "missing (02)",
                          "needs a GPU run (content size differs from the paper's 256 px)")
    steps = STEPS if a.adapt_steps is None else a.adapt_steps
    per = sec / max(1, steps) * STEPS
    return Verdict(st, HOLDS if per < GPU_SECONDS else FAILS, f"{per:.1f} s per {STEPS} steps",
                   f"holds iff < {GPU_SECONDS} s")


def _judge(a: Read, t: Read) -> Verdict:
    return verdict(a.record, t.record).at(a.profile)


CLAIMS = (Claim(5, (ADAPTATION, Source(Timing)), _judge),)
