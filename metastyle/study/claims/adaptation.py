"""Claims 3, 4 and 12: θ adapts to unseen styles (3), far below a random init and close to a converged
single-style model after 100–200 steps (4), and (beyond the paper) faster than θ_plain, the same network trained
by multi-style training without the inner loop (12; docs/baselines.md).

Decided by notebook 11's budget curve (intervals over styles × seeds, ``study.budget``) under the report's
profile, ``long`` (the paper's β) and ``long-b5e3`` (quick's β), one verdict per curve that ran; without any, by
notebook 02's single-seed comparison (``measure`` computes its numbers).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from metastyle.errors import MetaStyleError
from metastyle.study import budget, compare, stats
from metastyle.study.claims.base import (
    FAILS,
    HOLDS,
    LONG,
    LONG_B5E3,
    UNTESTABLE,
    Claim,
    Read,
    Record,
    Source,
    Verdict,
    combine,
    need,
    untestable,
)

#: claim 4: loss after adaptation from θ <= 0.5 x loss from random init
FAR_BELOW = 0.5
#: claim 4: loss after adaptation from θ <= 1.25 x a converged Johnson model's
CLOSE_TO_CONVERGED = 1.25
#: claim 12: "fast" is judged at this adaptation step as well as at the last one
EARLY_STEP = 25
#: claim 12 (02's rule): θ_meta must win on more than this share of the held-out styles
MAJORITY = 0.5


@dataclass(frozen=True)
class Adaptation(Record):
    """Notebook 02: held-out losses after ``adapt_steps`` steps from θ, θ_plain and a random init."""
    notebook = "02_adaptation"
    adapt_steps: int | None = None
    adapt_seconds_mean: float | None = None
    final_ratio_theta_over_scratch: float | None = None
    theta_improvement_ratio: float | None = None
    n_styles: int | None = None
    #: ``compare.summarize``: {"steps": [...], "styles": {style: {init: [loss at each step]}}}
    meta_vs_plain: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Budget(Record):
    """Notebook 11: the budget curve's summary (``budget.summarize``) and its scale."""
    notebook = "11_budget_curve"
    budget: dict | None = None
    neutral_ssim_min: float | None = None  # read by claim 7, beside its rule
    meta_iterations: int | None = None
    style_weight: float | None = None
    n_contents: int | None = None
    heldout_source: str | None = None


ADAPTATION = Source(Adaptation)
#: claims 3, 4 and 12 are judged on each budget curve that ran: the paper's β (long) and quick's (long-b5e3)
BUDGETS = Source(Budget, (None, LONG, LONG_B5E3), every=True)
#: one budget curve, for a number shown beside another claim's rule (claim 7)
BUDGET = Source(Budget, (None, LONG, LONG_B5E3))


def measure(curves: list[dict], steps: int) -> dict:
    """02's numbers for claims 3, 4 and 12 from ``compare.init_curves`` rows (style, init, step, loss): the mean
    held-out loss over the compared styles at step 0 and at the last step, the ratios the rules read, and the
    per-style losses at ``compare.comparison_steps(steps)``."""
    last = max(r["step"] for r in curves)

    def mean(init, step):
        return statistics.fmean(r["loss"] for r in curves if r["init"] == init and r["step"] == step)

    t0, t_final, s_final = mean("meta", 0), mean("meta", last), mean("scratch", last)
    return {"heldout_loss_theta_step0": t0, "heldout_loss_theta_final": t_final,
            "heldout_loss_scratch_final": s_final, "final_ratio_theta_over_scratch": t_final / s_final,
            "theta_improvement_ratio": t_final / t0,
            "meta_vs_plain": compare.summarize(curves, compare.comparison_steps(steps))}


# --------------------------------------------------------------------------- 02's single-seed rules
def adapts(a: Adaptation) -> Verdict:
    """Claim 3 from 02: adaptation lowers the held-out loss and ends below scratch, on the mean and per style."""
    st = "θ adapts to unseen styles"
    r, imp = a.final_ratio_theta_over_scratch, a.theta_improvement_ratio
    if not need(r, imp):
        return untestable(st, "missing (02)", "needs 02")
    # the claim is about every unseen style: where 02 compared θ and scratch style by style, each must end below
    styles = a.meta_vs_plain.get("styles", {})
    per_style = {n: v["meta"][-1] / v["scratch"][-1] for n, v in styles.items() if v.get("meta") and v.get("scratch")}
    each = "; per style θ/scratch " + ", ".join(f"{n} {x:.3g}" for n, x in per_style.items()) if per_style else ""
    return Verdict(st, HOLDS if imp < 1 and r < 1 and all(x < 1 for x in per_style.values()) else FAILS,
                   f"held-out loss after {a.adapt_steps} steps / at θ = {imp:.3g}; "
                   f"/ from scratch = {r:.3g} ({a.n_styles} unseen styles){each}",
                   "holds iff adaptation lowers the held-out loss of unseen styles and ends below scratch, on the "
                   "mean and on every style compared step by step")


