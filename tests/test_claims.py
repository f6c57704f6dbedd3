"""The claim slices (metastyle/study/claims/): each rule gives each verdict it can from crafted metrics; every
slice's notebook exists and writes the keys the slice reads; a new slice is picked up without editing the report;
the ``measure`` functions the notebooks call compute the numbers the rules read."""
from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import types
from pathlib import Path

import pytest
import torch

from metastyle.errors import MetaStyleError
from metastyle.study import claims, failure_modes, report
from metastyle.study.claims import adaptation, base, representation, speed, video

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _verdicts import rows  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
H, F, I, U, V = base.HOLDS, base.FAILS, base.INCONCLUSIVE, base.UNTESTABLE, base.VISUAL  # noqa: E741


def verdict(metrics_by_nb: dict, claim: int, profile: str = "quick") -> str:
    return rows(metrics_by_nb, profile)[claim - 1]["verdict"]


# ----------------------------------------------------------------------------------------------- registry
def test_the_registry_holds_claims_1_to_12_once_each():
    assert [c.number for c in claims.registry()] == list(range(1, 13))
    assert [r["claim"] for r in rows({})] == list(range(1, 13))


def notebook_problems(claim_list) -> list[str]:
    """Sources whose notebook has no ``notebooks/<name>.py``."""
    return [f"claim {c.number}: no notebook {s.notebook!r}" for c in claim_list for s in c.sources
            if not s.notebook or not (NOTEBOOKS / f"{s.notebook}.py").is_file()]


def written_keys(source: str) -> list[str]:
    """Regexes of the keys a notebook's source can write: its string literals, its f-strings (a placeholder
    matches anything), and the string literals of the claim slices' ``measure`` functions it calls."""
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(re.escape(node.value))
        elif isinstance(node, ast.JoinedStr):  # f"ratio_{s}_{meth}" -> ratio_.+_.+ (f"{x}" alone names no key)
            fixed = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if sum(ch.isalnum() for ch in fixed) >= 3:
                out.append("".join(re.escape(v.value) if isinstance(v, ast.Constant) else ".+" for v in node.values))
    for name in set(re.findall(r"\b(\w+)\.measure\(", source)):
        if f"from metastyle.study.claims import {name}" in source:
            measure = importlib.import_module(f"metastyle.study.claims.{name}").measure
            out += written_keys(inspect.getsource(measure))
    return out


def key_problems(claim_list, read=lambda nb: (NOTEBOOKS / f"{nb}.py").read_text()) -> list[str]:
    """Keys a slice reads that its notebook does not write."""
    out = []
    for c in claim_list:
        for s in c.sources:
            pats = written_keys(read(s.notebook))
            out += [f"claim {c.number}: {s.notebook} writes no {k!r}" for k in base.keys(s.record)
                    if not any(re.fullmatch(p, k) for p in pats)]
    return out


def test_every_slice_reads_a_notebook_that_exists():
    assert notebook_problems(claims.registry()) == []


def test_every_key_a_slice_reads_is_written_by_its_notebook():
    assert key_problems(claims.registry()) == []


@dataclasses.dataclass(frozen=True)
class Orphan(base.Record):
    notebook = "99_nowhere"
    n_params: int | None = None


@dataclasses.dataclass(frozen=True)
class Renamed(base.Record):
    notebook = "00_setup_and_data"
    parameter_count: int | None = None


def test_the_checks_catch_a_missing_notebook_and_a_key_nobody_writes():
    judge = base.single(lambda r: base.untestable("x", "y", "z"))
    assert notebook_problems([base.Claim(13, (base.Source(Orphan),), judge)]) == ["claim 13: no notebook '99_nowhere'"]
    assert key_problems([base.Claim(13, (base.Source(Renamed),), judge)]) == [
        "claim 13: 00_setup_and_data writes no 'parameter_count'"]
    # a key written only by a slice's measure counts only when the notebook calls that measure
    calls = "from metastyle.study.claims import video\nrec.write_metrics(video.measure(1.0, 2.0))\n"
    src = {"06_video_style_transfer": calls}
    assert key_problems([c for c in claims.registry() if c.number == 9], src.get) == []
    src = {"06_video_style_transfer": "rec.write_metrics({'frames': 8})\n"}
    assert key_problems([c for c in claims.registry() if c.number == 9], src.get) == [
        "claim 9: 06_video_style_transfer writes no 'instability_ratio_metastyle'",
        "claim 9: 06_video_style_transfer writes no 'instability_ratio_gatys'"]


