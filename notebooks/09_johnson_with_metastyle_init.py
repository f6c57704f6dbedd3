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
# # 09 · Johnson training initialised with θ (extension, docs/paper-vs-code.md §5)
# Regenerates: single-style feed-forward training (Johnson et al.; the same Adam loop as adaptation) from a
# random init vs from θ, for longer than adaptation: held-out loss curves and snapshots.
# Writes `johnson_init.png`, `johnson_init_curves.png`, `johnson_init_curves.csv`, `metrics.json`.

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

from metastyle.method import nets
from metastyle.study import compare, shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("09_johnson_with_metastyle_init", globals())

# %%
from metastyle import config
from metastyle.data.images import load_image, to_tensor

theta_path, theta = shared.load_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
sname, s = ev.styles[-1]
steps = config.johnson_steps(cfg)  # longer than adaptation (config.StudySizes.johnson_factor)
LABELS = {"random": "random init", "theta": "θ", "plain": "θ_plain"}
COLUMNS = {"start": "init", "loss": "loss_total", "content": "loss_content", "style": "loss_style"}
every = max(1, steps // 4)  # held-out loss at 5 points; snapshots of the first content there


def johnson(starts, folder, **kw):
    """compare.johnson_inits from each start: its held-out curves (table) and snapshots (image rows)."""
    res = compare.johnson_inits(ctx, s, shared.train_contents(ctx), ev.contents, rec.path(folder), theta=theta,
                                starts=starts, steps=steps, eval_every=every, max_snapshots=1, progress=True,
                                snapshot_at=tuple(range(0, steps + 1, every)) + (steps,), **kw)
    table = pd.DataFrame(res["eval"]).rename(columns=COLUMNS).replace({"init": LABELS})
    shots = {LABELS[k]: {st: to_tensor(load_image(p[0])) for st, p in v.items()} for k, v in res["snapshots"].items()}
    return table, shots


curves, runs = johnson(("random", "theta"), "johnson")
rec.save_table(curves, "johnson_init_curves")
fig, ax = plt.subplots(figsize=(5, 3.2))
for k, g in curves.groupby("init"):
    ax.plot(g.step, g.loss_total, marker="o", label=f"from {k}")
ax.set_yscale("log"), ax.set_xlabel("training step"), ax.set_ylabel("held-out loss"), ax.legend(), ax.set_title(sname)
rec.save_fig(fig, "johnson_init_curves")
fig = notebook.grid_figure([list(v.values()) for v in runs.values()], list(runs),
                           [f"step {st}" for st in runs["θ"]], title=f"snapshots ({sname})")
rec.save_fig(fig, "johnson_init")
curves.round(4)

# %%
fin = curves[curves.step == steps].set_index("init").loss_total
th = curves[curves.init == "θ"].set_index("step").loss_total
sc = curves[curves.init == "random init"].set_index("step").loss_total
reach = [st for st in sc.index if sc[st] <= th[steps]]
rec.write_metrics({"steps": steps, "final_loss_scratch": fin["random init"], "final_loss_theta": fin["θ"],
                   "final_ratio_theta_over_scratch": fin["θ"] / fin["random init"],
                   "scratch_loss_at_adapt_steps": float(sc[min(sc.index, key=lambda x: abs(x - cfg.adapt.steps))]),
                   "theta_loss_at_adapt_steps": float(th[min(th.index, key=lambda x: abs(x - cfg.adapt.steps))]),
                   "scratch_reaches_theta_final": bool(reach)})
rec.metrics

# %% [markdown]
# ## Beyond the paper: Johnson from θ_plain as a third init
# θ_plain: multi-style training of the same network on the same styles and contents, no inner loop
# (`metastyle.baselines.plain`, cached in `runs/plain-<profile>-<key>/`). Same training loop, data order and steps
# as above.

# %%
from metastyle.baselines import plain

theta_plain, _ = nets.load_model(plain.ensure_plain(ctx, RUNS_DIR), ctx.device)
plain_curves, plain_runs = johnson(("plain",), "johnson_plain", nets={"plain": theta_plain})
runs3 = {**runs, **plain_runs}
curves3 = pd.concat([curves, plain_curves], ignore_index=True)
rec.save_table(curves3, "johnson_init_curves_3inits")
fig, ax = plt.subplots(figsize=(5, 3.2))
for k, g in curves3.groupby("init", sort=False):
    ax.plot(g.step, g.loss_total, marker="o", label=f"from {k}")
ax.set_yscale("log"), ax.set_xlabel("training step"), ax.set_ylabel("held-out loss"), ax.legend()
ax.set_title(sname)
rec.save_fig(fig, "johnson_init_curves_3inits")
fig = notebook.grid_figure([list(v.values()) for v in runs3.values()], list(runs3),
                           [f"step {st}" for st in runs3["θ"]], title=f"snapshots ({sname})")
rec.save_fig(fig, "johnson_init_3inits")
fin3 = curves3[curves3.step == steps].set_index("init").loss_total
rec.write_metrics({"final_loss_plain": fin3["θ_plain"], "final_ratio_theta_over_plain": fin3["θ"] / fin3["θ_plain"]})
curves3.round(4)
