"""``results/REPORT.md``: each claim of PAPER.md §F, what was measured, and a verdict decided by the explicit
rules below (never by hand). Numbers are read from the notebooks' ``metrics.json``; a claim whose numbers
are missing is "not testable at this scale", with the reason.

Verdicts: ``holds``, ``does not hold``, ``not testable at this scale``.
"""
from __future__ import annotations

from pathlib import Path

from .checkpoint import atomic_path
from .errors import MetaStyleError
from .results import read_metrics, read_run

NOTEBOOKS = ("00_setup_and_data", "01_meta_training", "02_adaptation", "03_comparison_prior_arts",
             "04_quantitative_results", "05_style_interpolation", "06_video_style_transfer",
             "07_representation", "08_gatys_with_metastyle_init", "09_johnson_with_metastyle_init")

HOLDS, FAILS, UNTESTABLE = "holds", "does not hold", "not testable at this scale"

# Thresholds of the rules (stated in the report next to each verdict).
FAR_BELOW = 0.5          # claim 4: loss after adaptation from theta <= 0.5 x loss from random init
SAME_SPEED = (0.8, 1.25)  # claim 2: MetaStyle / Johnson forward time within this band
RECOGNIZABLE_SSIM = 0.3  # claim 7: SSIM(M(I_c; theta), I_c) at least this
SMOOTH_VIOLATIONS = 1    # claim 8: at most this many non-monotone steps of the style loss to B
SMOOTH_JUMP = 3.0        # claim 8: largest step change <= 3 x the median step change
NO_FLICKER = 1.5         # claim 9: stylised frame-to-frame change <= 1.5 x the input's


def _v(verdict, measured, rule):
    return {"verdict": verdict, "measured": measured, "rule": rule}


def _need(*vals):
    return all(v is not None for v in vals)


