"""Claims 10 and 11 (notebook 12): separate inner/outer contents vs one pool, and the number of inner steps T.

Each variant is meta-trained with the profile's settings except one key, for the iterations of one of the
main run's snapshots (``iterations``), so the main run's snapshot at that iteration is the reference: same
seed, batches, learning-rate schedule (it depends on the step only) and evaluation. Every variant is then
adapted to the budget grid's held-out styles with its seeds and scored on its held-out photos
(``budget.run_grid``, in the same cell folder: scratch and the reference are not run twice).
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from metastyle import config
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint
from metastyle.study import budget, stats

#: the variants and the one config key each changes (paper: split contents and T = 1 are the defaults)
VARIANTS = {"single-pool": {"data.split": "single-pool"}, "T2": {"meta.inner_steps": 2},
            "T5": {"meta.inner_steps": 5}}
#: the variants are trained for the main run's largest snapshot within this fraction of its iterations (100 of
#: 1,000: a T=5 iteration costs about 3x a T=1 one, and three variants train two at a time)
FRACTION = 0.1


def iterations(cfg) -> int:
    """The variants' meta-iterations: the largest main-run snapshot within ``FRACTION`` of the run (the run's
    last iteration when no earlier snapshot qualifies)."""
    n = cfg.meta.iterations
    fits = [s for s in checkpoint.snapshot_steps(n) if 0 < s <= FRACTION * n]
    return max(fits) if fits else n


def variant_configs(cfg) -> dict[str, config.Config]:
    """Each variant's config: ``cfg`` with its one key changed and ``iterations(cfg)`` meta-iterations."""
    n = iterations(cfg)
    return {name: config.apply(cfg, {**over, "meta.iterations": n}) for name, over in VARIANTS.items()}


def train_variants(ctx, runs_dir: str | Path = "runs", *, workers: int = 2) -> dict[str, Path]:
    """Meta-train every variant (resuming where each stopped), ``workers`` at a time, one thread each; return
    their theta paths."""
    from metastyle.study import shared

    cfgs = variant_configs(ctx.cfg)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        jobs = {k: pool.submit(budget._train_one, "meta", c.to_dict(), str(runs_dir)) for k, c in cfgs.items()}
        paths = {k: Path(j.result()) for k, j in jobs.items()}
    for k, c in cfgs.items():
        if paths[k].parent != shared.theta_dir(c, runs_dir):
            raise MetaStyleError(f"variant {k}: theta at {paths[k]}, expected under {shared.theta_dir(c, runs_dir)}")
    return paths


def summarize(records: list[dict], reference: int, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """Per variant, the reference θ's held-out loss relative to the variant's at the last adaptation step,
    geometric mean over styles and seeds with its 95% interval: below 1 means the paper's setting (split
    contents, T = 1) adapts better."""
    keep = [r for r in records if r["init"] in ("meta", *VARIANTS) and r["step"] in (reference,)]
    table, styles, seeds, at = budget.loss_table(keep)
    if ("meta", reference) not in table:
        raise MetaStyleError(f"no reference cells (meta at iteration {reference}) among the records")
    ref = np.log(table["meta", reference][..., -1])
    out = {"reference_iteration": reference, "last_step": int(at[-1]), "styles": styles, "seeds": seeds,
           "ratio": {}}
    for name in VARIANTS:
        if (name, reference) in table:
            logr = ref - np.log(table[name, reference][..., -1])
            out["ratio"][name] = stats.geomean_interval(logr, n_boot=n_boot, seed=seed)
    return out
