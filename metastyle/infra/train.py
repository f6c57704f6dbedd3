"""One training loop for every trainer, and the run folder it writes (docs/reliability.md).

``fit`` is the loop. Step t sets the learning rate, zeroes the gradients, calls the trainer's step function
(forward and backward of step t; it returns the step's numbers), applies the optimiser, hands the numbers on
(``after``) and saves a checkpoint when one is due; it shows progress. The trainers are step functions over it:
meta-training (``method.meta``), θ_plain (``baselines.plain``), one style's fit (``method.adapt``: adaptation
and Johnson) and the arbitrary-style baselines (``baselines.arbitrary.common``).

``open_run`` is a run folder while a loop writes to it (meta-training, θ_plain, Johnson): locked, and claimed
by a new run or required to hold a train state by ``--resume``. Its ``Run`` holds the one resume policy
(``Run.resume``: every check of ``runs.resume``, then weights, Adam and RNG states restored) and writes
``config.json``, ``log.csv`` (rows past the resumed step dropped), ``train_state.pt``, the model file and its
snapshots at ``checkpoint.snapshot_steps``.

Example (a trainer's whole loop):
    >>> with open_run(out, "plain", ["loss"], resume=False, overwrite=False, model_file="m.pt") as run:
    ...     start = run.resume(net, opt, ctx, last=100, limit="iterations")
    ...     run.begin(config, ctx.record(), model=lambda step: checkpoint.model_record(net, step=step))
    ...     fit(opt, step, 100, start=start, after=lambda s, stats, sec: run.step_done(s, stats), save=run.save)
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator

from metastyle.infra import checkpoint, claims, files, runs
from metastyle.infra.progress import bar as progress_bar
from metastyle.infra.runlog import RunLog

STATE_FILE, LOG_FILE, CONFIG_FILE = "train_state.pt", "log.csv", "config.json"


def fit(opt, step: Callable[[int], dict], steps: int, *, start: int = 0, lr: Callable[[int], float] | None = None,
        after: Callable[[int, dict, float], None] | None = None, save: Callable[[int], None] | None = None,
        every: int = 0, every_s: float | None = None, progress: bool = False, desc: str = "",
        show: dict[str, str] | None = None, show_every: int = 1) -> None:
    """Run steps ``start`` to ``steps - 1`` of a trainer whose ``step(t)`` does the forward and backward of step t.

    Around each: the optimiser's rate ``lr(t)``, gradients zeroed before, ``opt.step()`` after, then
    ``after(t + 1, numbers, seconds the step took)``. ``save(t + 1)`` checkpoints every ``every`` steps and
    after the last one; with ``every_s`` instead, once ``every_s`` seconds have passed since the last save,
    but not after the last step (the caller keeps the finished model). ``show``: ``{label: key}`` of numbers
    on the progress bar, refreshed every ``show_every`` steps.
    """
    bar = progress_bar(range(start, steps), initial=start, total=steps, desc=desc, disable=not progress)
    saved = time.perf_counter()
    for t in bar:
        t0 = time.perf_counter()
        if lr is not None:
            for group in opt.param_groups:
                group["lr"] = lr(t)
        opt.zero_grad(set_to_none=True)
        stats = step(t)
        opt.step()
        if after is not None:
            after(t + 1, stats, time.perf_counter() - t0)
        if show and (t + 1) % show_every == 0:
            bar.set_postfix(**{label: f"{stats[k]:.4g}" for label, k in show.items()})
        if every_s is None:
            due = t + 1 == steps or (every and (t + 1) % every == 0)
        else:
            due = t + 1 < steps and time.perf_counter() - saved >= every_s
        if save is not None and due:
            save(t + 1)
            saved = time.perf_counter()


@contextlib.contextmanager
def open_run(out: str | Path, method: str, fields: list[str], *, resume: bool, overwrite: bool, main: bool = True,
             role: str | None = None, model_file: str | None = None) -> Iterator["Run"]:
    """The run folder ``out`` of a ``method`` run (meta, plain, johnson: what its ``config.json`` says), locked
    while the block runs (``claims.locked``; only the ``main`` process writes). A new run claims it
    (``runs.claim_run_folder``: a folder holding a run needs ``overwrite``, one of another method is refused
    even then); ``resume`` needs its train state. ``fields``: log.csv's columns after ``step``; ``role``: the
    train state's; ``model_file``: the model the run writes with every checkpoint (theta.pt), if any."""
    out = Path(out)
    with claims.locked(out, enabled=main):
        if resume:
            runs.require_train_state(out / STATE_FILE)
        else:
            runs.claim_run_folder(out, overwrite=overwrite, main=main, method=method)
        run = Run(out, method, fields, resuming=resume, main=main, role=role, model_file=model_file)
        try:
            yield run
        finally:
            for log in run.logs:
                log.close()


