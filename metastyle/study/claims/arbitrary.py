"""Claim 6: MetaStyle avoids the failure modes the paper sees in the arbitrary-style methods (PAPER.md E.4),
from notebook 03 under ``long`` when it ran there (the baselines trained for their planned schedules, `make
baselines`), else the report's own 03. The stand-ins are ``study.failure_modes`` (docs/arbitrary.md)."""
from __future__ import annotations

from dataclasses import dataclass, field

from metastyle.study import failure_modes
from metastyle.study.claims.base import (
    FAILS,
    HOLDS,
    LONG,
    UNTESTABLE,
    VISUAL,
    Claim,
    Record,
    Source,
    Verdict,
    combine,
    single,
    untestable,
)

#: MetaStyle shows a failure mode when more than this share of its outputs do
MODE_SHARE = 0.5
#: the methods of 03 that are not arbitrary-style ones
NOT_ARBITRARY = ("Gatys", "Johnson", "MetaStyle")


@dataclass(frozen=True)
class Comparison(Record):
    notebook = "03_comparison_prior_arts"
    heldout_loss: dict = field(default_factory=dict)
    arbitrary_iterations: dict = field(default_factory=dict)
    arbitrary_planned_iterations: dict = field(default_factory=dict)
    arbitrary_recipe_iterations: dict = field(default_factory=dict)
    arbitrary_encoders: list = field(default_factory=list)
    #: ``failure_modes.summarise`` per method: {method: {mode: {"values", "shown", "n"}}}
    failure_modes: dict = field(default_factory=dict)


def _parts(fm: dict) -> tuple[list[str], list[str], list[str]]:
    """The failure-mode parts: (verdicts of the convincing modes, their texts, texts of the visual modes)."""
    verdicts, texts, visual = [], [], []
    for k, mode in failure_modes.MODES.items():
        ours = fm.get("MetaStyle", {}).get(k)
        if ours is None:
            verdicts.append(UNTESTABLE)
            texts.append(f"{mode.name}: not measured")
            continue
        named = fm.get(mode.method, {}).get(k)
        shown = (f"{mode.name}: MetaStyle {ours['shown']}/{ours['n']}"
                 + (f", {mode.method} {named['shown']}/{named['n']}" if named else "") + " outputs cross it")
        if not mode.convincing:
            visual.append(f"{mode.name}: visual ({mode.why_not}): compare the {mode.method} and MetaStyle columns "
                          f"of 03's comparison.png (stand-in, not used: {shown.split(': ', 1)[1]})")
            continue
        verdicts.append(FAILS if ours["shown"] > MODE_SHARE * ours["n"] else HOLDS)
        texts.append(shown)
    return verdicts, texts, visual


def verdict(c: Comparison) -> Verdict:
    """Judged only when every arbitrary-style method was trained for its planned (``long``) schedule, which 03
    records per method (``arbitrary_iterations`` vs ``arbitrary_planned_iterations``); below that their outputs
    show under-training, not the failure modes (docs/arbitrary.md). Parts: the loss proxy (MetaStyle's held-out
    loss below every arbitrary-style method's) and, for each mode of ``failure_modes.MODES`` whose stand-in is
    convincing, MetaStyle shows it on at most ``MODE_SHARE`` of its outputs. Does not hold if a part fails;
    ``visual`` (with the reason and the panels to compare) if the measured parts hold but a mode's stand-in is
    not convincing; holds if every part holds."""
    st = "avoids the arbitrary-style methods' failure modes"
    losses = c.heldout_loss
    arb = {k: v for k, v in losses.items() if k not in NOT_ARBITRARY}
    rule = (f"loss proxy: MetaStyle's held-out loss lowest of the arbitrary-style methods; per failure mode with a "
            f"convincing stand-in ({'; '.join(m.rule() for m in failure_modes.MODES.values() if m.convincing)}): "
            f"MetaStyle's outputs cross it at most {MODE_SHARE:.0%} of the time; modes without one are judged by "
            "eye (visual); judged only when every arbitrary-style method was trained for its planned (long) "
            "schedule (`make baselines`)")
    if not arb or "MetaStyle" not in losses:
        return untestable(st, "no arbitrary-style method available (03)", "needs metastyle.baselines.arbitrary")
    its, planned, recipe = c.arbitrary_iterations, c.arbitrary_planned_iterations, c.arbitrary_recipe_iterations
    enc = ", ".join(c.arbitrary_encoders) or "encoder not recorded"
    meas = (f"MetaStyle held-out loss {losses['MetaStyle']:.4g} vs " + ", ".join(f"{k} {v:.4g}" for k, v in arb.items())
            + "; trained " + ", ".join(f"{k} {its.get(k, '?')} of planned {planned.get(k) or '?'} (recipe "
                                      f"{recipe.get(k, '?')})" for k in arb) + f"; encoders {enc}")
    short = [k for k in arb if not planned.get(k) or its.get(k, 0) < planned[k]]
    if short:
        return Verdict(st, UNTESTABLE, meas + f" (below the planned schedule: {', '.join(short)})", rule)
    if not c.failure_modes:
        return Verdict(st, UNTESTABLE, meas + " (no failure-mode stand-ins in 03)", rule)
    proxy = HOLDS if all(losses["MetaStyle"] < v for v in arb.values()) else FAILS
    verdicts, texts, visual = _parts(c.failure_modes)
    meas += "; " + "; ".join(texts + visual)
    v = combine(proxy, *verdicts)
    return Verdict(st, VISUAL if v == HOLDS and visual else v, meas, rule)


#: 03 under ``long`` (the planned schedules) when it ran there, else the report's; the same figure images
PLANNED = Source(Comparison, (LONG, None), same_data=True)
CLAIMS = (Claim(6, (PLANNED,), single(verdict)),)