def far_below(a: Adaptation) -> Verdict:
    """Claim 4 from 02: the final θ/scratch loss ratio at most ``FAR_BELOW``."""
    r = a.final_ratio_theta_over_scratch
    if r is None:
        return untestable("100–200 steps from θ beat random init", "missing (02)", "needs 02")
    return Verdict("100–200 steps from θ: held-out loss far below random init", HOLDS if r <= FAR_BELOW else FAILS,
                   f"final loss ratio θ/scratch = {r:.3g} after {a.adapt_steps} steps",
                   f"holds iff ratio <= {FAR_BELOW}; visual comparison to Johnson/Gatys: see 03")


META_VS_PLAIN = "(beyond the paper) the meta-learning, not multi-style pretraining, explains the fast adaptation"


def meta_vs_plain(a: Adaptation) -> Verdict:
    """Claim 12 from 02: adaptation from θ_meta reaches a lower held-out loss than from θ_plain (same network,
    styles and compute; ``metastyle.baselines.plain``) at every comparison step on more than half of the held-out
    styles."""
    rule = ("holds iff adapting from θ_meta gives a lower held-out loss than from θ_plain at every comparison "
            "step on more than half of the held-out styles")
    mp = a.meta_vs_plain
    if not mp:
        return untestable(META_VS_PLAIN, "θ_plain missing (02 has no meta_vs_plain)", rule)
    steps, styles = mp.get("steps"), mp.get("styles")
    if not steps or not isinstance(styles, dict) or not styles:
        raise MetaStyleError(f"02 metrics: meta_vs_plain needs non-empty 'steps' and 'styles', got {mp!r}")
    bad = [n for n, v in styles.items()
           if len(v.get("meta", ())) != len(steps) or len(v.get("plain", ())) != len(steps)]
    if bad:
        raise MetaStyleError(f"02 metrics: meta_vs_plain has no meta/plain loss at each of steps {steps} "
                             f"for style(s) {bad}")
    wins = [n for n, v in styles.items() if all(x < y for x, y in zip(v["meta"], v["plain"]))]
    ratios = [v["meta"][-1] / v["plain"][-1] for v in styles.values()]
    measured = (f"θ_meta below θ_plain at steps {steps} on {len(wins)}/{len(styles)} held-out styles; "
                f"loss ratio meta/plain at step {steps[-1]}: " + ", ".join(f"{r:.3g}" for r in ratios))
    return Verdict(META_VS_PLAIN, HOLDS if len(wins) > MAJORITY * len(styles) else FAILS, measured, rule)


# --------------------------------------------------------------------------- the budget curve's interval rules
def final_snapshot(rows: list[dict], init: str) -> dict | None:
    rows = [r for r in rows if r.get("init") == init]
    return max(rows, key=lambda r: r["iteration"]) if rows else None


def _inf(v):
    return math.inf if v is None else v


def adapts_budget(b: dict) -> Verdict:
    """Claim 3 from the budget curve: the longest-trained θ reaches scratch's held-out loss at the last
    adaptation step in fewer steps (steps-to-match, median over styles and seeds, 95% interval)."""
    st = "θ adapts to unseen styles faster than a random init"
    last = b["last_step"]
    rule = (f"steps-to-match (steps from θ to reach scratch's held-out loss at step {last}): holds iff the 95% "
            f"interval is below {last}, does not hold iff it is at or above {last} (never earlier), else inconclusive")
    row = final_snapshot(b["rows"], "meta")
    if row is None:
        return untestable(st, "no meta snapshot in 11", rule)
    m = row["steps_to_match"]
    show = {k: (f">{last}" if v is None else f"{v:.3g}") for k, v in m.items()}
    meas = (f"θ@{row['iteration']} reaches scratch's step-{last} loss in {show['value']} steps "
            f"[{show['lo']}, {show['hi']}] ({len(b['styles'])} unseen styles × {len(b['seeds'])} seeds); "
            f"loss ratio θ/scratch at step {last}: {stats.fmt(row['ratio'][str(last)])}")
    return Verdict(st, stats.interval_verdict(_inf(m["lo"]), _inf(m["hi"]), last), meas, rule)