def test_every_measure_is_called_by_a_notebook():
    sources = "\n".join(p.read_text() for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    slices = {c.judge.__module__ for c in claims.registry()} | {c.sources[0].record.__module__
                                                                for c in claims.registry()}
    with_measure = [m.rsplit(".", 1)[1] for m in sorted(slices) if hasattr(importlib.import_module(m), "measure")]
    assert with_measure and all(f"{m}.measure(" in sources for m in with_measure), with_measure


def test_a_new_slice_is_one_module_and_the_report_needs_no_edit(tmp_path, monkeypatch):
    (tmp_path / "extra_claim.py").write_text(
        "from dataclasses import dataclass\n"
        "from metastyle.study.claims.base import HOLDS, Claim, Record, Source, Verdict, single\n"
        "@dataclass(frozen=True)\n"
        "class Setup(Record):\n"
        "    notebook = '00_setup_and_data'\n"
        "    n_params: int | None = None\n"
        "rule = lambda s: Verdict('a new claim', HOLDS, f'{s.n_params}', 'r')\n"
        "CLAIMS = (Claim(13, (Source(Setup),), single(rule)),)\n")
    monkeypatch.setattr(claims, "__path__", [*claims.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "metastyle.study.claims.extra_claim", raising=False)
    out = tmp_path / "results" / "00_setup_and_data" / "quick"
    out.mkdir(parents=True)
    (out / "metrics.json").write_text('{"n_params": 7}')
    text, verdicts = report.build(tmp_path / "results", "quick", "examples")
    assert verdicts[-1] == {"claim": 13, "statement": "a new claim", "verdict": H, "measured": "7", "rule": "r",
                            "profile": "quick"}
    assert "| 13 | a new claim | 7 | **holds** | `quick` | r |" in text
    sys.modules.pop("metastyle.study.claims.extra_claim", None)


# ----------------------------------------------------------------------------------- rules, claims 1 to 11
def _abl(ratios: dict) -> dict:
    """12's metrics with ``ratios`` = {variant: (value, lo, hi)}."""
    return {"ablation": {"reference_iteration": 100, "last_step": 200, "styles": ["a"] * 12, "seeds": [0, 1, 2],
                         "ratio": {k: {"value": v, "lo": lo, "hi": hi} for k, (v, lo, hi) in ratios.items()}}}


S02_GOOD = {"final_ratio_theta_over_scratch": 0.3, "theta_improvement_ratio": 0.5, "adapt_steps": 100,
            "adapt_seconds_mean": 5.0, "n_styles": 4}
INDEPENDENT = "independent: la_muse-adapted θ vs Johnson trained 200 steps, best of 7"
T04 = {"ratio_256_Johnson": 1.02, "ratio_512_Johnson": 0.97, "johnson_timing": INDEPENDENT}
S05 = {"style_loss_to_B_violations": 0, "max_step_change": 2, "median_step_change": 1}
NB03, NB03_LONG = "03_comparison_prior_arts", "03_comparison_prior_arts@long"


def _modes(shown: dict | None = None) -> dict:
    """03's ``failure_modes`` for MetaStyle, AdaIN and WCT, 4 outputs each; ``shown`` = {(method, mode): n}."""
    shown = shown or {}
    return {m: {k: {"values": [0.0] * 4, "shown": shown.get((m, k), 0), "n": 4} for k in failure_modes.MODES}
            for m in ("MetaStyle", "AdaIN", "WCT")}


ARB = {"heldout_loss": {"MetaStyle": 1.0, "AdaIN": 2.0, "WCT": 3.0},
       "arbitrary_iterations": {"AdaIN": 800, "WCT": 564}, "arbitrary_planned_iterations": {"AdaIN": 800, "WCT": 564},
       "arbitrary_recipe_iterations": {"AdaIN": 160_000, "WCT": 100_000},
       "arbitrary_encoders": ["vgg16-caffe (ImageNet, original Oxford/Caffe weights, offline, in place of vgg19)"],
       "failure_modes": _modes()}

CASES = [  # (claim, metrics, expected verdict)
    (1, {"00_setup_and_data": {"n_params": 1_679_235}}, H),
    (1, {"00_setup_and_data": {"n_params": 1_000}}, F),
    (1, {}, U),
    (2, {"04_quantitative_results": T04}, H),
    (2, {"04_quantitative_results": {**T04, "ratio_256_Johnson": 0.5}}, F),
    (2, {"04_quantitative_results": {"ratio_256_Johnson": 1.0, "ratio_512_Johnson": 1.0}}, U),  # one network twice
    (2, {}, U),
    (3, {"02_adaptation": S02_GOOD}, H),
    (3, {"02_adaptation": {**S02_GOOD, "final_ratio_theta_over_scratch": 1.1}}, F),
    (3, {"02_adaptation": {**S02_GOOD, "meta_vs_plain": {"steps": [1, 2], "styles": {  # below scratch on avg, not b
        "a": {"meta": [5.0, 2.0], "plain": [5.0, 2.0], "scratch": [6.0, 3.0]},
        "b": {"meta": [5.0, 3.1], "plain": [5.0, 3.1], "scratch": [6.0, 3.0]}}}}}, F),
    (3, {"02_adaptation": {**S02_GOOD, "meta_vs_plain": {"steps": [1, 2], "styles": {
        "a": {"meta": [5.0, 2.0], "plain": [5.0, 2.0], "scratch": [6.0, 3.0]},
        "b": {"meta": [5.0, 2.9], "plain": [5.0, 2.9], "scratch": [6.0, 3.0]}}}}}, H),
    (3, {}, U),
    (4, {"02_adaptation": S02_GOOD}, H),
    (4, {"02_adaptation": {**S02_GOOD, "final_ratio_theta_over_scratch": 0.8}}, F),
    (4, {}, U),
    (5, {"02_adaptation": S02_GOOD, "04_quantitative_results": {"device_is_gpu": True}}, H),
    (5, {"02_adaptation": {**S02_GOOD, "adapt_seconds_mean": 40.0},
         "04_quantitative_results": {"device_is_gpu": True}}, F),
    (5, {"02_adaptation": S02_GOOD, "04_quantitative_results": {"device_is_gpu": False}}, U),
    (6, {NB03: ARB}, V),  # measured parts hold; cracks has no convincing stand-in
    (6, {NB03: {**ARB, "failure_modes": _modes({("MetaStyle", "cracks"): 4})}}, V),
    (6, {NB03: {**ARB, "heldout_loss": {"MetaStyle": 2.5, "AdaIN": 2.0, "WCT": 3.0}}}, F),
    (6, {NB03: {**ARB, "failure_modes": _modes({("MetaStyle", "colour_only"): 3})}}, F),
    (6, {NB03: {**ARB, "failure_modes": _modes({("MetaStyle", "edges_lost"): 3})}}, F),
    (6, {NB03: {**ARB, "failure_modes": _modes({("MetaStyle", "odd_colours"): 3})}}, F),
    (6, {NB03: {**ARB, "failure_modes": _modes({("MetaStyle", "contour_warp"): 3})}}, F),
    (6, {NB03: {**ARB, "failure_modes": _modes({("MetaStyle", "colour_only"): 2})}}, V),  # half
    (6, {NB03: {**ARB, "arbitrary_iterations": {"AdaIN": 30, "WCT": 564}}}, U),
    (6, {NB03: {**ARB, "arbitrary_planned_iterations": {"AdaIN": 800, "WCT": 0}}}, U),
    (6, {NB03: {**ARB, "failure_modes": {}}}, U),  # 03 made before the stand-ins
    (6, {NB03: {"heldout_loss": {"MetaStyle": 1.0, "AdaIN": 2.0}}}, U),  # budgets unknown
    (6, {NB03: {**ARB, "arbitrary_iterations": {"AdaIN": 30, "WCT": 20}}, NB03_LONG: ARB}, V),  # long's 03 wins
    (7, {"07_representation": {"ssim_theta_min": 0.5, "gram_ratio_train_min": 1.2, "n_train_styles": 8}}, H),
    (7, {"07_representation": {"ssim_theta_min": 0.1, "gram_ratio_train_min": 1.2, "n_train_styles": 8}}, F),
    (7, {"07_representation": {"ssim_theta_min": 0.5, "gram_ratio_train_min": 0.7, "n_train_styles": 8}}, F),
    (7, {"07_representation": {"ssim_theta_to_content": 0.9}}, U),  # first-image SSIM only: no longer enough
    (8, {"05_style_interpolation": S05}, H),
    (8, {"05_style_interpolation": {**S05, "style_loss_to_B_violations": 3}}, F),
    (8, {"05_style_interpolation": {**S05, "max_step_change": 3.5}}, F),
    (8, {}, U),
    (9, {"06_video_style_transfer": {"instability_ratio_metastyle": 1.1}}, H),
    (9, {"06_video_style_transfer": {"instability_ratio_metastyle": 2.0}}, F),
    (9, {}, U),
    (10, {"12_ablations": _abl({"single-pool": (0.9, 0.8, 0.95)})}, H),
    (10, {"12_ablations": _abl({"single-pool": (1.1, 1.0, 1.2)})}, F),
    (10, {"12_ablations": _abl({"single-pool": (1.0, 0.9, 1.1)})}, I),
    (10, {"01_meta_training": {"iterations": 200}}, U),
    (10, {"12_ablations@long": _abl({"single-pool": (0.9, 0.8, 0.95)})}, H),  # 12 runs under long
    (11, {"12_ablations": _abl({"T2": (1.0, 0.95, 1.05), "T5": (1.02, 0.9, 1.09)})}, H),
    (11, {"12_ablations": _abl({"T2": (1.3, 1.2, 1.4), "T5": (1.0, 0.9, 1.05)})}, F),
    (11, {"12_ablations": _abl({"T2": (1.1, 1.0, 1.2), "T5": (1.0, 0.9, 1.05)})}, I),
    (11, {"02_adaptation": S02_GOOD}, U),  # claim 4 holds, but no sweep: never copied
]


@pytest.mark.parametrize("claim,m,expected", CASES,
                         ids=[f"claim{c}-{e.split()[0]}-{i}" for i, (c, _, e) in enumerate(CASES)])
def test_each_rule_can_give_each_verdict(claim, m, expected):
    assert verdict(m, claim) == expected


def test_claim_2_reads_the_timing_protocol_as_a_field():
    assert speed.Timing.from_metrics(T04).independent
    assert not speed.Timing.from_metrics({**T04, "johnson_timing": "one network timed twice"}).independent
    assert not speed.Timing.from_metrics({}).independent and speed.Timing.from_metrics({}).johnson_timing == ""


def test_claim_6_holds_when_every_mode_is_measured(monkeypatch):
    measured = {k: dataclasses.replace(m, convincing=True, why_not="") for k, m in failure_modes.MODES.items()}
    monkeypatch.setattr(failure_modes, "MODES", measured)
    assert verdict({NB03: ARB}, 6) == H
    assert verdict({NB03: {**ARB, "failure_modes": _modes({("MetaStyle", "cracks"): 4})}}, 6) == F


def test_claim_6_says_what_to_look_at_and_which_encoder():
    v = rows({NB03: {**ARB, "arbitrary_iterations": {"AdaIN": 30, "WCT": 20}},
              NB03_LONG: {**ARB, "failure_modes": _modes({("WCT", "edges_lost"): 4})}})[5]
    assert v["verdict"] == V and v["profile"] == "long"
    assert "in place of vgg19" in v["measured"] and "AdaIN 800 of planned 800 (recipe 160000)" in v["measured"]
    assert "cracks and discontinuities: visual (" in v["measured"]
    assert "compare the AdaIN and MetaStyle columns of 03's comparison.png" in v["measured"]
    assert "MetaStyle 0/4, WCT 4/4 outputs cross it" in v["measured"]
    short = rows({NB03: {**ARB, "arbitrary_iterations": {"AdaIN": 30, "WCT": 564}}})[5]
    assert short["verdict"] == U and "below the planned schedule: AdaIN" in short["measured"]
    assert short["profile"] == "quick" and "make baselines" in short["rule"]


def test_03_under_long_must_share_the_reports_data(tmp_path):
    def write(nb, profile, data):
        out = tmp_path / nb / profile
        out.mkdir(parents=True)
        (out / "run.json").write_text(f'{{"notebook": "{nb}", "data": "{data}"}}')
        (out / "metrics.json").write_text('{"x": 1}')

    write("00_setup_and_data", "quick", "examples")
    write(NB03, "long", "embedded")
    with pytest.raises(Exception, match="different DATA.*03_comparison_prior_arts@long=embedded"):
        report.build(tmp_path, "quick", "examples")


def test_claim_7_shows_the_budget_runs_theta_beside_the_rule():
    r07 = {"ssim_theta_min": 0.5, "gram_ratio_train_min": 1.2, "n_train_styles": 8}
    v = rows({"07_representation": r07, "11_budget_curve@long": {"neutral_ssim_min": 0.2, "meta_iterations": 1000}})[6]
    assert v["verdict"] == H and "budget run's θ@1000: SSIM min 0.2 (not part of the rule)" in v["measured"]
    assert v["profile"] == "quick"


def test_claim_11_names_the_reports_T_when_there_is_no_sweep():
    setup_run = {"config": {"meta": {"inner_steps": 1}}}
    v = rows({"00_setup_and_data": {"n_params": 1}}, runs={"00_setup_and_data": setup_run})[10]
    assert v["verdict"] == U and "no T sweep run (T = 1 used" in v["measured"]


# ------------------------------------------------------------------------- claims 3, 4, 12 from the budget curve
def _budget(match=(5.0, 4.0, 8.0), ratio=(0.3, 0.2, 0.4), conv=(1.1, 1.0, 1.2), mvp=(0.8, 0.7, 0.9)):
    iv = lambda t: {"value": t[0], "lo": t[1], "hi": t[2]}  # noqa: E731
    return {"last_step": 200, "styles": ["a"] * 12, "seeds": [0, 1, 2],
            "rows": [{"init": "meta", "iteration": 1000, "steps_to_match": iv(match),
                      "ratio": {"25": iv(ratio), "200": iv(ratio)}},
                     {"init": "meta", "iteration": 30, "steps_to_match": iv((500, 500, 500)),
                      "ratio": {"25": iv((9, 9, 9)), "200": iv((9, 9, 9))}}],
            "meta_vs_plain": [{"iteration": 1000, "ratio": {"25": iv(mvp), "200": iv(mvp)}}],
            "converged": None if conv is None else {"styles": ["a"], "iteration": 1000, "johnson_steps": {"a": 900},
                                                    "ratio": iv(conv)}}


def _claim(b, n):
    v = rows({"11_budget_curve@long": {"budget": b}, "02_adaptation": S02_GOOD})[n - 1]
    assert v["profile"] == "long"
    return v["verdict"]


@pytest.mark.parametrize("kw, expected", [
    ({}, H), ({"match": (None, 150.0, None)}, I), ({"match": (None, None, None)}, F),
    ({"match": (250.0, 200.0, 300.0)}, F), ({"match": (150.0, 100.0, 210.0)}, I)])
def test_claim_3_rule_gives_every_outcome(kw, expected):
    assert _claim(_budget(**kw), 3) == expected


@pytest.mark.parametrize("kw, expected", [
    ({}, H), ({"ratio": (0.6, 0.55, 0.7)}, F), ({"ratio": (0.5, 0.4, 0.6)}, I), ({"conv": (1.5, 1.3, 1.7)}, F),
    ({"conv": (1.2, 1.1, 1.3)}, I), ({"conv": None}, I), ({"conv": None, "ratio": (0.9, 0.8, 1.0)}, F)])
def test_claim_4_rule_gives_every_outcome(kw, expected):
    assert _claim(_budget(**kw), 4) == expected


@pytest.mark.parametrize("kw, expected", [
    ({}, H), ({"mvp": (1.1, 1.02, 1.2)}, F), ({"mvp": (1.0, 0.9, 1.1)}, I)])
def test_claim_12_rule_gives_every_outcome(kw, expected):
    assert _claim(_budget(**kw), 12) == expected


def test_claim_4_shows_the_budget_curves_trend_without_it_deciding():
    from metastyle.study import budget

    iv = {"value": 0.94, "lo": 0.9, "hi": 0.98}
    b = {**_budget(), "trend": {"iterations": [30, 100, 300, 1000], "target": 0.5, "paper_iterations": 100_000,
                                "per_decade": iv, "at_paper": iv, "iterations_to_target": iv}}
    v = rows({"11_budget_curve@long": {"budget": b}, "02_adaptation": S02_GOOD})[3]
    assert budget.trend_text(b["trend"], 200) in v["measured"] and v["verdict"] == _claim(_budget(), 4)


def test_claim_12_without_plain_is_not_testable():
    b = _budget()
    b["meta_vs_plain"] = []
    assert _claim(b, 12) == U


def test_claims_3_and_4_without_a_meta_snapshot_are_not_testable():
    b = _budget()
    b["rows"] = []
    assert _claim(b, 3) == _claim(b, 4) == U


def test_without_a_budget_curve_claims_come_from_the_report_profile():
    v = rows({})
    assert {x["profile"] for x in v} == {"quick"} and v[2]["verdict"] == U
    v = rows({"02_adaptation": S02_GOOD, "11_budget_curve@long": {"n_styles": 12}})  # 11 without its summary: 02
    assert v[2]["profile"] == v[3]["profile"] == "quick" and v[3]["verdict"] == H


def test_the_budget_note_names_where_claims_3_4_12_come_from():
    b = claims.read(adaptation.BUDGET, lambda nb, p: {"budget": _budget()} if p == "long" else {}, "quick",
                    lambda nb, p: {"config": {"meta": {"iterations": 1000}}, "data": "examples"})
    a = claims.read(adaptation.ADAPTATION, lambda nb, p: {}, "quick")
    note = adaptation.budget_note(b, a)
    assert note.startswith("Claims 3, 4 and 12: the budget curve (notebook 11) of profile `long`, 1000 meta-")
    assert "12 held-out styles × 3 seeds" in note and "DATA=examples" in note
    none = claims.read(adaptation.BUDGET, lambda nb, p: {}, "quick")
    assert "no budget curve" in adaptation.budget_note(none, a)


# ------------------------------------------------------------------------------------------- measures
def test_adaptation_measure_gives_claims_3_4_12_their_numbers():
    curves = [{"style": s, "init": i, "step": st, "loss": float(loss)}
              for s, k in (("a", 1), ("b", 3)) for i, f in (("meta", 1), ("plain", 2), ("scratch", 4))
              for st, loss in ((0, 10 * k * f), (1, 5 * k * f), (5, 2 * k * f))]
    m = adaptation.measure(curves, 5)
    assert m["heldout_loss_theta_step0"] == 20 and m["heldout_loss_theta_final"] == 4
    assert m["final_ratio_theta_over_scratch"] == pytest.approx(0.25) and m["theta_improvement_ratio"] == 0.2
    assert m["meta_vs_plain"] == {"steps": [1, 5], "styles": {
        "a": {"meta": [5.0, 2.0], "plain": [10.0, 4.0], "scratch": [20.0, 8.0]},
        "b": {"meta": [15.0, 6.0], "plain": [30.0, 12.0], "scratch": [60.0, 24.0]}}}
    assert verdict({"02_adaptation": {**m, "adapt_steps": 5, "n_styles": 2}}, 12) == H


def test_video_measure_is_named_not_positional():
    assert video.measure(2.0, 3.0) == {"instability_ratio_metastyle": 1.5}
    assert video.measure(2.0, 3.0, 5.0) == {"instability_ratio_metastyle": 1.5, "instability_ratio_gatys": 2.5}
    assert verdict({"06_video_style_transfer": video.measure(2.0, 3.0)}, 9) == H


def test_representation_measure_flags_a_rendering_that_leans_toward_a_training_style(random_vgg):
    import numpy as np
    from PIL import Image

    from metastyle.method.context import Objective
    from metastyle.method.losses import LossSpec

    def picture(seed):  # a smooth photo stand-in: 4x4 random colours, bicubic to 32 px
        small = np.random.default_rng(seed).uniform(0, 255, (4, 4, 3)).astype(np.uint8)
        return torch.from_numpy(np.array(Image.fromarray(small).resize((32, 32), Image.BICUBIC)))

    contents = torch.stack([picture(i).permute(2, 0, 1).float() / 255 for i in range(2)])
    texture = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    styles = types.SimpleNamespace(all=lambda: texture, names=lambda: ["texture"])  # an ImageSet's two calls
    ctx = Objective(random_vgg, LossSpec())
    same = representation.measure(contents, contents, styles, ctx)
    assert same["ssim_theta_min"] == pytest.approx(1.0) and same["gram_ratio_train_min"] == pytest.approx(1.0)
    m = representation.measure(0.5 * contents + 0.5 * texture, contents, styles, ctx)
    assert m["gram_ratio_train_min"] < 1 and m["gram_ratio_train_min_style"] == "texture"
    assert m["n_train_styles"] == 1 and m["n_contents"] == 2 and len(m["ssim_theta_each"]) == 2
    assert verdict({"07_representation": m}, 7) == F


def test_each_budget_curve_that_ran_gets_its_own_verdict():
    """Claims 3, 4 and 12 are judged once per budget curve (the paper's β under long, quick's under long-b5e3),
    each verdict naming its profile, and the two may differ; claim 7 still reads one curve beside its rule."""
    table = {"11_budget_curve@long": {"budget": _budget(match=(None, None, None))},
             "11_budget_curve@long-b5e3": {"budget": _budget()}, "02_adaptation": S02_GOOD}
    v = rows(table)
    by_claim = {}
    for r in v:
        by_claim.setdefault(r["claim"], []).append((r["profile"], r["verdict"]))
    assert by_claim[3] == [("long", F), ("long-b5e3", H)]
    assert [p for p, _ in by_claim[4]] == [p for p, _ in by_claim[12]] == ["long", "long-b5e3"]
    assert len(by_claim[7]) == 1
    only_b5e3 = {k: x for k, x in table.items() if k != "11_budget_curve@long"}
    assert [(r["profile"], r["verdict"]) for r in rows(only_b5e3) if r["claim"] == 3] == [("long-b5e3", H)]


def test_each_ablation_run_gets_its_own_verdict():
    table = {"12_ablations@long": _abl({"single-pool": (1.1, 1.0, 1.2)}),
             "12_ablations@long-b5e3": _abl({"single-pool": (0.9, 0.8, 0.95)})}
    assert [(r["profile"], r["verdict"]) for r in rows(table) if r["claim"] == 10] == [("long", F), ("long-b5e3", H)]


def test_a_claim_may_read_only_one_source_under_every_profile():
    both = base.Claim(13, (adaptation.BUDGETS, adaptation.BUDGETS), lambda a, b: None)
    with pytest.raises(MetaStyleError, match="at most one source"):
        claims._readings(both, lambda nb, p: {}, "quick", None)
