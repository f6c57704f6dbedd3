"""The one training loop (``metastyle.infra.train.fit``): what it does around a step function, and when it saves.

The loops that run on it (meta-training, θ_plain, Johnson, adaptation, the arbitrary-style baselines) are
tested end to end in test_resume.py, test_guarantees.py, test_plain.py, test_baselines.py and
test_baseline_schedules.py; the one resume policy (``train.Run.resume``) in test_guarantees.py.
"""
from __future__ import annotations

import pytest
import torch

from metastyle.infra.train import fit


def _sgd():
    w = torch.nn.Parameter(torch.zeros(()))
    return w, torch.optim.SGD([w], lr=1.0)


def test_fit_sets_the_rate_zeroes_gradients_steps_and_hands_on_the_numbers():
    w, opt = _sgd()
    seen, saved = [], []

    def step(t):
        w.backward()  # gradient 1 each step: it accumulates unless zeroed between steps
        return {"t": t}

    fit(opt, step, 5, start=1, lr=lambda t: 0.1 * t, after=lambda s, stats, sec: seen.append((s, stats, sec)),
        save=saved.append, every=2)
    assert w.item() == pytest.approx(-(0.1 + 0.2 + 0.3 + 0.4))  # steps 1..4 at lr 0.1 t, gradient 1 each
    assert [(s, stats["t"]) for s, stats, _ in seen] == [(2, 1), (3, 2), (4, 3), (5, 4)]  # after(t + 1, ...)
    assert all(sec >= 0 for *_, sec in seen)
    assert saved == [2, 4, 5]  # every 2 steps, and after the last


def test_fit_without_every_saves_after_the_last_step_only_and_a_finished_run_runs_nothing():
    w, opt = _sgd()
    saved = []
    fit(opt, lambda t: w.backward() or {}, 3, save=saved.append)
    assert saved == [3]
    fit(opt, lambda t: pytest.fail("a step ran"), 3, start=3, save=saved.append)
    assert saved == [3]


def test_fit_every_seconds_saves_when_the_time_has_passed_but_not_after_the_last_step():
    w, opt = _sgd()
    saved = []
    fit(opt, lambda t: w.backward() or {}, 4, save=saved.append, every_s=0.0)
    assert saved == [1, 2, 3]  # the caller keeps the finished model
    saved.clear()
    fit(opt, lambda t: w.backward() or {}, 4, save=saved.append, every_s=1e9)
    assert saved == []


def test_fit_shows_its_progress_with_the_labelled_numbers(capsys):
    w, opt = _sgd()
    fit(opt, lambda t: w.backward() or {"query_loss": 0.25 * (t + 1)}, 2, progress=True, desc="meta-train",
        show={"query": "query_loss"})
    line = capsys.readouterr().err.strip().splitlines()[-1]  # not a terminal: a Ticker line at the last step
    assert line.startswith("meta-train: 2/2 (100%) ") and line.endswith(" query=0.5")
