"""The budget curve (issue 19, notebook 11): does meta-learning buy fast adaptation, and how does the effect grow
with meta-training?

1. ``train_inits``: one meta-training run and one θ_plain run with the same budget, side by side (one process
   and one thread each: on 2 cores two single-thread processes do twice the work of one two-thread process at
   64 px, docs/performance.md). Both keep their model at log-spaced iterations (``checkpoint.snapshot_steps``).
2. ``run_grid``: from every snapshot of both runs, and from scratch, adapt to every held-out style with every
   seed (the seed sets the data order, and scratch's init), recording the held-out-content loss every
   ``EVAL_EVERY`` steps. Each cell is one JSON file, written when it finishes: rerunning resumes.
3. ``summarize``: per snapshot, the held-out loss relative to scratch at ``REPORT_STEPS`` and the steps-to-match,
   each with a 95% bootstrap interval over styles and seeds (``study.stats``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metastyle import config
from metastyle.data.sets import ImageSet
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint, files
from metastyle.method.adapt import fit_style
from metastyle.method.losses import content_targets, perceptual_loss, style_targets
from metastyle.method.nets import TransformerNet, load_model, random_init
from metastyle.study import stats

#: held-out loss is recorded every this many adaptation steps (and at step 0): steps-to-match resolution
EVAL_EVERY = 5
#: the adaptation steps the relative loss is reported at (issue 19), plus the profile's last step
REPORT_STEPS = (0, 10, 25, 50, 100)
#: the chance that enters: seeds added to ``run.seed`` (data order of every init; scratch's init too)
SEEDS = (0, 1, 2)
INITS = ("meta", "plain")


# ------------------------------------------------------------------------------------------ 1. training
def _train_one(kind: str, cfg_dict: dict, runs_dir: str) -> str:
    torch.set_num_threads(1)
    from metastyle.baselines import plain
    from metastyle.method.context import make_context
    from metastyle.study import shared

    ctx = make_context(config.from_dict(cfg_dict))
    if kind == "meta":
        return str(shared.ensure_theta(ctx.cfg, runs_dir, ctx=ctx, progress=False))
    return str(plain.ensure_plain(ctx, runs_dir, progress=False))


def _done_steps(log: Path) -> int:
    if not log.is_file():
        return 0
    with open(log, "rb") as f:
        return max(0, sum(1 for _ in f) - 1)


def train_inits(ctx, runs_dir: str | Path = "runs", *, poll: float = 60.0) -> dict[str, Path]:
    """Meta-train θ and train θ_plain for ``meta.iterations`` (each resumes where it stopped), side by side;
    return their run folders ``{"meta": ..., "plain": ...}``. Prints progress every ``poll`` seconds."""
    from metastyle.baselines import plain
    from metastyle.study import shared

    folders = {"meta": shared.theta_dir(ctx.cfg, runs_dir),
               "plain": Path(runs_dir) / f"plain-{ctx.cfg.profile}-{plain.run_key(ctx)}"}
    n = ctx.cfg.meta.iterations
    spawn = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        jobs = {k: pool.submit(_train_one, k, ctx.cfg.to_dict(), str(runs_dir)) for k in folders}
        while not all(j.done() for j in jobs.values()):
            time.sleep(poll if poll > 0 else 0.1)
            done = {k: _done_steps(f / "log.csv") for k, f in folders.items()}
            print(f"[{time.perf_counter() - t0:6.0f} s] " + ", ".join(f"{k} {v}/{n}" for k, v in done.items()),
                  flush=True)
        for j in jobs.values():
            j.result()  # a failed run raises here, with its own message
    return folders


def init_paths(folders: dict[str, Path]) -> dict[tuple[str, int], Path]:
    """``{(kind, step): snapshot path}`` for every snapshot of the runs (step 0 is the shared random init)."""
    return {(kind, step): p for kind, f in folders.items() for step, p in checkpoint.snapshots(f).items()}


# ------------------------------------------------------------------------------------------- 2. the grid
@dataclasses.dataclass(frozen=True)
class Cell:
    """One adaptation: ``init`` ("scratch", or "meta"/"plain" at snapshot ``step``) to ``style`` with ``seed``."""

    init: str
    step: int
    style: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.init}-{self.step:06d}__{self.style}__s{self.seed}"


class HeldOut:
    """The perceptual loss of a network's outputs on fixed held-out contents for one style, with the content
    features and the style's Gram targets computed once (no call climbs back up a layer)."""

    def __init__(self, ctx, contents: torch.Tensor, style: torch.Tensor):
        self.ctx, self.contents = ctx, contents.to(ctx.device)
        with torch.no_grad():
            self.feats = content_targets(ctx.loss_net, self.contents, ctx.spec)
            self.grams = style_targets(ctx.loss_net, style.to(ctx.device), ctx.spec)

    def __call__(self, net: TransformerNet) -> dict:
        was = net.training
        with torch.no_grad():
            loss = perceptual_loss(self.ctx.loss_net, net.eval()(self.contents), self.feats, self.grams,
                                   self.ctx.spec)
        net.train(was)
        return {"loss": loss.total.item(), "content": loss.content.item(), "style": loss.style.item()}


