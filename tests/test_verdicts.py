"""Verdicts that can fail (issue 12; the rules themselves: test_claims.py): the defects that made verdicts hold
by construction stay fixed (seed streams, curve columns, per-image SSIM, independent timings, config-keyed runs,
no silent fallbacks), and the report's header."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from metastyle import config
from metastyle.data.sets import Item, content_set, draw
from metastyle.errors import DataError, MetaStyleError
from metastyle.infra import checkpoint
from metastyle.infra.progress import Ticker
from metastyle.method.nets import TransformerNet
from metastyle.study import evaluation, metrics, prior_arts, report, shared, timing

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------------ the report (rules: test_claims.py)
def _write_run(root: Path, nb: str, data: str, metrics: dict | None = None):
    out = root / nb / "quick"
    out.mkdir(parents=True)
    cfg = config.load("quick").to_dict()
    (out / "run.json").write_text(json.dumps({"notebook": nb, "data": data, "config": cfg}))
    (out / "metrics.json").write_text(json.dumps(metrics or {"x": 1}))


def test_report_header_names_the_figure_data_the_runs_used(tmp_path):
    for nb in report.NOTEBOOKS[:3]:
        _write_run(tmp_path, nb, "examples")
    text, _ = report.build(tmp_path, "quick", "examples")
    assert "DATA=examples" in text and "embedded/embedded" not in text
    assert "meta-training on `embedded` contents and `embedded` styles" in text
    _write_run(tmp_path, report.NOTEBOOKS[3], "embedded")
    with pytest.raises(MetaStyleError, match="different DATA"):
        report.build(tmp_path, "quick", "examples")


# ---------------------------------------------------------------------------------------- seeds and curves
def test_draw_streams_are_independent():
    assert draw(1000, 16, 0, 1, 7_919) != draw(1000, 16, 0, 2, 0)  # collided under seed*a + stream*b + step
    assert draw(1000, 16, 3, 1, 5) == draw(1000, 16, 3, 1, 5)  # still a pure function of (seed, stream, step)
    with pytest.raises(ValueError, match=">= 0"):
        draw(10, 2, -1, 0, 0)


def _picture(seed: int, size: int = 32) -> Image.Image:
    g = np.random.default_rng(seed)
    small = g.uniform(0, 255, (4, 4, 3)).astype(np.uint8)
    return Image.fromarray(small).resize((size, size), Image.BICUBIC)


@pytest.fixture(scope="module")
def ctx(random_vgg):
    from metastyle.method.context import make_context

    return make_context(config.load("smoke"), with_data=False, loss_net=random_vgg)


def test_adaptation_curve_columns_never_collide_with_names(ctx):
    cs = content_set([Item(f"c{i}", image=_picture(i)) for i in range(2)], 32)
    style = torch.rand(1, 3, 32, 32)
    rows = evaluation.adaptation_curve(TransformerNet(), style, ctx, cs.all(), steps=1, points=2, contents=cs)
    assert [r["step"] for r in rows] == [0, 1]
    assert not set(rows[0]) & {"style", "style_name", "init", "total"}
    curves = pd.DataFrame([{"style_name": "la_muse", "init": "theta", **r} for r in rows])
    assert len(curves[curves.style_name == "la_muse"]) == 2 and curves.loss_style.gt(0).all()


# --------------------------------------------------------------------------------------------------- SSIM
def test_ssim_scores_every_image_of_a_batch():
    a = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    b = a.clone()
    b[1] = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))
    each = metrics.ssim_each(b, a)
    assert len(each) == 2 and each[0] == pytest.approx(1.0) and each[1] < 0.5
    assert metrics.ssim(b, a) == pytest.approx(sum(each) / 2) and metrics.ssim(b, a) < 0.8
    with pytest.raises(ValueError, match="same shape"):
        metrics.ssim_each(a, a[:1])


def test_style_loss_ratios_flag_a_rendering_that_leans_toward_a_style(ctx):
    contents = torch.stack([torch.from_numpy(np.array(_picture(i))).permute(2, 0, 1).float() / 255 for i in range(2)])
    style = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    leaning = 0.5 * contents + 0.5 * torch.nn.functional.interpolate(style, size=32).expand_as(contents)
    assert evaluation.style_loss_ratios(contents, contents, [style], ctx) == [pytest.approx(1.0)]
    assert evaluation.style_loss_ratios(leaning, contents, [style], ctx)[0] < 1.0


# ------------------------------------------------------------------------------------------------ timing
class Sleeper(torch.nn.Module):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


def test_networks_are_timed_independently():
    t = timing.time_forward({"fast": Sleeper(0.002), "slow": Sleeper(0.02)}, sizes=(8,), reps=2)
    assert t["slow"][8] > 3 * t["fast"][8] > 0


def _bench(arbitrary: dict) -> dict:
    return {"device": {"name": "test cpu"}, "stylize": {
        "transformer": {"params": 1_679_235, "sizes": {"256": {"variants": {"plain": {"median_s": 0.1}}},
                                                        "512": {"variants": {"plain": {"median_s": 0.4}}}}},
        "gatys": {"available": False}, "arbitrary": {"available": True, "methods": arbitrary}}}


def test_bench_is_one_network_and_malformed_files_are_errors(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "cpu.json").write_text(json.dumps(_bench({
        "adain": {"params": 7e6, "256": {"median_s": 0.2}, "512": {"median_s": 0.8}}, "wct": {"error": "OOM"}})))
    df, source, dev = timing.read_bench(tmp_path)
    assert "MetaStyle" not in set(df.method) and "Johnson" not in set(df.method)
    assert "not" not in source and dev == "test cpu"
    assert df.set_index("method").loc["WCT", "note"] == "bench error: OOM"  # kept, labelled
    df["source"] = source
    here = pd.DataFrame([{"method": "MetaStyle", "measured_256_s": 0.05, "measured_512_s": 0.2, "source": "here"},
                         {"method": "Johnson", "measured_256_s": 0.06, "measured_512_s": 0.2, "source": "here"}])
    r = timing.add_ratios(pd.concat([df, here], ignore_index=True)).set_index("method")
    assert r.loc["AdaIN", "measured_256_ratio"] == pytest.approx(2.0)  # to the bench's own transformer
    assert r.loc["Johnson", "measured_256_ratio"] == pytest.approx(1.2)  # to MetaStyle timed here
    (tmp_path / "bench" / "cpu.json").write_text('{"stylize": {}}')
    with pytest.raises(DataError, match="cpu.json"):
        timing.read_bench(tmp_path)


# -------------------------------------------------------------------------------------- silent fallbacks
def test_unknown_profile_has_no_gatys_budget():
    assert prior_arts.gatys_iterations("quick") > prior_arts.gatys_iterations("smoke")
    with pytest.raises(config.ConfigError, match="no Gatys budget for profile 'tiny'"):
        prior_arts.gatys_iterations("tiny")


def test_figure_03_labels_say_the_training_budget():
    fake = types.SimpleNamespace(cfg=config.load("quick"))
    done = {"iterations": 30, "recipe": 160_000, "size": 64, "seconds": 150.0}
    label = prior_arts.budget_label("AdaIN", fake, done=done)
    assert label == "AdaIN\ntrained 30 of the\nrecipe's 160,000 it.\n64 px, 2 min"
    assert "under-trained" not in label
    done, recipe = prior_arts.arbitrary_budget("AdaIN", "quick")
    assert done < recipe
    assert f"{fake.cfg.adapt.steps} steps" in prior_arts.budget_label("MetaStyle", fake)


# ----------------------------------------------------------------------------------- runs keyed by config
def test_runs_of_other_configs_are_kept(tmp_path, monkeypatch):
    calls = []

    def fake_meta_train(cfg, out, *, resume, ctx, progress, overwrite=False):
        calls.append((Path(out).name, resume))
        Path(out).mkdir(parents=True, exist_ok=True)
        p = Path(out) / "theta.pt"
        checkpoint.save(checkpoint.model_record(TransformerNet(), config=cfg.to_dict(), step=cfg.meta.iterations), p)
        return None, p

    monkeypatch.setattr("metastyle.method.meta.meta_train", fake_meta_train)
    a, b = config.load("smoke", seed=1), config.load("smoke", seed=2)
    pa = shared.ensure_theta(a, tmp_path)
    pb = shared.ensure_theta(b, tmp_path)
    assert pa.parent != pb.parent and pa.is_file() and pb.is_file()  # SEED=2 did not delete SEED=1's run
    assert shared.ensure_theta(a, tmp_path) == pa and len(calls) == 2  # reused, not retrained
    other = dataclasses.replace(b, run=dataclasses.replace(b.run, seed=3))
    checkpoint.save(checkpoint.model_record(TransformerNet(), config=other.to_dict(), step=4), pa)
    with pytest.raises(DataError, match="another config"):
        shared.ensure_theta(a, tmp_path)


@pytest.mark.slow
def test_ensure_theta_restarts_a_run_killed_before_its_first_checkpoint(tmp_path):
    """A meta-training killed before its first train_state.pt leaves a log and nothing to resume: the rerun (a
    notebook, `make long`) starts that run over instead of refusing the folder. A theta.pt without its train
    state is never deleted that way: the folder is refused."""
    from metastyle.method.context import make_context

    ctx = make_context(config.load("smoke", seed=1))
    out = shared.theta_dir(ctx.cfg, tmp_path)
    out.mkdir(parents=True)
    (out / "log.csv").write_text("step,loss\n1,9.9\n")  # what a run killed at step 1 leaves (ckpt_every 2)
    p = shared.ensure_theta(ctx.cfg, tmp_path, ctx=ctx, progress=False)
    assert checkpoint.load(p, "metastyle-model")["step"] == ctx.cfg.meta.iterations
    assert "9.9" not in (out / "log.csv").read_text()
    (out / "train_state.pt").unlink()
    checkpoint.save(checkpoint.load(p, "metastyle-model") | {"step": 1}, p)  # short of the run, no state
    with pytest.raises(MetaStyleError, match="already holds a run"):
        shared.ensure_theta(ctx.cfg, tmp_path, ctx=ctx, progress=False)
    assert checkpoint.load(p, "metastyle-model")["step"] == 1


# --------------------------------------------------------------------------------------- progress, threads
def test_progress_lines_have_rate_and_eta_and_are_few():
    out = io.StringIO()
    t = Ticker(range(100), total=100, desc="meta-train", min_seconds=0, stream=out)
    assert sum(1 for _ in t) == 100
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("meta-train: 100/100 (100%)")
    assert "it/s" in lines[0] and "ETA" in lines[0]
    quiet = io.StringIO()
    list(Ticker(range(50), total=50, desc="x", min_seconds=60, stream=quiet))
    assert len(quiet.getvalue().splitlines()) == 1  # only the last step when steps are fast


@pytest.mark.parametrize("given,expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_cli_defaults_to_passive_openmp_unless_set(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = "import sys, metastyle.app.cli, os; print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    policy, _ = out.stdout.split()
    assert policy == expected


def test_report_header_lists_departures_from_the_published_settings():
    from metastyle import config
    from metastyle.method.context import resolve
    from metastyle.study.report import departures

    paper = resolve(config.load("paper"), "vgg16-caffe").to_dict()
    assert departures(paper, "vgg16-caffe") == []  # the published settings depart from nothing
    quick = resolve(config.load("quick"), "vgg16-caffe").to_dict()
    found = {k: (v, p) for k, v, p in departures(quick, "vgg16-caffe")}
    assert found["loss.style_weight"] == (5e3, 1e5)
    assert found["meta.second_order"] == (False, True)
    assert "meta.iterations" not in found and "loss.loss_net" not in found  # on other header lines
