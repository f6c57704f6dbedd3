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
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metastyle import config
from metastyle.data.images import save_image
from metastyle.data.sets import ImageSet
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint, files
from metastyle.method.adapt import fit_style
from metastyle.method.nets import TransformerNet, load_model, random_init
from metastyle.study import stats
from metastyle.study.evaluation import HeldOut

#: held-out loss is recorded every this many adaptation steps (and at step 0): steps-to-match resolution
EVAL_EVERY = 5
#: the adaptation steps the relative loss is reported at (issue 19), plus the profile's last step
REPORT_STEPS = (0, 10, 25, 50, 100)
#: the chance that enters: seeds added to ``run.seed`` (data order of every init; scratch's init too)
SEEDS = (0, 1, 2)
INITS = ("meta", "plain")
#: θ_meta snapshots earlier than this fraction of the run are not adapted from (10 of 1,000 iterations: each
#: snapshot costs 36 adaptations, about 10 minutes on 2 cores, and at 1% of the budget θ has barely left its
#: init; iteration 0 is kept as the anchor). θ_plain, the control, is adapted from its first snapshot from
#: ``PLAIN_FRACTION`` of the run on and its last (100 and 1,000 of 1,000): with the shared init that is a
#: three-point curve, and the time goes to θ_meta's points
MIN_FRACTION, PLAIN_FRACTION = 0.03, 0.1
#: Johnson to convergence (claim 4's reference): chunks of half the adaptation budget (100 steps at 200) until
#: 3 chunks in a row bring no 1% improvement on the best, or 15x the adaptation budget (3,000 steps at 200)
CONVERGE_PATIENCE, CONVERGE_TOL, CONVERGE_CHUNK, CONVERGE_MAX = 3, 0.01, 0.5, 15
#: claim 4's reference is trained on this many held-out styles (the first of the evaluation styles)
CONVERGE_STYLES = 3
#: the trend (issue 19: "say how many iterations the trend suggests"): θ_meta's loss relative to scratch at the
#: last adaptation step, fitted log-linearly in the meta-iterations of its snapshots after iteration 0, needs at
#: least this many snapshots; it is read at the paper's meta-iterations and solved for claim 4's threshold
TREND_MIN_POINTS, PAPER_ITERATIONS, TREND_TARGET = 3, 100_000, 0.5