def adapt_cell(ctx, init: TransformerNet, style: torch.Tensor, contents: ImageSet, eval_contents: torch.Tensor, *,
               steps: int, seed: int, every: int = EVAL_EVERY) -> list[dict]:
    """Adapt ``init`` to ``style`` for ``steps`` (config's adaptation settings, data order from ``seed``) and
    return the held-out loss at step 0 and every ``every`` steps: ``[{"step", "loss", "content", "style"}]``."""
    held = HeldOut(ctx, eval_contents, style)
    rows = [{"step": 0, **held(init)}]

    def hook(step, net, _opt):
        if step % every == 0 or step == steps:
            rows.append({"step": step, **held(net)})

    fit_style(init, ctx, style, contents, steps=steps, seed=seed, hook_every=every, hook=hook)
    return rows


_WORKER: dict = {}


def _worker_init(cfg_dict: dict, content_items, eval_contents: torch.Tensor, styles: dict) -> None:
    torch.set_num_threads(1)
    from metastyle.data.sets import content_set
    from metastyle.method.context import make_context

    ctx = make_context(config.from_dict(cfg_dict), with_data=False)
    _WORKER.update(ctx=ctx, contents=content_set(content_items, ctx.cfg.adapt.content_size),
                   eval=eval_contents, styles=styles)


def _run_cell(cell: Cell, init_path: str | None, out: str) -> str:
    w = _WORKER
    ctx = w["ctx"]
    seed = ctx.cfg.run.seed + cell.seed
    init = load_model(init_path, ctx.device)[0] if init_path else random_init(seed)
    t0 = time.perf_counter()
    rows = adapt_cell(ctx, init, w["styles"][cell.style], w["contents"], w["eval"], steps=ctx.cfg.adapt.steps,
                      seed=seed)
    record = {**dataclasses.asdict(cell), "init_path": init_path or "", "rows": rows,
              "seconds": time.perf_counter() - t0}
    return str(files.write_json(Path(out) / f"{cell.name}.json", record))


def grid(init_steps: Sequence[tuple[str, int]], styles: Sequence[str], seeds: Sequence[int] = SEEDS) -> list[Cell]:
    """Every (init, style, seed) cell; scratch once per style and seed."""
    inits = [("scratch", 0), *init_steps]
    return [Cell(i, s, st, sd) for i, s in inits for st in styles for sd in seeds]


def run_grid(ctx, inits: dict[tuple[str, int], Path], styles: Sequence[tuple[str, torch.Tensor]],
             contents: ImageSet, eval_contents: torch.Tensor, out_dir: str | Path, *,
             seeds: Sequence[int] = SEEDS, workers: int = 2) -> list[dict]:
    """Run every cell of ``grid`` not yet in ``out_dir`` (``workers`` processes of one thread), then return all
    cells' records. ``inits``: ``{(kind, step): snapshot path}`` (``init_paths``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = grid(sorted(inits), [n for n, _ in styles], seeds)
    todo = [c for c in cells if not (out / f"{c.name}.json").is_file()]
    print(f"budget grid: {len(cells)} adaptations of {ctx.cfg.adapt.steps} steps, {len(cells) - len(todo)} done "
          f"before, {len(todo)} to run on {workers} processes", flush=True)
    if todo:
        spawn = multiprocessing.get_context("spawn")
        init_args = (ctx.cfg.to_dict(), ctx.splits.content_train, eval_contents.cpu(),
                     {n: s.cpu() for n, s in styles})
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn, initializer=_worker_init,
                                 initargs=init_args) as pool:
            jobs = [pool.submit(_run_cell, c, None if c.init == "scratch" else str(inits[c.init, c.step]), str(out))
                    for c in todo]
            for k, job in enumerate(jobs, 1):
                job.result()
                if k % 10 == 0 or k == len(jobs):
                    el = time.perf_counter() - t0
                    print(f"  {k}/{len(jobs)} in {el:.0f} s, ~{el / k * (len(jobs) - k):.0f} s left", flush=True)
    return [read_cell(out / f"{c.name}.json") for c in cells]


def read_cell(path: Path) -> dict:
    """One finished cell's record; a damaged file is named (delete it and rerun to redo that cell)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise MetaStyleError(f"{path}: not a readable budget cell ({err}); delete it and rerun") from None


