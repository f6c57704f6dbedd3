"""The budget curve (issue 19): snapshots, intervals, steps-to-match and the summary (the interval rules of
claims 3, 4 and 12 are tested in test_claims.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from metastyle import config
from metastyle.infra import checkpoint
from metastyle.study import budget, stats

pytestmark = pytest.mark.usefixtures("one_thread")
H, F, IN, U = stats.HOLDS, stats.FAILS, stats.INCONCLUSIVE, stats.UNTESTABLE


# ---------------------------------------------------------------------------------------------- snapshots
def test_snapshot_steps_are_log_spaced_with_the_ends():
    assert sorted(checkpoint.snapshot_steps(1000)) == [0, 10, 30, 100, 300, 1000]
    assert sorted(checkpoint.snapshot_steps(3500)) == [0, 10, 30, 100, 300, 1000, 3000, 3500]
    assert sorted(checkpoint.snapshot_steps(4)) == [0, 4]


def test_meta_and_plain_runs_keep_snapshots_and_overwrite_removes_them(tmp_path):
    from metastyle.baselines.plain import train_plain
    from metastyle.method.context import make_context
    from metastyle.method.meta import meta_train

    cfg = config.load("smoke", {"meta.iterations": 3})
    meta_train(cfg, tmp_path / "m", progress=False)
    train_plain(make_context(cfg), tmp_path / "p", progress=False)
    for run in ("m", "p"):
        snaps = checkpoint.snapshots(tmp_path / run)
        assert sorted(snaps) == [0, 3]
        assert checkpoint.load(snaps[3], "metastyle-model")["step"] == 3
    a, b = (checkpoint.load(checkpoint.snapshots(tmp_path / r)[0], "metastyle-model")["model"] for r in "mp")
    assert all(torch.equal(a[k], b[k]) for k in a)  # meta and plain start from the same init
    meta_train(cfg, tmp_path / "m", progress=False, overwrite=True)
    assert sorted(checkpoint.snapshots(tmp_path / "m")) == [0, 3]


def test_eval_snapshots_keep_the_init_once_and_drop_the_earliest():
    inits = {(k, s): f"{k}{s}" for k in ("meta", "plain") for s in (0, 10, 30, 100, 300, 1000)}
    assert sorted(budget.eval_snapshots(inits, 1000)) == [("meta", 0), ("meta", 30), ("meta", 100), ("meta", 300),
                                                          ("meta", 1000), ("plain", 100), ("plain", 1000)]


def test_near_duplicate_styles_are_dropped():
    x = torch.zeros(1)
    names = [n for n, _ in budget.distinct([("mondrian", x), ("mondrian_cropped", x), ("lone_cropped", x)])]
    assert names == ["mondrian", "lone_cropped"]


# -------------------------------------------------------------------------------------------- intervals
def test_bootstrap_interval_brackets_the_statistic_and_collapses_without_spread():
    g = np.random.default_rng(0)
    v = g.normal(1.0, 0.5, (12, 3))
    lo, hi = stats.bootstrap(v, np.mean, n_boot=500)
    assert lo < v.mean() < hi and hi - lo < 1.0
    assert stats.bootstrap(np.full((4, 3), 2.0), np.mean, n_boot=50) == (2.0, 2.0)
    with pytest.raises(ValueError, match="styles, seeds"):
        stats.bootstrap(np.zeros(3), np.mean)


@pytest.mark.parametrize("lo, hi, below, expected", [
    (0.5, 0.9, True, H), (1.0, 1.3, True, F), (0.8, 1.2, True, IN),
    (1.1, 1.5, False, H), (0.5, 1.0, False, F), (0.9, 1.1, False, IN)])
def test_interval_verdict_gives_every_outcome(lo, hi, below, expected):
    assert stats.interval_verdict(lo, hi, 1.0, below=below) == expected


def test_interval_verdict_refuses_a_non_interval():
    with pytest.raises(ValueError, match="not an interval"):
        stats.interval_verdict(2.0, 1.0, 1.0)


def test_steps_to_match_interpolates_in_log_loss():
    at = np.array([0, 10, 20])
    assert budget.steps_to_match(np.array([8.0, 4.0, 2.0]), at, 4.0) == 10
    assert budget.steps_to_match(np.array([8.0, 4.0, 2.0]), at, 2 * math.sqrt(2)) == pytest.approx(15)
    assert budget.steps_to_match(np.array([8.0, 4.0, 2.0]), at, 9.0) == 0
    assert budget.steps_to_match(np.array([8.0, 4.0, 2.0]), at, 1.0) == math.inf


# ---------------------------------------------------------------------------------------------- summary
def _records(meta_factor: float, plain_factor: float, styles=("a", "b", "c"), seeds=(0, 1, 2), steps=20):
    """Synthetic cells: scratch decays as 100 / (1 + step); meta/plain are scaled copies, with a little noise."""
    at = np.arange(0, steps + 1, 5)
    g = np.random.default_rng(1)
    out = []
    for init, it, f in (("scratch", 0, 1.0), ("meta", 0, 1.0), ("meta", 30, meta_factor), ("plain", 30, plain_factor)):
        for st in styles:
            for sd in seeds:
                noise = 1 + 0.01 * g.standard_normal()
                rows = [{"step": int(s), "loss": f * noise * 100 / (1 + s), "content": 0.0, "style": 0.0} for s in at]
                out.append({"init": init, "step": it, "style": st, "seed": sd, "rows": rows, "seconds": 1.0})
    out.append({"init": "johnson", "step": 0, "style": "a", "seed": 0, "seconds": 1.0,
                "rows": [{"step": 0, "loss": 100.0, "content": 0, "style": 0},
                         {"step": 50, "loss": 2.0, "content": 0, "style": 0}]})
    return out


def test_summary_measures_ratio_steps_to_match_meta_vs_plain_and_converged():
    s = budget.summarize(_records(0.5, 1.0), report_steps=(0, 10), n_boot=200)
    meta = budget.final_snapshot(s["rows"], "meta")
    assert meta["iteration"] == 30 and s["steps"] == [0, 10, 20]
    r = meta["ratio"]["20"]
    assert r["lo"] <= r["value"] <= r["hi"] and r["value"] == pytest.approx(0.5, rel=0.03)
    assert meta["steps_to_match"]["value"] < 20  # half the loss: scratch's step-20 loss is reached sooner
    plain = budget.final_snapshot(s["rows"], "plain")
    assert plain["ratio"]["20"]["value"] == pytest.approx(1.0, rel=0.03)
    assert s["meta_vs_plain"][0]["ratio"]["20"]["value"] == pytest.approx(0.5, rel=0.03)
    assert s["converged"]["styles"] == ["a"] and s["converged"]["ratio"]["value"] == pytest.approx(100 / 21 / 2 / 2,
                                                                                                  rel=0.05)
    worse = budget.summarize(_records(3.0, 1.0), report_steps=(0, 10), n_boot=50)
    assert budget.final_snapshot(worse["rows"], "meta")["steps_to_match"]["value"] is None  # never: censored


def test_summary_refuses_an_incomplete_grid():
    recs = [r for r in _records(0.5, 1.0) if not (r["init"] == "meta" and r["style"] == "b" and r["seed"] == 2)]
    with pytest.raises(Exception, match="incomplete"):
        budget.summarize(recs, n_boot=10)


def test_intervals_of_never_reached_stay_infinite_not_nan():
    v = np.array([[5.0, math.inf, math.inf], [math.inf, math.inf, 7.0]])
    iv = stats.median_interval(v, n_boot=200)
    assert iv["value"] == math.inf and iv["hi"] == math.inf and not math.isnan(iv["lo"])


# ------------------------------------------------------------------------------------------ the runner
def test_profiles_pick_their_notebooks_and_data_auto_prefers_the_examples(tmp_path):
    from metastyle.study.nb import reproduce

    stems = lambda p: [nb.stem[:2] for nb in reproduce.notebooks(profile=p)]  # noqa: E731
    assert "11" not in stems("quick") and "10" in stems("quick")
    assert stems("long") == ["11", "12"] and "12" in stems("smoke") and "00" in stems("smoke")
    assert reproduce.resolve_data("auto", str(tmp_path)) == "embedded"
    (tmp_path / "content").mkdir(), (tmp_path / "style").mkdir()
    assert reproduce.resolve_data("auto", str(tmp_path)) == "examples"
    assert reproduce.resolve_data("embedded", str(tmp_path)) == "embedded"


def test_an_unknown_profile_is_refused_before_any_kernel_starts(capsys):
    from metastyle.study.nb import reproduce

    assert reproduce.main(["--profile", "bogus", "--only", "00"]) == 2
    assert "unknown profile 'bogus'" in capsys.readouterr().err


def test_a_pool_worker_ends_when_its_parent_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    code = ("import multiprocessing, os, sys, time\n"
            "from concurrent.futures import ProcessPoolExecutor\n"
            "from metastyle.study import budget\n"
            "if __name__ == '__main__':\n"
            "    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'),\n"
            "                               initializer=budget._exit_with_parent)\n"
            "    print(pool.submit(os.getpid).result(), flush=True)\n"
            "    pool.submit(time.sleep, 120)\n"
            "    time.sleep(120)\n")
    script = tmp_path / "parent.py"
    script.write_text(code)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the worker outlived its parent by 10 s")


def _trend_table(per_decade: float, its=(0, 30, 100, 300, 1000), styles=4, seeds=3, noise=0.02):
    """Cells whose last-step loss ratio to scratch is 0.9 * per_decade**log10(it / 30) (plus noise)."""
    rng = np.random.default_rng(0)
    scratch = np.full((styles, seeds, 3), 100.0)
    table = {("scratch", 0): scratch}
    for it in its:
        r = 1.0 if it == 0 else 0.9 * per_decade ** np.log10(it / 30)
        table["meta", it] = scratch * r * np.exp(rng.normal(0, noise, scratch.shape))
    return table, scratch


def test_trend_reads_where_the_curve_is_heading_both_ways():
    falling, scratch = _trend_table(0.5)
    t = budget.trend(falling, scratch, n_boot=200)
    assert t["iterations"] == [30, 100, 300, 1000]  # iteration 0, the random init, is not part of the fit
    pd_ = t["per_decade"]
    assert abs(pd_["value"] - 0.5) < 0.03 and pd_["lo"] <= pd_["value"] <= pd_["hi"] < 0.6
    # 0.9 * 0.5**log10(it/30) = 0.5 at it = 30 * 10**(log(0.9/0.5)/log 2) ~ 211
    assert 180 < t["iterations_to_target"]["value"] < 250
    assert abs(t["at_paper"]["value"] - 0.9 * 0.5 ** np.log10(100_000 / 30)) < 0.02
    assert "extrapolation" in budget.trend_text(t, 200)
    flat, scratch = _trend_table(0.9999, noise=0.0)  # falls, but so slowly that 0.5 is beyond a float
    assert budget.trend(flat, scratch, n_boot=20)["iterations_to_target"]["value"] is None  # never
    rising, scratch = _trend_table(1.2)
    t = budget.trend(rising, scratch, n_boot=200)
    assert t["per_decade"]["value"] > 1 and t["iterations_to_target"]["value"] is None
    assert "no trend towards the claim" in budget.trend_text(t, 200)


def test_a_trend_whose_interval_may_never_reach_the_target_is_written_as_never():
    """A falling estimate whose bootstrap bound does not fall (the long-b5e3 curve of 2026-12-07): the bound is
    None, not inf (a metrics file refuses inf), and the text says "never"."""
    its = (0, 30, 100, 300, 1000)
    scratch = np.full((4, 3, 3), 100.0)
    # one style falls steeply, three rise slightly: the mean falls, a resample of the rising three does not
    slope = np.array([0.3, 1.05, 1.05, 1.05])[:, None, None]
    table = {("meta", it): scratch * (1.0 if it == 0 else 0.9 * slope ** np.log10(it / 30)) for it in its}
    t = budget.trend(table, scratch, n_boot=200)
    tt = t["iterations_to_target"]
    assert tt["value"] is not None and tt["hi"] is None
    assert not any(isinstance(v, float) and math.isinf(v) for v in tt.values())
    assert "never]" in budget.trend_text(t, 200)


def test_trend_needs_enough_snapshots():
    table, scratch = _trend_table(0.5, its=(0, 30, 100))
    assert budget.trend(table, scratch) is None
    assert "fewer than" in budget.trend_text(None, 200)
