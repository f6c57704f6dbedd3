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
# # 08 · Gatys initialised with the style-free representation (extension, docs/paper-vs-code.md §5)
# Regenerates: Gatys optimisation started from the content, from noise and from M(I_c; θ): loss curves and
# snapshots (`metastyle.study.compare`). The step-0 losses of the three starting images are always measured here.
# Writes `gatys_init.png`, `gatys_init_curves.csv`, `metrics.json`.

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
import torch

from metastyle.method.stylize import stylize
from metastyle.study import compare, metrics, prior_arts, shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("08_gatys_with_metastyle_init", globals())

# %%
theta_path, theta = shared.load_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
(cname, c), (sname, s) = ev.contents[0], ev.styles[0]
g = torch.Generator().manual_seed(cfg.run.seed)
inits = {"content": c, "noise": torch.rand(c.shape, generator=g), "M(I_c;θ)": stylize(theta, c)}
start = {k: metrics.perceptual(v, c, s, ctx) for k, v in inits.items()}
pd.DataFrame(start).T

# %%
m = {f"step0_loss_{k}": v["total"] for k, v in start.items()}
iters = prior_arts.gatys_iterations(PROFILE)
snaps = tuple(sorted({0, max(1, iters // 10), max(1, iters // 2), iters}))
res = compare.gatys_inits(c, s, ctx.loss_net, ctx.spec, rec.path("gatys"), theta=theta, iterations=iters,
                          snapshot_at=snaps, seed=cfg.run.seed)
curves = pd.DataFrame(res["rows"])
rec.save_table(curves, "gatys_init_curves")
fig, ax = plt.subplots(figsize=(5, 3.2))
for k, g in curves.groupby("init"):
    ax.plot(g.iteration, g.loss, label=f"from {k}")
ax.set_yscale("log"), ax.set_xlabel("Gatys iteration (L-BFGS)"), ax.set_ylabel("perceptual loss"), ax.legend()
rec.save_fig(fig, "gatys_init_curves")
from metastyle.data.images import load_image, to_tensor

rows = [[to_tensor(load_image(f)) for f in r["snapshots"].values()] for r in res["summary"]]
fig = notebook.grid_figure(rows, [r["init"] for r in res["summary"]], list(res["summary"][0]["snapshots"]),
                        title=f"Gatys snapshots by start ({cname} × {sname})")
rec.save_fig(fig, "gatys_init")
for r in res["summary"]:
    m[f"final_loss_{r['init']}"] = r["final_loss"]
    m[f"initial_loss_{r['init']}"] = r["initial_loss"]
m["iterations"] = iters
from IPython.display import display

display(pd.DataFrame(res["summary"]).drop(columns=["snapshots"]))
rec.write_metrics(m)
rec.metrics