def claims(m: dict[str, dict], profile: str) -> list[dict]:
    """Verdicts for the 11 claims of PAPER.md §F and claim 12 (beyond the paper) from the notebooks' metrics
    ``m[notebook]``."""
    g = {nb: m.get(nb, {}) for nb in NOTEBOOKS}
    s00, s02, s03, s04, s05, s06, s07 = (g["00_setup_and_data"], g["02_adaptation"], g["03_comparison_prior_arts"],
                                         g["04_quantitative_results"], g["05_style_interpolation"],
                                         g["06_video_style_transfer"], g["07_representation"])
    out = []
    # 1. parameter count
    n = s00.get("n_params")
    out.append(("≈1.68M parameters (1,679,235), same as Johnson",
                _v(UNTESTABLE if n is None else HOLDS if n == 1_679_235 else FAILS,
                   f"{n:,} parameters" if n is not None else "missing (00)", "holds iff exactly 1,679,235")))
    # 2. speed
    r256, r512 = s04.get("ratio_256_Johnson"), s04.get("ratio_512_Johnson")
    if _need(r256, r512):
        same = all(1 / SAME_SPEED[1] <= 1 / r <= 1 / SAME_SPEED[0] for r in (r256, r512))
        meas = (f"Johnson/MetaStyle time ratio {r256:.3g} (256²), {r512:.3g} (512²); "
                f"Gatys/MetaStyle {s04.get('ratio_256_Gatys', float('nan')):.4g} (256²)"
                f"; device GPU={s04.get('device_is_gpu')}")
        out.append(("adapted model runs as fast as Johnson (ratios, same device)",
                    _v(HOLDS if same else FAILS, meas,
                       f"holds iff MetaStyle/Johnson time within {SAME_SPEED} at both sizes")))
    else:
        out.append(("adapted model runs as fast as Johnson", _v(UNTESTABLE, "missing (04)", "needs 04's ratios")))
    # 3. adapts to arbitrary unseen style
    r, imp = s02.get("final_ratio_theta_over_scratch"), s02.get("theta_improvement_ratio")
    if _need(r, imp):
        ok = imp < 1 and r < 1
        out.append(("θ adapts to unseen styles",
                    _v(HOLDS if ok else FAILS,
                       f"held-out loss after {s02.get('adapt_steps')} steps / at θ = {imp:.3g}; "
                       f"/ from scratch = {r:.3g} ({s02.get('n_styles')} unseen styles)",
                       "holds iff adaptation lowers the held-out loss of unseen styles and ends below scratch")))
    else:
        out.append(("θ adapts to unseen styles", _v(UNTESTABLE, "missing (02)", "needs 02")))
    # 4. far below random init
    if r is not None:
        out.append(("100–200 steps from θ: held-out loss far below random init",
                    _v(HOLDS if r <= FAR_BELOW else FAILS,
                       f"final loss ratio θ/scratch = {r:.3g} after {s02.get('adapt_steps')} steps",
                       f"holds iff ratio <= {FAR_BELOW}; visual comparison to Johnson/Gatys: see 03")))
    else:
        out.append(("100–200 steps from θ beat random init", _v(UNTESTABLE, "missing (02)", "needs 02")))
    # 5. < 30 s on a modern GPU
    sec = s02.get("adapt_seconds_mean")
    gpu = s04.get("device_is_gpu")
    if sec is not None and gpu:
        per200 = sec / max(1, s02.get("adapt_steps", 200)) * 200
        out.append(("200 adaptation steps < 30 s on a GPU",
                    _v(HOLDS if per200 < 30 else FAILS, f"{per200:.1f} s per 200 steps", "holds iff < 30 s")))
    else:
        out.append(("200 adaptation steps < 30 s on a GPU",
                    _v(UNTESTABLE, f"{sec:.1f} s for {s02.get('adapt_steps')} steps on CPU" if sec is not None
                       else "missing (02)", "needs a GPU run (content size differs from the paper's 256 px)")))
    # 6. arbitrary-method failure modes
    losses = s03.get("heldout_loss", {})
    arb = {k: v for k, v in losses.items() if k not in ("Gatys", "Johnson", "MetaStyle")}
    if arb and "MetaStyle" in losses:
        better = [k for k, v in arb.items() if losses["MetaStyle"] < v]
        # Below `paper` the arbitrary-style networks get a few dozen training iterations (docs/arbitrary.md):
        # their loss then measures under-training, not the failure modes the paper names.
        judged = profile == "paper"
        out.append(("avoids the arbitrary-style methods' failure modes",
                    _v((HOLDS if len(better) == len(arb) else FAILS) if judged else UNTESTABLE,
                       f"MetaStyle held-out loss {losses['MetaStyle']:.4g} vs " +
                       ", ".join(f"{k} {v:.4g}" for k, v in arb.items()),
                       "loss proxy only (the claim is visual): holds iff MetaStyle's loss is lowest of them; "
                       "judged only under `paper`, where the arbitrary-style methods are trained to their recipes")))
    else:
        out.append(("avoids the arbitrary-style methods' failure modes",
                    _v(UNTESTABLE, "no arbitrary-style method available (03)", "needs metastyle.arbitrary")))
    # 7. style-neutral representation
    ss = s07.get("ssim_theta_to_content")
    if ss is not None:
        out.append(("M(·; θ) is a recognizable, style-neutral rendering",
                    _v(HOLDS if ss >= RECOGNIZABLE_SSIM else FAILS,
                       f"SSIM(M(I_c;θ), I_c) = {ss:.3g}; style loss θ-output/content = "
                       f"{s07.get('style_loss_theta_over_content', float('nan')):.3g}; "
                       f"spread across eval styles (CV) θ {s07.get('style_loss_theta_cv', float('nan')):.3g} "
                       f"vs content {s07.get('style_loss_content_cv', float('nan')):.3g}",
                       f"holds iff SSIM >= {RECOGNIZABLE_SSIM} (recognizable); style numbers reported, not judged")))
    else:
        out.append(("M(·; θ) is style-neutral", _v(UNTESTABLE, "missing (07)", "needs 07")))
    # 8. interpolation
    vb, mx, md = (s05.get("style_loss_to_B_violations"), s05.get("max_step_change"), s05.get("median_step_change"))
    if _need(vb, mx, md):
        ok = vb <= SMOOTH_VIOLATIONS and mx <= SMOOTH_JUMP * max(md, 1e-12)
        out.append(("convex combinations interpolate smoothly",
                    _v(HOLDS if ok else FAILS,
                       f"{vb} non-monotone steps of the style loss to B; largest/median step change "
                       f"{mx / max(md, 1e-12):.3g}",
                       f"holds iff <= {SMOOTH_VIOLATIONS} violations and largest step <= {SMOOTH_JUMP}x median")))
    else:
        out.append(("convex combinations interpolate smoothly", _v(UNTESTABLE, "missing (05)", "needs 05")))
    # 9. flicker
    fr = s06.get("instability_ratio_metastyle")
    if fr is not None:
        gr = s06.get("instability_ratio_gatys")
        out.append(("frame-by-frame video has no visible flicker",
                    _v(HOLDS if fr <= NO_FLICKER else FAILS,
                       f"stylised/input frame change = {fr:.3g}" + (f"; per-frame Gatys {gr:.3g}" if gr else ""),
                       f"holds iff <= {NO_FLICKER} (synthetic clip, no optical flow)")))
    else:
        out.append(("frame-by-frame video has no flicker", _v(UNTESTABLE, "missing (06)", "needs 06")))
    # 10. train/val split ablation
    out.append(("separate inner/outer contents generalize to unseen contents",
                _v(UNTESTABLE, "ablation (split vs single-pool meta-training) not run by the notebooks",
                   "needs two meta-trainings; evaluation here is on held-out contents with the train-val split")))
    # 11. small T
    out.append(("a small T (1–5) is enough",
                _v(out[3][1]["verdict"] if out[3][1]["verdict"] != FAILS else FAILS,
                   f"T = {read_T(m)} used; see claim 4",
                   "indirect: follows claim 4's verdict (no sweep over T is run)")))
    out.append(meta_vs_plain(s02))  # 12. beyond the paper: docs/baselines.md "Is it the meta-learning?"
    return [{"claim": i + 1, "statement": s, **v} for i, (s, v) in enumerate(out)]