# ------------------------------------------------------------------------------------------ 1. training
def _exit_with_parent() -> None:
    """A worker ends when the process that started it does (a killed notebook kernel must not leave a trainer
    writing to a run folder that the rerun resumes)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _train_one(kind: str, cfg_dict: dict, runs_dir: str) -> str:
    _exit_with_parent()
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


# ---------------------------------------------------------------------------------- held-out evaluation set
#: a style whose name is another's plus one of these is a near-duplicate (a crop of the same painting): dropped
NEAR_DUPLICATE_SUFFIXES = ("_cropped",)
#: held-out photos the grid scores on (issue 19: at least 4); the styles are the profile's ``data.eval_styles``
#: (long: 12)
N_CONTENTS = 4


def distinct(named: Sequence[tuple[str, torch.Tensor]]) -> list[tuple[str, torch.Tensor]]:
    """``named`` without near-duplicates (``NEAR_DUPLICATE_SUFFIXES``)."""
    names = {n for n, _ in named}
    return [(n, x) for n, x in named if not any(n.endswith(sfx) and n[: -len(sfx)] in names
                                                 for sfx in NEAR_DUPLICATE_SUFFIXES)]


def heldout_set(DATA: str, DATA_DIR: str, cfg, splits, *, n_contents: int = N_CONTENTS):
    """``shared.EvalImages`` for the grid: ``data.eval_styles`` distinct held-out paintings (the figure styles
    first) and ``n_contents`` held-out photos. With ``DATA=embedded`` these are the profile's held-out
    procedural styles and photos, and ``source`` says so."""
    from metastyle.study.shared import eval_images

    ev = eval_images(DATA, DATA_DIR, cfg, splits=splits, n_styles=0, n_contents=n_contents)
    ev.styles = distinct(ev.styles)[: cfg.data.eval_styles]
    if DATA == "embedded":
        ev.source = (f"procedural held-out styles ({len(ev.styles)}) and held-out embedded photos: the example "
                     "paintings are not here (`metastyle data examples`)")
    return ev


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


def adapt_cell(ctx, init: TransformerNet, style: torch.Tensor, contents: ImageSet, eval_contents: torch.Tensor, *,
               steps: int, seed: int, every: int = EVAL_EVERY) -> tuple[list[dict], TransformerNet]:
    """Adapt ``init`` to ``style`` for ``steps`` (config's adaptation settings, data order from ``seed``);
    return the held-out loss at step 0 and every ``every`` steps (``[{"step", "loss", "content", "style"}]``)
    and the adapted network."""
    held = HeldOut(ctx, eval_contents, style)
    rows = [{"step": 0, **held(init)}]

    def hook(step, net, _opt):
        if step % every == 0 or step == steps:
            rows.append({"step": step, **held(net)})

    net, _ = fit_style(init, ctx, style, contents, steps=steps, seed=seed, hook_every=every, hook=hook)
    return rows, net


def converge(ctx, style: torch.Tensor, contents: ImageSet, eval_contents: torch.Tensor, *, seed: int,
             chunk: int = 0, patience: int = CONVERGE_PATIENCE, tol: float = CONVERGE_TOL,
             max_steps: int = 0) -> tuple[list[dict], TransformerNet]:
    """Johnson et al. trained to convergence: from a random init, ``chunk`` steps at a time (one continuous
    Adam run), until the held-out loss has not improved by ``tol`` (relative) on its best for ``patience``
    chunks, or ``max_steps`` (defaults: ``CONVERGE_CHUNK`` and ``CONVERGE_MAX`` times ``adapt.steps``).
    Returns the held-out loss after every chunk and the network at the end."""
    chunk = chunk or max(1, round(CONVERGE_CHUNK * ctx.cfg.adapt.steps))
    max_steps = max_steps or CONVERGE_MAX * ctx.cfg.adapt.steps
    held = HeldOut(ctx, eval_contents, style)
    net, opt_state, rows, best, stale = random_init(seed), None, [], math.inf, 0
    rows.append({"step": 0, **held(net)})
    while rows[-1]["step"] < max_steps and stale < patience:
        done = rows[-1]["step"]
        net, opt = fit_style(net, ctx, style, contents, steps=done + chunk, start_step=done,
                             optimizer_state=opt_state, seed=seed)
        opt_state = opt.state_dict()
        rows.append({"step": done + chunk, **held(net)})
        if rows[-1]["loss"] < best * (1 - tol):
            best, stale = rows[-1]["loss"], 0
        else:
            stale += 1
    return rows, net


_WORKER: dict = {}


def _worker_init(cfg_dict: dict, content_items, eval_contents: torch.Tensor, styles: dict) -> None:
    _exit_with_parent()
    torch.set_num_threads(1)
    from metastyle.data.sets import content_set
    from metastyle.method.context import make_context

    ctx = make_context(config.from_dict(cfg_dict), with_data=False)
    _WORKER.update(ctx=ctx, contents=content_set(content_items, ctx.cfg.adapt.content_size),
                   eval=eval_contents, styles=styles)


def _run_cell(cell: Cell, init_path: str | None, out: str) -> str:
    """One cell in a worker: adapt (or, for ``johnson``, train to convergence), then write its outputs on the
    held-out contents (``<name>.png``, one row) and its record (``<name>.json``, last: it marks the cell done)."""
    w = _WORKER
    ctx = w["ctx"]
    seed = ctx.cfg.run.seed + cell.seed
    t0 = time.perf_counter()
    if cell.init == "johnson":
        rows, net = converge(ctx, w["styles"][cell.style], w["contents"], w["eval"], seed=seed)
    else:
        init = load_model(init_path, ctx.device)[0] if init_path else random_init(seed)
        rows, net = adapt_cell(ctx, init, w["styles"][cell.style], w["contents"], w["eval"],
                               steps=ctx.cfg.adapt.steps, seed=seed)
    with torch.no_grad():
        outputs = net.eval()(w["eval"].to(ctx.device))
    save_image(torch.cat(list(outputs), dim=2), Path(out) / f"{cell.name}.png")
    record = {**dataclasses.asdict(cell), "init_path": init_path or "", "rows": rows,
              "seconds": time.perf_counter() - t0}
    return str(files.write_json(Path(out) / f"{cell.name}.json", record))


def grid(init_steps: Sequence[tuple[str, int]], styles: Sequence[str], seeds: Sequence[int] = SEEDS, *,
         converged: int = CONVERGE_STYLES) -> list[Cell]:
    """Every (init, style, seed) cell: scratch once per style and seed, every init in ``init_steps``, and
    Johnson to convergence on the first ``converged`` styles (first seed only: the reference, not a spread)."""
    inits = [("scratch", 0), *init_steps]
    cells = [Cell("johnson", 0, st, seeds[0]) for st in styles[:converged]]
    return cells + [Cell(i, s, st, sd) for i, s in inits for st in styles for sd in seeds]


def eval_snapshots(inits: dict[tuple[str, int], Path], iterations: int) -> dict[tuple[str, int], Path]:
    """The snapshots the grid adapts from: iteration 0 once (meta and plain share the random init; kept as
    ``("meta", 0)``), every θ_meta snapshot from ``MIN_FRACTION`` of the run on, and θ_plain's first snapshot
    from ``PLAIN_FRACTION`` on and its last."""
    plain = sorted(s for (k, s) in inits if k == "plain" and s >= PLAIN_FRACTION * iterations)
    keep = {("meta", 0), *(("meta", s) for (k, s) in inits if k == "meta" and s >= MIN_FRACTION * iterations),
            *(("plain", s) for s in plain[:1] + plain[-1:])}
    return {key: p for key, p in inits.items() if key in keep}


def cells_dir(cfg, runs_dir: str | Path, data: str) -> Path:
    """``runs/budget-<profile>-<config key>-<DATA>``: the grid's cells, shared by notebooks 11 and 12."""
    from metastyle.study.shared import config_key

    return Path(runs_dir) / f"budget-{cfg.profile}-{config_key(cfg.to_dict())}-{data}"


def run_grid(ctx, inits: dict[tuple[str, int], Path], styles: Sequence[tuple[str, torch.Tensor]],
             contents: ImageSet, eval_contents: torch.Tensor, out_dir: str | Path, *,
             seeds: Sequence[int] = SEEDS, workers: int = 2) -> list[dict]:
    """Run every cell of ``grid`` not yet in ``out_dir`` (``workers`` processes of one thread), then return all
    cells' records. ``inits``: ``{(kind, step): snapshot path}`` (``init_paths``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cells = grid(sorted(inits), [n for n, _ in styles], seeds)
    cells.sort(key=lambda c: c.init != "johnson")  # the longest runs (Johnson to convergence) first: no idle tail
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
            jobs = [pool.submit(_run_cell, c, str(inits[c.init, c.step]) if (c.init, c.step) in inits else None,
                                str(out)) for c in todo]
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
    """The budget curve's numbers, each with a 95% bootstrap interval over styles and seeds (``stats``):

    - ``rows``, per (init, snapshot): the geometric-mean held-out loss relative to scratch (same style, same
      seed) at ``report_steps`` and the last step, and steps-to-match (the step at which the init reaches the
      loss scratch reaches at the last step; median over cells, ``inf`` = never);
    - ``meta_vs_plain``, per iteration both runs have: θ_meta's loss relative to θ_plain's at the same steps;
    - ``converged``: the final meta snapshot's loss at the last step relative to Johnson trained to
      convergence, on the styles that have that reference (claim 4's "close to a converged model").
    """
    johnson = [r for r in records if r["init"] == "johnson"]
    table, styles, seeds, at = loss_table([r for r in records if r["init"] != "johnson"])
    last = int(at[-1])
    steps = sorted({*(s for s in report_steps if s in at), last})
    idx = [int(np.nonzero(at == s)[0][0]) for s in steps]
    scratch = table["scratch", 0]

    def ratios(a: np.ndarray, b: np.ndarray) -> dict:
        logr = np.log(a[..., idx]) - np.log(b[..., idx])  # (styles, seeds, steps)
        return {str(s): stats.geomean_interval(logr[..., j], n_boot=n_boot, seed=seed) for j, s in enumerate(steps)}

    rows = []
    for (init, step), arr in sorted(table.items()):
        if init == "scratch":
            continue
        match = np.array([[steps_to_match(arr[i, k], at, scratch[i, k, -1]) for k in range(len(seeds))]
                          for i in range(len(styles))])
        rows.append({"init": init, "iteration": step, "ratio": ratios(arr, scratch),
                     "steps_to_match": _censored(stats.median_interval(match, n_boot=n_boot, seed=seed)),
                     "ratio_last_per_style": dict(zip(styles, np.exp(
                         (np.log(arr[..., -1]) - np.log(scratch[..., -1])).mean(1)).tolist()))})
    trend_ = trend(table, scratch, n_boot=n_boot, seed=seed)
    both = sorted({s for (i, s) in table if i == "plain"} & {s for (i, s) in table if i == "meta"})
    meta_vs_plain = [{"iteration": s, "ratio": ratios(table["meta", s], table["plain", s])} for s in both]
    out = {"styles": styles, "seeds": seeds, "steps": steps, "last_step": last, "eval_every": int(at[1] - at[0]),
           "rows": rows, "meta_vs_plain": meta_vs_plain, "converged": None, "trend": trend_}
    metas = [s for (i, s) in table if i == "meta"]
    if johnson and metas:
        final = table["meta", max(metas)][..., -1]  # (styles, seeds)
        ref = {r["style"]: r["rows"][-1]["loss"] for r in johnson}
        on = [styles.index(n) for n in ref if n in styles]
        logr = np.log(final[on]) - np.log(np.array([ref[styles[i]] for i in on]))[:, None]
        out["converged"] = {"styles": [styles[i] for i in on], "iteration": max(metas),
                            "johnson_steps": {r["style"]: r["rows"][-1]["step"] for r in johnson},
                            "ratio": stats.geomean_interval(logr, n_boot=n_boot, seed=seed)}
    return out


def trend(table: dict, scratch: np.ndarray, *, target: float = TREND_TARGET, at: int = PAPER_ITERATIONS,
          n_boot: int = 2000, seed: int = 0) -> dict | None:
    """Where θ_meta's curve is heading: the geometric-mean loss ratio to scratch at the last adaptation step,
    ``log r = a + b log10(iteration)`` fitted over the meta snapshots after iteration 0 (None with fewer than
    ``TREND_MIN_POINTS``). Returns, each with a bootstrap interval over styles and seeds: ``per_decade``
    (the factor r changes by per 10x iterations), ``at_paper`` (r extrapolated to ``at`` iterations) and
    ``iterations_to_target`` (where r would reach ``target``; ``None``, "never", where the fit does not fall:
    metrics are JSON, which has no inf, and a bootstrap bound may never get there while the estimate does). An
    extrapolation, labelled as one: it says where the measured trend points, not what a longer run gives."""
    its = sorted(s for (i, s) in table if i == "meta" and s > 0)
    if len(its) < TREND_MIN_POINTS:
        return None
    x = np.log10(its)
    logr = np.stack([np.log(table["meta", s][..., -1]) - np.log(scratch[..., -1]) for s in its], -1)

    def fit(v: np.ndarray) -> tuple[float, float]:
        b, a = np.polyfit(x, v.reshape(-1, len(its)).mean(0), 1)
        return float(a), float(b)

    def to_target(v: np.ndarray) -> float:
        a, b = fit(v)
        decades = (math.log(target) - a) / b if b < 0 else math.inf
        return 10 ** decades if decades < 300 else math.inf  # beyond a float: never, as far as a fit can say

    def interval(stat, value, transform=lambda v: v) -> dict:
        lo, hi = stats.bootstrap(logr, stat, n_boot=n_boot, seed=seed)
        return {"value": transform(value), "lo": transform(lo), "hi": transform(hi)}

    a, b = fit(logr)
    with np.errstate(over="ignore"):
        return {"iterations": its, "target": target, "paper_iterations": at,
                "per_decade": interval(lambda v: fit(v)[1], b, math.exp),
                "at_paper": interval(lambda v: sum(np.multiply(fit(v), (1, math.log10(at)))), a + b * math.log10(at),
                                     math.exp),
                "iterations_to_target": _censored(interval(to_target, to_target(logr)))}


def trend_text(t: dict | None, last_step: int) -> str:
    """``trend``'s answer in one sentence (REPORT, notebook 11)."""
    if t is None:
        return f"no trend: fewer than {TREND_MIN_POINTS} θ_meta snapshots after iteration 0"
    its, pd_, ap, tt = t["iterations"], t["per_decade"], t["at_paper"], t["iterations_to_target"]
    head = (f"θ_meta/scratch at step {last_step} changes ×{stats.fmt(pd_)} per 10× meta-iterations (log-linear fit "
            f"over iterations {its[0]:,}–{its[-1]:,}); extrapolated to the paper's {t['paper_iterations']:,}: "
            f"{stats.fmt(ap)}")
    if pd_["value"] >= 1 or tt["value"] is None:
        return head + f"; it does not fall, so it never reaches {t['target']:g} (no trend towards the claim)"
    never = lambda v: "never" if v is None else f"{v:.1g}"  # noqa: E731
    return head + (f"; {t['target']:g} at ~{tt['value']:.1g} iterations [{never(tt['lo'])}, {never(tt['hi'])}] "
                   f"(an extrapolation, not a measurement)")


def _censored(iv: dict) -> dict:
    """An interval with ``inf`` ("never within the adaptation budget") written as ``None`` (JSON has no inf)."""
    return {k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in iv.items()}


def curves(records: list[dict]) -> list[dict]:
    """Long-format rows (init, iteration, style, seed, step, loss) of every cell, for CSV and plots."""
    return [{"init": r["init"], "iteration": r["step"], "style": r["style"], "seed": r["seed"], "step": row["step"],
             "loss": row["loss"], "content": row["content"], "style_loss": row["style"]}
            for r in records for row in r["rows"]]


def final_snapshot(rows: list[dict], init: str | None = None) -> dict:
    """The row of the last (longest-trained) snapshot among ``rows`` (of ``init``, when given)."""
    rows = [r for r in rows if init is None or r.get("init") == init]
    if not rows:
        raise MetaStyleError(f"the budget summary has no {init or ''} snapshots".replace("  ", " "))
    return max(rows, key=lambda r: r["iteration"])
