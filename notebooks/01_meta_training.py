# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
#   language_info:
#     name: python
# ---

# %% [markdown]
# # 01 · Meta-training θ (Algorithm 1)
# Regenerates: the meta-trained initialisation θ (`runs/meta-<profile>-<config key>/theta.pt`, one folder per
# config, reused when finished, resumed when not, or `THETA`), and the inner (support, before the update) /
# outer (query, after adaptation) loss curves from `log.csv`. Writes `meta_curves.png`, `metrics.json`.

# %% tags=["parameters"]
# papermill parameters, one per line (what each means: metastyle.study.nb.notebook.PARAMETERS)
PROFILE = "quick"
DATA = "embedded"
DATA_DIR = "data/examples"
OUT_DIR = ""
RUNS_DIR = "runs"
RESULTS_DIR = "results"
SEED = 0
THETA = ""

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd

from metastyle.study import shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("01_meta_training", globals())

# %%
import time
from pathlib import Path

from metastyle.infra.runlog import read_csv

t0 = time.perf_counter()
theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
print("theta:", theta_path, f"({time.perf_counter() - t0:.1f} s here)")
meta = shared.theta_meta(theta_path)
print("made with loss network:", meta.get("loss_net", {}).get("name"), "| step:", meta.get("step"))

# %%
log_path = Path(theta_path).parent / "log.csv"
if log_path.is_file():
    log = pd.DataFrame(read_csv(log_path)).astype(float)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    w = max(1, len(log) // 20)
    for ax, part in zip(axes, ["loss", "content", "style"]):
        for kind, colour in (("inner", "tab:blue"), ("query", "tab:orange")):
            y = log[f"{kind}_{part}"]
            ax.plot(log.step, y, color=colour, alpha=0.3)
            ax.plot(log.step, y.rolling(w, min_periods=1).mean(), color=colour,
                    label="inner (support, before update)" if kind == "inner" else "outer (query, after adaptation)")
        ax.set_title(f"{part}"), ax.set_xlabel("outer iteration"), ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"meta-training curves ({PROFILE}, {ctx.loss_net.info.label()})")
    rec.save_fig(fig, "meta_curves")
    k = max(1, len(log) // 10)
    m = {"iterations": int(log.step.max()), "query_loss_first": log.query_loss[:k].mean(),
         "query_loss_last": log.query_loss[-k:].mean(), "inner_loss_first": log.inner_loss[:k].mean(),
         "inner_loss_last": log.inner_loss[-k:].mean(), "seconds_per_iteration": log.seconds.mean()}
    m["query_loss_ratio_last_first"] = m["query_loss_last"] / m["query_loss_first"]
else:
    notebook.show_unavailable("meta-training curves", f"THETA={THETA!r} has no log.csv beside it")
    m = {"iterations": int(meta.get("step") or 0)}
rec.write_metrics(m)
rec.metrics