# --------------------------------------------------------------------------------------- 3. the summary
def loss_table(records: list[dict]) -> tuple[dict[tuple[str, int], np.ndarray], list[str], list[int], np.ndarray]:
    """``({(init, step): losses (styles, seeds, eval points)}, styles, seeds, eval steps)`` from the cells."""
    styles = sorted({r["style"] for r in records})
    seeds = sorted({r["seed"] for r in records})
    at = np.array([row["step"] for row in records[0]["rows"]])
    table: dict[tuple[str, int], np.ndarray] = {}
    for r in records:
        key = (r["init"], r["step"])
        arr = table.setdefault(key, np.full((len(styles), len(seeds), len(at)), np.nan))
        got = np.array([row["step"] for row in r["rows"]])
        if len(got) != len(at) or (got != at).any():
            raise MetaStyleError(f"budget cell {key} {r['style']} s{r['seed']}: evaluated at other steps than the rest")
        arr[styles.index(r["style"]), seeds.index(r["seed"])] = [row["loss"] for row in r["rows"]]
    missing = [k for k, a in table.items() if np.isnan(a).any()]
    if missing:
        raise MetaStyleError(f"budget grid incomplete for {missing}: rerun to finish it")
    return table, styles, seeds, at


def steps_to_match(curve: np.ndarray, at: np.ndarray, target: float) -> float:
    """The first adaptation step at which ``curve`` (held-out loss at steps ``at``) reaches ``target``,
    interpolated linearly in log loss between evaluated steps; ``inf`` if it never does."""
    hit = np.nonzero(curve <= target)[0]
    if not len(hit):
        return math.inf
    i = hit[0]
    if i == 0:
        return float(at[0])
    a, b = np.log(curve[i - 1]), np.log(curve[i])
    frac = (a - np.log(target)) / (a - b) if a != b else 1.0
    return float(at[i - 1] + frac * (at[i] - at[i - 1]))


def summarize(records: list[dict], *, report_steps: Sequence[int] = REPORT_STEPS, n_boot: int = 2000,
              seed: int = 0) -> dict:
    """Per (init, snapshot): geometric-mean held-out loss relative to scratch (same style, same seed) at
    ``report_steps`` + the last step, and steps-to-match (the step where the init reaches scratch's loss at
    the last step; median over cells), each with a 95% bootstrap interval over styles and seeds."""
    table, styles, seeds, at = loss_table(records)
    last = int(at[-1])
    steps = sorted({*report_steps, last})
    idx = [int(np.nonzero(at == s)[0][0]) for s in steps]
    scratch = table["scratch", 0]
    rows = []
    for (init, step), arr in sorted(table.items()):
        if init == "scratch":
            continue
        logr = np.log(arr[..., idx]) - np.log(scratch[..., idx])  # (styles, seeds, steps)
        ratio = {s: stats.geomean_interval(logr[..., j], n_boot=n_boot, seed=seed) for j, s in enumerate(steps)}
        match = np.array([[steps_to_match(arr[i, k], at, scratch[i, k, -1]) for k in range(len(seeds))]
                          for i in range(len(styles))])
        rows.append({"init": init, "iteration": step, "ratio": {str(s): v for s, v in ratio.items()},
                     "steps_to_match": stats.median_interval(match, n_boot=n_boot, seed=seed),
                     "ratio_last_per_style": dict(zip(styles, np.exp(logr[..., -1].mean(1)).tolist()))})
    return {"styles": styles, "seeds": seeds, "steps": steps, "last_step": last, "eval_every": int(at[1] - at[0]),
            "rows": rows}


def curves(records: list[dict]) -> list[dict]:
    """Long-format rows (init, iteration, style, seed, step, loss) of every cell, for CSV and plots."""
    return [{"init": r["init"], "iteration": r["step"], "style": r["style"], "seed": r["seed"], "step": row["step"],
             "loss": row["loss"], "content": row["content"], "style_loss": row["style"]}
            for r in records for row in r["rows"]]


def final_snapshot(summary: dict, init: str) -> dict:
    """The summary row of ``init``'s last (longest-trained) snapshot."""
    rows = [r for r in summary["rows"] if r["init"] == init]
    if not rows:
        raise MetaStyleError(f"the budget summary has no {init!r} snapshots")
    return max(rows, key=lambda r: r["iteration"])


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
