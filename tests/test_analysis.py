"""Analysis policy the notebooks call instead of computing inline: the paper's reference Table 1 and the Gatys
time rescaling (notebook 04), claim 8's monotonicity and step numbers along λ (notebook 05)."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from metastyle.config import ConfigError
from metastyle.errors import DataError
from metastyle.study import evaluation, timing
from metastyle.study.claims import interpolation


# ------------------------------------------------------------------------------------------- Table 1
def test_paper_table1_is_the_published_reference_with_ratios_to_metastyle():
    t = timing.paper_table1().set_index("method")
    assert list(t.index) == ["Gatys", "Johnson", "WCT", "AdaIN", "MetaNetworks", "AvatarNet", "StyleSwap", "MetaStyle"]
    assert t.loc["MetaStyle", "paper_256_s"] == 0.0047 and t.loc["Gatys", "paper_512_s"] == 27.0517
    assert t.loc["MetaStyle", "paper_256_ratio"] == 1.0
    assert t.loc["Johnson", "paper_512_ratio"] == pytest.approx(0.0146 / 0.0145)
    assert math.isnan(t.loc["Gatys", "paper_param"]) and t.loc["MetaStyle", "styles"] == "inf*"
    assert not any(c.startswith("measured") for c in t.columns)  # reference numbers only, never a measurement


def test_the_one_timer_times_each_call_and_returns_its_result():
    import time

    from metastyle.study.lab import bench

    seconds, out = timing.timed(lambda: time.sleep(0.02) or "done")
    assert out == "done" and 0.02 <= seconds < 2
    best = timing.best_seconds({"short": lambda: time.sleep(0.005), "long": lambda: time.sleep(0.03)}, 2)
    assert 0.005 <= best["short"] < best["long"]  # the best round of each, each timed on its own
    row = bench.timeit(lambda: time.sleep(0.005), torch.device("cpu"), warmup=0, repeats=3)
    assert len(row["times_s"]) == 3 and 0.005 <= row["min_s"] <= row["median_s"] == sorted(row["times_s"])[1]


def timed(gatys_256=2.0):
    return pd.DataFrame([{"method": "MetaStyle", "measured_256_s": 0.1, "measured_512_s": 0.4, "source": "here"},
                         {"method": "Gatys", "measured_256_s": gatys_256, "measured_512_s": 8.0, "source": "here"}])


def test_gatys_time_is_rescaled_to_the_budget_under_quick_only():
    assert timing.gatys_timed_steps("quick") == 5 and timing.gatys_timed_steps("smoke") == 1
    assert timing.gatys_timed_steps("paper") is None
    q = timing.rescale_gatys(timed(), "quick", 300).set_index("method")
    assert (q.loc["Gatys", "measured_256_s"], q.loc["Gatys", "measured_512_s"]) == (2.0 * 60, 8.0 * 60)
    assert q.loc["Gatys", "source"] == "here, 5 L-BFGS iterations timed, scaled to the 300-iteration budget"
    assert (q.loc["MetaStyle", "measured_256_s"], q.loc["MetaStyle", "source"]) == (0.1, "here")  # untouched
    s = timing.rescale_gatys(timed(), "smoke", 10).set_index("method")
    assert s.loc["Gatys", "measured_512_s"] == 8.0 and s.loc["Gatys", "source"] == "here, 1 iteration only (smoke)"
    p = timing.rescale_gatys(timed(), "paper", 500).set_index("method")
    assert p.loc["Gatys", "measured_512_s"] == 8.0 and p.loc["Gatys", "source"] == "here, 500 L-BFGS iterations"


def test_an_untimed_gatys_row_and_a_bad_budget():
    t = timing.rescale_gatys(timed(gatys_256=float("nan")), "quick", 300).set_index("method")
    assert t.loc["Gatys", "measured_512_s"] == 8.0 and t.loc["Gatys", "source"] == "here"  # not timed: kept
    before = timed()
    timing.rescale_gatys(before, "quick", 300)
    assert before.measured_512_s.tolist() == [0.4, 8.0]  # a copy, the caller's table unchanged
    with pytest.raises(ConfigError, match="at least 1 iteration, got 0"):
        timing.rescale_gatys(timed(), "quick", 0)


# --------------------------------------------------------------------------------- interpolation (8)
def test_monotone_sequences_have_no_violations_and_others_do():
    assert interpolation.monotone_violations([5, 4, 4, 1], decreasing=True) == 0
    assert interpolation.monotone_violations([1, 2, 2, 9], decreasing=False) == 0
    assert interpolation.monotone_violations([5, 6, 4, 7], decreasing=True) == 2
    assert interpolation.monotone_violations([1, 0, 2], decreasing=False) == 1
    assert interpolation.monotone_violations([3], decreasing=True) == 0


def test_interpolation_measure_gives_claim_8_its_numbers():
    path = {"style_loss_to_A": [0.0, 1.0, 2.0, 3.0], "style_loss_to_B": [3.0, 2.0, 2.5, 0.0],
            "step_change": [0.1, 0.4, 0.2]}
    m = interpolation.measure(path)
    assert m == {"style_loss_to_B_violations": 1, "style_loss_to_A_violations": 0, "style_loss_to_B_start": 3.0,
                 "style_loss_to_B_end": 0.0, "max_step_change": 0.4, "median_step_change": 0.2}
    smooth = {**path, "style_loss_to_B": [3.0, 2.0, 1.0, 0.0]}
    assert interpolation.measure(smooth)["style_loss_to_B_violations"] == 0
    with pytest.raises(DataError, match="malformed interpolation path: 4 and 4 losses, 1 steps"):
        interpolation.measure({**path, "step_change": [0.1]})


def test_interpolation_path_measures_each_output(monkeypatch):
    outs = [torch.full((1, 3, 8, 8), v) for v in (0.0, 0.5, 1.0)]  # 'style loss': distance of the means
    monkeypatch.setattr(evaluation, "perceptual",
                        lambda o, c, s, ctx: {"style": abs(o.mean().item() - s.mean().item())})
    a, b = torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)
    path = evaluation.interpolation_path(outs, a, a, b, None)
    assert path == {"style_loss_to_A": [0.0, 0.5, 1.0], "style_loss_to_B": [1.0, 0.5, 0.0],
                    "step_change": [0.5, 0.5]}
    assert interpolation.measure(path)["style_loss_to_B_violations"] == 0
    with pytest.raises(DataError, match="at least 2 outputs, got 1"):
        evaluation.interpolation_path(outs[:1], a, a, b, None)
