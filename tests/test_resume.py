"""Exact resume: SIGKILL a smoke meta-training mid-run, ``--resume`` it, and compare with an uninterrupted run.

Batches are a pure function of (seed, stream, step), the RNG and Adam states travel in ``train_state.pt``
and log rows past the checkpoint are dropped, so on CPU the resumed log and theta must be bit-identical.
"""
from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import popen, run, trajectory  # noqa: E402

from metastyle.infra import checkpoint  # noqa: E402

ARGS = ["train", "--profile", "smoke", "--set", "meta.iterations=8", "--set", "meta.ckpt_every=2",
        "--no-progress"]


class StateWatch:
    """The step of ``train_state.pt``, re-read only when the file changes (saves are atomic renames)."""

    def __init__(self, path):
        self.path, self.stamp, self.step = path, None, 0

    def __call__(self) -> int:
        try:
            stamp = self.path.stat().st_mtime_ns, self.path.stat().st_ino
        except FileNotFoundError:
            return 0
        if stamp != self.stamp:
            self.stamp, self.step = stamp, checkpoint.load(self.path, "metastyle-train")["step"]
        return self.step


def _log_rows(path) -> int:
    try:
        return len(path.read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    baseline = popen([*ARGS, "--out", full])
    victim = popen([*ARGS, "--out", cut])
    try:
        killed_at, state_step = None, StateWatch(cut / "train_state.pt")
        while victim.poll() is None:
            step, rows = state_step(), _log_rows(cut / "log.csv")
            if step >= 2 and rows > step:  # the log ran past the last checkpoint: the interesting case
                victim.send_signal(signal.SIGKILL)
                killed_at = (step, rows)
                break
            time.sleep(0.02)
        victim.wait(60)
    except BaseException:
        baseline.kill()
        raise
    finally:
        victim.kill()
    assert killed_at is not None, f"run ended (rc {victim.returncode}) before it could be killed mid-way"
    assert victim.returncode == -signal.SIGKILL
    assert StateWatch(cut / "train_state.pt")() < 8
    with (cut / "log.csv").open("a") as f:  # a row torn by the kill must be dropped too
        f.write("9,0.1")
    resumed = run([*ARGS, "--out", cut, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    try:
        assert baseline.wait(300) == 0, baseline.stderr.read()
    finally:
        baseline.kill()

    want, got = trajectory(full / "log.csv"), trajectory(cut / "log.csv")
    assert [r[0] for r in got[1:]] == [str(s) for s in range(1, 9)]  # no duplicated or missing steps
    assert got == want, f"killed at (ckpt step, log rows) = {killed_at}"
    a, b = (checkpoint.load(p / "theta.pt")["model"] for p in (full, cut))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not list(cut.glob("*.tmp")) and not list(cut.glob(".*.tmp"))


def test_resume_without_state_is_one_line_error(tmp_path):
    r = run(["train", "--profile", "smoke", "--out", tmp_path / "none", "--resume", "--no-progress"])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"metastyle: error: --resume given but no "
                                             f"{tmp_path / 'none' / 'train_state.pt'} to resume from"]
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("garbage", ["", "4,0.5\n7"])
def test_truncate_drops_rows_past_checkpoint_and_torn_rows(tmp_path, garbage):
    from metastyle.infra.runlog import RunLog

    log = RunLog(tmp_path / "log.csv", ["loss"], tensorboard=False)
    for s in range(1, 6):
        log.write(s, {"loss": s / 10})
    with (tmp_path / "log.csv").open("a") as f:
        f.write(garbage)
    log.truncate(3)
    assert (tmp_path / "log.csv").read_text().splitlines() == ["step,loss", "1,0.1", "2,0.2", "3,0.3"]


def test_tensorboard_is_off_only_when_not_installed(tmp_path, monkeypatch):
    import types

    from metastyle.infra.runlog import RunLog

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # not installed: the CSV log alone
    assert RunLog(tmp_path / "a.csv", ["loss"])._tb is None
    broken = types.ModuleType("torch.utils.tensorboard")

    def writer(log_dir):
        raise PermissionError(f"cannot create {log_dir}")
    broken.SummaryWriter = writer
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", broken)  # installed but failing: an error
    with pytest.raises(PermissionError, match="cannot create"):
        RunLog(tmp_path / "b.csv", ["loss"])