def far_below_budget(b: dict) -> Verdict:
    """Claim 4 from the budget curve: after the last adaptation step the held-out loss from θ is far below
    scratch's (ratio interval below ``FAR_BELOW``) and close to a converged Johnson model's (ratio interval
    below ``CLOSE_TO_CONVERGED``)."""
    st = "100–200 steps from θ: held-out loss far below random init, close to a converged single-style model"
    last = b["last_step"]
    rule = (f"both parts on 95% intervals: θ/scratch at step {last} below {FAR_BELOW}, and θ/Johnson trained to "
            f"convergence below {CLOSE_TO_CONVERGED}; does not hold if either interval is wholly above its "
            "threshold, inconclusive if one straddles it")
    row = final_snapshot(b["rows"], "meta")
    if row is None:
        return untestable(st, "no meta snapshot in 11", rule)
    r = row["ratio"][str(last)]
    parts = [stats.interval_verdict(r["lo"], r["hi"], FAR_BELOW)]
    meas = f"θ@{row['iteration']}/scratch at step {last}: {stats.fmt(r)}"
    conv = b.get("converged")
    if conv:
        parts.append(stats.interval_verdict(conv["ratio"]["lo"], conv["ratio"]["hi"], CLOSE_TO_CONVERGED))
        meas += (f"; θ/Johnson converged ({', '.join(f'{k} {v} steps' for k, v in conv['johnson_steps'].items())}): "
                 f"{stats.fmt(conv['ratio'])}")
    else:
        parts.append(UNTESTABLE)
        meas += "; no converged Johnson reference"
    if b.get("trend"):  # where the curve is heading (not part of the rule)
        meas += f"; trend: {budget.trend_text(b['trend'], last)}"
    return Verdict(st, combine(*parts), meas, rule)


def meta_vs_plain_budget(b: dict) -> Verdict:
    """Claim 12 from the budget curve: at the longest common snapshot, θ_meta's held-out loss relative to
    θ_plain's is below 1 at ``EARLY_STEP`` and at the last step (95% intervals)."""
    last = b["last_step"]
    rule = (f"θ_meta/θ_plain at steps {EARLY_STEP} and {last} (95% intervals): holds iff both are below 1, does "
            "not hold iff either is wholly at or above 1, else inconclusive")
    mp = b.get("meta_vs_plain") or []
    if not mp:
        return untestable(META_VS_PLAIN, "no θ_plain snapshots in 11", rule)
    row = max(mp, key=lambda r: r["iteration"])
    ivs = [row["ratio"][str(s)] for s in (EARLY_STEP, last) if str(s) in row["ratio"]]
    meas = f"at iteration {row['iteration']}: " + "; ".join(
        f"step {s} {stats.fmt(row['ratio'][str(s)])}" for s in (EARLY_STEP, last) if str(s) in row["ratio"])
    return Verdict(META_VS_PLAIN, combine(*(stats.interval_verdict(v["lo"], v["hi"], 1.0) for v in ivs)), meas, rule)


# --------------------------------------------------------------------------- the claims: 11 if it ran, else 02
def _either(on_budget, on_02):
    def judge(b: Read, a: Read) -> Verdict:
        budget = b.record.budget
        return on_budget(budget).at(b.profile) if budget else on_02(a.record).at(a.profile)
    return judge


def budget_note(b: Read, a: Read) -> str:
    """The header line saying where claims 3, 4 and 12 come from, with the budget curve's scale."""
    if not b.run:
        return (f"Claims 3, 4 and 12: no budget curve (notebook 11 under `{LONG}`: `make long`); "
                "single-seed rules on 02's two styles")
    return f"Claims 3, 4 and 12: the budget curve (notebook 11) of profile `{b.profile}`, " + budget_scale(b)


def budget_scale(b: Read) -> str:
    """One line on the budget curve's scale against the paper's, from 11's ``run.json`` and metrics."""
    run, s = b.run, b.record
    cfg, summary, prov = run.get("config", {}), s.budget or {}, run.get("provenance", {})
    beta = s.style_weight
    return (f"{cfg.get('meta', {}).get('iterations', '?')} meta-iterations (paper 100,000) at "
            f"{cfg.get('data', {}).get('content_size', '?')} px, β {'?' if beta is None else f'{beta:g}'} "
            "(paper 1e5), "
            f"{summary.get('last_step', '?')} adaptation steps at {cfg.get('adapt', {}).get('content_size', '?')} px; "
            f"{len(summary.get('styles', []))} held-out styles × {len(summary.get('seeds', []))} seeds × "
            f"{'?' if s.n_contents is None else s.n_contents} held-out photos "
            f"({'?' if s.heldout_source is None else s.heldout_source}); "
            f"DATA={run.get('data', '?')}; commit {prov.get('git_commit', '?')}")


CLAIMS = (Claim(3, (BUDGETS, ADAPTATION), _either(adapts_budget, adapts), note=budget_note),
          Claim(4, (BUDGETS, ADAPTATION), _either(far_below_budget, far_below)),
          Claim(12, (BUDGETS, ADAPTATION), _either(meta_vs_plain_budget, meta_vs_plain)))
