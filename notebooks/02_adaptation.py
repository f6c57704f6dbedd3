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
# # 02 · Adaptation ("Framework" figure)
# Regenerates: the style-free representation M(I_c; θ) and θ adapted to 4 unseen styles, shown on 4 contents
# (paper Fig. 2; with `DATA=examples`: lenna, golden_gate, modern, sailboat × la_muse, scene_de_rue,
# woman_with_hat_matisse, en_campo_gris), and the held-out-content loss against adaptation step from θ vs from a
# random init (and from θ_plain, beyond the paper). Writes `framework.png`, `adaptation_curves.png`,
# `adaptation_curves.csv`, `metrics.json`.

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
from metastyle.method.stylize import stylize
from metastyle.study import compare, shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("02_adaptation", globals())

# %%
theta_path, theta = shared.load_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
contents = shared.batch(ev.contents)
neutral = stylize(theta, contents)
adapted, seconds = {}, []
for name, style in ev.styles:
    model, info = shared.ensure_adapted(theta_path, name, style, ctx, RUNS_DIR)
    adapted[name] = model
    seconds.append(info["seconds"])
    print(f"{name}: {cfg.adapt.steps} steps, {info['seconds']:.1f} s{' (cached)' if info['cached'] else ''}")

# %%
rows = [[None, *contents], [None, *neutral]]
for name, style in ev.styles:
    rows.append([style, *stylize(adapted[name], contents)])
fig = notebook.grid_figure(rows, ["content", "M(I_c; θ)", *[n for n, _ in ev.styles]],
                        ["style", *[n for n, _ in ev.contents]],
                        title=f"Framework: style-free representation and {cfg.adapt.steps}-step adaptations")
rec.save_fig(fig, "framework")

# %% [markdown]
# ## Loss vs adaptation step on held-out contents: from θ, from θ_plain and from scratch
# θ_plain (beyond the paper) is the same network trained on the same styles and contents for the same
# iterations × tasks × batches by ordinary multi-style training, with no inner loop (`metastyle.baselines.plain`,
# docs/baselines.md). All three inits are adapted with the same steps to held-out styles and scored on held-out
# contents. Claims 3 and 4 read θ vs scratch; claim 12 compares θ and θ_plain at the first evaluated step after
# 0 and at the last.

# %%
import time
from pathlib import Path

from metastyle.baselines import plain
from metastyle.config import study_sizes
from metastyle.infra.runlog import read_csv
from metastyle.method.nets import random_init

t0 = time.perf_counter()
plain_path = plain.ensure_plain(ctx, RUNS_DIR)
theta_plain, _ = nets.load_model(plain_path, ctx.device)
print("theta_plain:", plain_path, f"({time.perf_counter() - t0:.1f} s here)")
logs = {"meta": Path(theta_path).parent / "log.csv", "plain": Path(plain_path).parent / "log.csv"}
train_s = {k: sum(float(r["seconds"]) for r in read_csv(p)) for k, p in logs.items() if p.is_file()}
print("training wall time from log.csv (s):", {k: round(v, 1) for k, v in train_s.items()})
# three inits x n_cmp styles x adapt.steps: all evaluation styles under `paper`, two on 2 CPU cores
n_cmp = len(ev.styles[:study_sizes(PROFILE).compare_styles])
inits = {"meta": theta, "plain": theta_plain, "scratch": random_init(cfg.run.seed)}
cmp = pd.DataFrame(compare.init_curves(ctx, inits, ev.styles[:n_cmp], contents, steps=cfg.adapt.steps))
rec.save_table(cmp, "adaptation_curves")
fig, axes = plt.subplots(1, n_cmp, figsize=(4.2 * n_cmp, 3.2), squeeze=False)
for ax, (name, _) in zip(axes[0], ev.styles[:n_cmp]):
    for init_name, g in cmp[cmp["style"] == name].groupby("init", sort=False):
        ax.plot(g.step, g.loss, marker="o", label="from scratch" if init_name == "scratch" else f"from θ_{init_name}")
    ax.set_title(name, fontsize=9), ax.set_xlabel("adaptation step"), ax.set_ylabel("held-out loss")
    ax.set_yscale("log"), ax.legend(fontsize=7)
fig.suptitle(f"adaptation from θ_meta, θ_plain and a random init ({PROFILE}; held-out styles and contents)")
rec.save_fig(fig, "adaptation_curves")
cmp.round(4)

# %%
from metastyle.study.claims import adaptation

measured = adaptation.measure(cmp.to_dict("records"), cfg.adapt.steps)  # claims 3, 4 and 12 (without 11)
summary = measured["meta_vs_plain"]
rec.write_metrics({"adapt_steps": cfg.adapt.steps, "adapt_seconds_mean": sum(seconds) / len(seconds), **measured,
                   "n_styles": n_cmp, "n_contents": len(ev.contents), "plain_iterations": cfg.meta.iterations,
                   **{f"{k}_train_seconds": v for k, v in train_s.items()}})
pd.DataFrame({s: {f"{i} @ step {st}": v for i, vs in d.items() for st, v in zip(summary["steps"], vs)}
              for s, d in summary["styles"].items()}).round(4)