class Run:
    """A run folder while one loop writes to it (made by ``open_run``): resume, then begin, then one
    ``step_done`` per step and a ``save`` per checkpoint, then ``finish``."""

    def __init__(self, out: Path, method: str, fields: list[str], *, resuming: bool, main: bool,
                 role: str | None, model_file: str | None):
        self.out, self.method, self.fields, self.role = out, method, fields, role
        self.resuming, self.main = resuming, main  # a --resume; this process writes (rank 0)
        self.state_path, self.model_file = out / STATE_FILE, out / model_file if model_file else None
        self.start, self.state, self.snapshots, self.logs = 0, {}, set(), []
        self.net = self.opt = self.record = self.model = self.log = None

    def resume(self, net, opt, ctx, *, last: int, limit: str) -> int:
        """The step the run continues from, for a network and optimiser trained for ``last`` steps (``limit``
        names that setting): 0 for a new run. ``--resume`` restores both and every RNG from the train state
        (kept as ``self.state``) after every check of ``runs.resume``, the one resume policy."""
        self.net, self.opt, self.snapshots = net, opt, checkpoint.snapshot_steps(last)
        if self.resuming:
            self.state = runs.resume(self.state_path, net, opt, ctx, log=self.out / LOG_FILE, fields=self.fields,
                                     last=last, limit=limit, method=self.method, role=self.role, main=self.main)
            self.start = self.state["step"]
        return self.start

    def begin(self, config: dict, record: dict, model: Callable[[int], dict] | None = None) -> None:
        """Write ``config.json`` and open ``log.csv``, dropping rows past the resumed step. ``record``: what
        the train state records besides the weights, Adam and RNG states and the step; ``model(step)``: the
        model record of the model file and its snapshots (the run's start is one)."""
        self.record, self.model = record, model
        if self.main:
            files.write_json(self.out / CONFIG_FILE, config)
        self.log = self.open_log(LOG_FILE, self.fields, tensorboard=True)
        if self.start == 0:
            self._snapshot(0)

    def open_log(self, name: str, fields: list[str], tensorboard: bool = False) -> RunLog | None:
        """Another log of the run (``eval.csv``), resumed as ``log.csv`` is; None where this process does not write."""
        if not self.main:
            return None
        log = RunLog(self.out / name, fields, tensorboard=tensorboard)
        self.logs.append(log)
        log.truncate(self.start)
        return log

    def step_done(self, step: int, row: dict) -> None:
        """Step ``step`` is done: its row of ``log.csv``, and the model's snapshot at a snapshot step."""
        if self.log is not None:
            self.log.write(step, row)
        if step in self.snapshots:
            self._snapshot(step)

    def save(self, step: int) -> None:
        """The resumable train state (``runs.train_state``) and the model file, at ``step``."""
        if self.main:
            checkpoint.save(runs.train_state(self.net, self.opt, self.record, step), self.state_path)
            if self.model_file is not None:
                checkpoint.save(self.model(step), self.model_file)

    def finish(self) -> Path | None:
        """The model file, written now if no step was left to run (a finished run resumed without it)."""
        if self.main and self.model_file is not None and not self.model_file.exists():
            checkpoint.save(self.model(self.start), self.model_file)
        return self.model_file

    def _snapshot(self, step: int) -> None:
        if self.main and self.model is not None:
            checkpoint.save_snapshot(self.model(step), self.out, step)
