"""Distributed meta-training on CPU (gloo, 2 processes via torchrun) against a single process.

Global task k draws the same style/support/query data whichever rank runs it, so 2 ranks x 1 task equals
1 process x 2 tasks up to the order of floating-point summation in the gradient all-reduce. Tolerance:
theta after 3 outer Adam steps within 1e-5 relative (max |diff| / max |theta|), 1e-4 on logged losses.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import ROOT, env, run, trajectory  # noqa: E402

from metastyle.infra import checkpoint  # noqa: E402

SETS = {"meta.iterations": "3", "meta.meta_batch": "2", "meta.ckpt_every": "3", "meta.fresh_batches": "true"}


def torchrun(*args, timeout=300):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, env=env(GLOO_SOCKET_IFNAME="lo"), capture_output=True, text=True,
                          timeout=timeout)


def _sets():
    return [x for k, v in SETS.items() for x in ("--set", f"{k}={v}")]


def test_two_ranks_match_one_process(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    r = torchrun("-m", "metastyle", "train", "--profile", "smoke", *_sets(), "--out", two, "--no-progress")
    assert r.returncode == 0, r.stderr[-3000:]
    s = run(["train", "--profile", "smoke", *_sets(), "--out", one, "--no-progress"])
    assert s.returncode == 0, s.stderr
    a, b = checkpoint.load(two / "theta.pt")["model"], checkpoint.load(one / "theta.pt")["model"]
    scale = max(v.abs().max().item() for v in b.values())
    diff = max((a[k] - b[k]).abs().max().item() for k in b)
    assert diff <= 1e-5 * scale, f"max |theta_2 - theta_1| = {diff:.3g} (scale {scale:.3g})"
    moved = max((b[k] - checkpoint.load(one / "train_state.pt")["model"][k]).abs().max().item() for k in b)
    assert moved == 0  # theta.pt and the train state agree
    la, lb = trajectory(two / "log.csv"), trajectory(one / "log.csv")
    assert [r[0] for r in la] == [r[0] for r in lb] == ["step", "1", "2", "3"]  # rank 0 alone logged
    for ra, rb in zip(la[1:], lb[1:]):
        assert all(abs(float(x) - float(y)) <= 1e-4 * abs(float(y)) + 1e-12 for x, y in zip(ra, rb)), (ra, rb)


def test_ranks_hold_identical_parameters(tmp_path):
    r = torchrun(ROOT / "tests" / "_dist_worker.py", tmp_path, *(f"{k}={v}" for k, v in SETS.items()))
    assert r.returncode == 0, r.stderr[-3000:]
    p0, p1 = (torch.load(tmp_path / f"rank{i}.pt", weights_only=True) for i in (0, 1))
    assert p0.keys() == p1.keys()
    assert all(torch.equal(p0[k], p1[k]) for k in p0)
    init = checkpoint.load(tmp_path / "train_state.pt")["model"]
    assert all(torch.equal(init[k], p0[k]) for k in p0)


def test_meta_batch_not_divisible_is_a_clear_error(tmp_path):
    r = torchrun("-m", "metastyle", "train", "--profile", "smoke", "--set", "meta.meta_batch=3",
                 "--out", tmp_path / "x", "--no-progress", timeout=120)
    assert r.returncode != 0
    assert "metastyle: error: meta.meta_batch=3 styles cannot be split evenly over 2 processes" in r.stderr
    assert not (tmp_path / "x").exists()
