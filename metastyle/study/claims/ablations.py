"""Claims 10 and 11 from notebook 12's ablations (``study.ablation``), under the report's profile, ``long`` and
``long-b5e3`` (one verdict per profile that ran): separate inner/outer contents generalise to unseen contents
(10), and a small T (1–5) is enough (11)."""
from __future__ import annotations

from dataclasses import dataclass

from metastyle.study import stats
from metastyle.study.claims.base import (
    LONG,
    LONG_B5E3,
    Claim,
    Read,
    Record,
    Source,
    Verdict,
    combine,
    single,
    untestable,
)
from metastyle.study.claims.params import Setup

#: claim 11: loss with T=1 <= this x the loss with each swept T
SMALL_T_ENOUGH = 1.1
#: claim 10: held-out loss split / single pool below this
SPLIT_BETTER = 1.0


@dataclass(frozen=True)
class Ablation(Record):
    notebook = "12_ablations"
    #: ``ablation.summarize``: reference_iteration, last_step, styles, seeds, ratio {variant: interval}
    ablation: dict | None = None


def split(a: Ablation) -> Verdict:
    """Claim 10: the held-out loss of θ meta-trained with separate inner/outer contents relative to one content
    pool (official code), after the last adaptation step (95% interval)."""
    st = "separate inner/outer contents generalize to unseen contents"
    rule = ("held-out loss, split / single pool (95% interval): holds iff below 1, does not hold iff wholly at or "
            "above 1, else inconclusive")
    iv = ((a.ablation or {}).get("ratio") or {}).get("single-pool")
    if iv is None:
        return untestable(st, "ablation not run (12_ablations: `make ablations`)", rule)
    s = a.ablation
    return Verdict(st, stats.interval_verdict(iv["lo"], iv["hi"], SPLIT_BETTER),
                   f"split / single pool = {stats.fmt(iv)} after {s['last_step']} adaptation steps, both "
                   f"meta-trained {s['reference_iteration']} iterations ({len(s['styles'])} styles × "
                   f"{len(s['seeds'])} seeds)", rule)


def small_t(a: Ablation, T: str) -> Verdict:  # noqa: N803 (the paper's T)
    """Claim 11: θ meta-trained with T = 1 adapts about as well as with T = 2 and 5: the ratio T=1 / T=k of
    held-out losses is below ``SMALL_T_ENOUGH`` for every swept k (95% intervals). ``T``: the report's."""
    st = "a small T (1–5) is enough"
    rule = (f"held-out loss T=1 / T=k for k = 2, 5 (95% intervals): holds iff every one is below {SMALL_T_ENOUGH}, "
            f"does not hold iff one is wholly at or above it, else inconclusive")
    ratios = (a.ablation or {}).get("ratio") or {}
    sweep = {k[1:]: v for k, v in ratios.items() if k.startswith("T")}
    if not sweep:
        return untestable(st, f"no T sweep run (T = {T} used; 12_ablations: `make ablations`)", rule)
    meas = "; ".join(f"T=1 / T={k}: {stats.fmt(v)}" for k, v in sorted(sweep.items(), key=lambda x: int(x[0])))
    return Verdict(st, combine(*(stats.interval_verdict(v["lo"], v["hi"], SMALL_T_ENOUGH) for v in sweep.values())),
                   meas, rule)


ABLATION = Source(Ablation, (None, LONG, LONG_B5E3), every=True)
#: the report's own runs (00's ``run.json``): the T they used, named when there is no sweep
SETUP = Source(Setup)


def _small_t(a: Read, setup: Read) -> Verdict:
    T = str(setup.run.get("config", {}).get("meta", {}).get("inner_steps", "?"))  # noqa: N806
    return small_t(a.record, T).at(a.profile)


CLAIMS = (Claim(10, (ABLATION,), single(split)), Claim(11, (ABLATION, SETUP), _small_t))