def meta_vs_plain(s02: dict) -> tuple[str, dict]:
    """Claim 12 (beyond the paper): adaptation from θ_meta reaches a lower held-out loss than from θ_plain
    (same network, styles and compute, multi-style training without inner loop; ``metastyle.plain``) at every
    comparison step on more than half of the held-out styles. Reads 02's ``meta_vs_plain`` summary."""
    statement = "(beyond the paper) the meta-learning, not multi-style pretraining, explains the fast adaptation"
    rule = ("holds iff adapting from θ_meta gives a lower held-out loss than from θ_plain at every comparison "
            "step on more than half of the held-out styles")
    mp = s02.get("meta_vs_plain")
    if not mp:
        return statement, _v(UNTESTABLE, "θ_plain missing (02 has no meta_vs_plain)", rule)
    steps, styles = mp.get("steps"), mp.get("styles")
    if not steps or not isinstance(styles, dict) or not styles:
        raise MetaStyleError(f"02 metrics: meta_vs_plain needs non-empty 'steps' and 'styles', got {mp!r}")
    bad = [n for n, v in styles.items()
           if len(v.get("meta", ())) != len(steps) or len(v.get("plain", ())) != len(steps)]
    if bad:
        raise MetaStyleError(f"02 metrics: meta_vs_plain has no meta/plain loss at each of steps {steps} "
                             f"for style(s) {bad}")
    wins = [n for n, v in styles.items() if all(a < b for a, b in zip(v["meta"], v["plain"]))]
    ratios = [v["meta"][-1] / v["plain"][-1] for v in styles.values()]
    measured = (f"θ_meta below θ_plain at steps {steps} on {len(wins)}/{len(styles)} held-out styles; "
                f"loss ratio meta/plain at step {steps[-1]}: " + ", ".join(f"{r:.3g}" for r in ratios))
    return statement, _v(HOLDS if len(wins) > len(styles) / 2 else FAILS, measured, rule)


def read_T(m) -> str:
    return str(m.get("_config", {}).get("meta", {}).get("inner_steps", "?"))


def build(results_dir: str | Path, profile: str, data: str) -> tuple[str, list[dict]]:
    """The REPORT.md text and the verdict list."""
    m = {nb: read_metrics(results_dir, nb, profile) for nb in NOTEBOOKS}
    runs = {nb: read_run(results_dir, nb, profile) for nb in NOTEBOOKS}
    any_run = next((r for r in runs.values() if r), {})
    m["_config"] = any_run.get("config", {})
    verdicts = claims(m, profile)
    ln = any_run.get("loss_net", {})
    label = any_run.get("loss_net_label", "unknown")
    lines = [f"# MetaStyle reproduction report ({profile})", "",
             f"Made by `make reproduce PROFILE={profile} DATA={data}` "
             f"(`python -m metastyle.reproduce --profile {profile} --data {data}`).", "",
             f"- Loss network: **{label}**"]
    if ln and ln.get("name", "").endswith("-random"):
        lines.append("- **The vgg16-random offline fallback was used: the numbers are not comparable to the paper's;"
                     " only relative effects within this study mean anything.**")
    cfg = any_run.get("config", {})
    if cfg:
        lines.append(f"- Scale: {cfg['meta']['iterations']} meta-iterations (paper 100,000), contents "
                     f"{cfg['data']['content_size']} px, adaptation {cfg['adapt']['steps']} steps; data "
                     f"{cfg['data']['content']}/{cfg['data']['style']}")
    prov = any_run.get("provenance", {})
    if prov:
        lines.append(f"- Device: {prov.get('device_name')}; commit {prov.get('git_commit')}")
    missing = [nb for nb in NOTEBOOKS if not m[nb]]
    if missing:
        lines.append(f"- Missing results (not run under this profile): {', '.join(missing)}")
    lines += ["", "| # | claim (PAPER.md §F) | measured | verdict | rule |", "|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v['claim']} | {v['statement']} | {v['measured']} | **{v['verdict']}** | {v['rule']} |")
    lines += ["", "Per-notebook numbers: `results/<notebook>/" + profile + "/metrics.json`; provenance in `run.json`."]
    return "\n".join(lines) + "\n", verdicts


def write_atomic(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(build(sys.argv[1] if len(sys.argv) > 1 else "results", "quick", "embedded")[0])
