"""The arbitrary-style baselines' long schedules and their resumable training (issue 20), at tiny scale: each
schedule fits its budget, Meta Networks waits on its measurement with a one-line error, a stopped run resumes
to the uninterrupted run's weights, a finished model is never replaced, the figure styles never train, and the
figure labels say how much training each method had."""
from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from metastyle import config
from metastyle.baselines import arbitrary
from metastyle.baselines.arbitrary import common
from metastyle.data import sets
from metastyle.errors import CheckpointError
from metastyle.study import prior_arts

ENC = "vgg19-random"
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def splits():
    return sets.make_splits(config.load("smoke").data, 0)


def stopping(loss, at: int):
    """``loss`` that raises KeyboardInterrupt (a killed run) on its ``at``-th call."""
    calls = 0

    def wrapped(*args):
        nonlocal calls
        calls += 1
        if calls == at:
            raise KeyboardInterrupt
        return loss(*args)
    return wrapped


def tiny(m, iterations=4):
    return dataclasses.replace(m.settings("smoke"), iterations=iterations, size=32, batch=1)


@pytest.mark.parametrize("key", list(arbitrary.METHODS))
def test_long_schedule_fits_the_budget(key):
    mod = arbitrary.METHODS[key].module
    spi = mod.LONG_SECONDS_PER_ITERATION
    if spi is None:  # measured later: one line naming the command, and nothing trains
        with pytest.raises(config.ConfigError, match=f"prior_arts measure {key}.*LONG_SECONDS_PER_ITERATION"):
            arbitrary.METHODS[key].settings("long")
        assert arbitrary.METHODS[key].settings("long", iterations=2).iterations == 2
        assert prior_arts.planned_iterations(key) is None
        return
    s = arbitrary.METHODS[key].settings("long")
    assert s.iterations * spi <= common.LONG_PLAN_MINUTES * 60 <= common.LONG_CAP_MINUTES * 60
    assert s.iterations >= 10 * arbitrary.METHODS[key].settings("quick").iterations  # far more than quick's
    assert s.size >= 64 and s.profile == "long" and prior_arts.planned_iterations(key) == s.iterations
    assert common.iterations_within(None) is None and common.iterations_within(60.0, 2) == 2


def test_stopped_run_resumes_to_the_uninterrupted_weights(splits, tmp_path, monkeypatch):
    m = arbitrary.METHODS["adain"]
    s = tiny(m)
    torch.manual_seed(0)
    whole = m.build(ENC)
    init = {k: v.clone() for k, v in whole.learned.state_dict().items()}
    m.train(whole, s, splits, tmp_path / "whole")

    monkeypatch.setattr(common, "STATE_EVERY_S", 0.0)    # a state after every step
    stopped = m.build(ENC)
    stopped.learned.load_state_dict(init)
    real = m.module.loss
    monkeypatch.setattr(m.module, "loss", stopping(real, 3))
    with pytest.raises(KeyboardInterrupt):
        m.train(stopped, s, splits, tmp_path / "resumed")
    assert (tmp_path / "resumed" / "adain.train.pt").is_file() and not (tmp_path / "resumed" / "adain.pt").exists()
    monkeypatch.setattr(m.module, "loss", real)

    fresh = m.build(ENC)  # a new process: weights come from the state file
    history = m.train(fresh, s, splits, tmp_path / "resumed")
    assert [r["step"] for r in history] == list(range(s.iterations))
    assert not (tmp_path / "resumed" / "adain.train.pt").exists()
    for k, v in whole.learned.state_dict().items():
        assert torch.allclose(fresh.learned.state_dict()[k], v, atol=1e-6), k
    _, meta = m.load(tmp_path / "resumed" / "adain.pt")
    assert meta["iterations"] == s.iterations and meta["seconds"] > 0 and meta["settings"] == s.to_dict()
    assert meta["styles"] == [i.name for i in splits.style_train]

    with pytest.raises(CheckpointError, match="never replaced"):
        m.train(m.build(ENC), s, splits, tmp_path / "resumed")


def test_state_of_other_settings_is_refused(splits, tmp_path, monkeypatch):
    m = arbitrary.METHODS["styleswap"]
    monkeypatch.setattr(common, "STATE_EVERY_S", 0.0)
    real = m.module.loss
    s = tiny(m, 2)
    monkeypatch.setattr(m.module, "loss", stopping(real, 2))
    with pytest.raises(KeyboardInterrupt):
        m.train(m.build(ENC), s, splits, tmp_path)
    monkeypatch.setattr(m.module, "loss", real)
    with pytest.raises(CheckpointError, match="other settings"):
        m.train(m.build(ENC), dataclasses.replace(s, lr=5e-4), splits, tmp_path)


def test_figure_styles_never_train(splits, tmp_path):
    style = tmp_path / "style"
    style.mkdir()
    from PIL import Image

    for name in ("la_muse", "mondrian_cropped", "sketch", "goeritz", "trial"):
        Image.new("RGB", (20, 20), (200, 30, 30)).save(style / f"{name}.png")
    out = prior_arts.training_splits(splits, tmp_path)
    names = [i.name for i in out.style_train]
    assert {"goeritz", "trial"} <= set(names)
    assert not {"la_muse", "mondrian_cropped", "sketch"} & set(names)
    assert not {i.name for i in splits.style_eval} & set(names)
    assert prior_arts.training_splits(splits, tmp_path / "none").style_train == splits.style_train


def test_make_baselines_trains_resumably_and_labels_the_figure(tmp_path, capsys):
    keys = ["adain", "styleswap"]
    assert prior_arts.train_all("smoke", tmp_path, tmp_path / "none", keys, encoder=ENC) == keys
    assert prior_arts.train_all("smoke", tmp_path, tmp_path / "none", keys, encoder=ENC) == []  # kept
    assert "adain: finished (3 iterations" in capsys.readouterr().out
    ctx = types.SimpleNamespace(cfg=config.load("smoke"))
    done = prior_arts.trained("AdaIN", ctx, tmp_path)
    assert done["iterations"] == 3 and done["recipe"] == 160_000 and done["size"] == 32 and done["seconds"] > 0
    assert done["planned"] == prior_arts.planned_iterations("adain")
    label = prior_arts.budget_label("AdaIN", ctx, done=done)
    assert "trained 3 of the\nrecipe's 160,000 it." in label and "32 px" in label
    assert prior_arts.trained("WCT", ctx, tmp_path) == {}
    assert "not trained" in prior_arts.budget_label("WCT", ctx, done={})


def test_projected_overrun_is_announced(splits, capsys):
    m = arbitrary.METHODS["styleswap"]
    s = tiny(m, common.PROJECT_AFTER)
    model = m.build(ENC)
    batches = common.Batches.from_splits(splits, s.size, 0)
    common.fit(model.learned.parameters(), lambda step: m.module.loss(model, *batches.draw(step, s.batch), s), s,
               name="styleswap", budget_s=1e-6)
    assert "warning: projected" in capsys.readouterr().out


def test_measure_times_a_schedule(capsys):
    per = prior_arts.measure("styleswap", "smoke", n=1, data_dir="none", encoder=ENC)
    assert per > 0 and "styleswap:" in capsys.readouterr().out
