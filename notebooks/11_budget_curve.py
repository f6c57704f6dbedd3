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
# # 11 · The budget curve: does meta-learning buy fast adaptation, and how does that grow with meta-training?
# Beyond the paper's figures; the question behind its claims 3, 4 and 12 (docs/paper-vs-code.md §6). One
# meta-training run and one θ_plain run with the same budget keep their model at log-spaced iterations
# (0, 10, 30, 100, ...). From each snapshot, and from scratch, the network is adapted to every held-out painting
# with 3 seeds (data order; scratch's init too) and scored on held-out photos every 5 steps
# (`metastyle.study.budget`). Every ratio carries a 95% bootstrap interval over styles and seeds
# (`metastyle.study.stats`); REPORT's verdicts for claims 3, 4 and 12 are rules on those intervals.
# Runs under `make long` (profile `long`, under 2 hours on 2 cores) and `smoke`; `quick` has no room for it.
# Rerunning resumes: training from its checkpoints, the grid from its finished cells (`runs/budget-*`).
# Writes `meta_training.png`, `budget_curve.png`, `adapted.png`, `budget_curves.csv`, `budget_summary.json`,
# `metrics.json`.

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
import numpy as np
import pandas as pd

from metastyle.infra.runlog import read_csv
from metastyle.study import budget, shared, stats
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("11_budget_curve", globals(), takes_theta=False)

# %% [markdown]
# ## Meta-training and θ_plain, side by side, with snapshots

# %%
folders = budget.train_inits(ctx, RUNS_DIR)
inits = budget.eval_snapshots(budget.init_paths(folders), cfg.meta.iterations)
print({k: str(v) for k, v in folders.items()})
print("adapting from:", sorted(inits))

# %%
logs = {k: pd.DataFrame(read_csv(f / "log.csv")).astype(float) for k, f in folders.items()}
ev_log = folders["meta"] / "eval.csv"
w = max(5, cfg.meta.iterations // 20)
fig, ax = plt.subplots(figsize=(7, 3.6))
for kind, col, colour in (("meta", "query_loss", "tab:orange"), ("plain", "loss", "tab:green")):
    y = logs[kind][col].rolling(w, min_periods=1)
    ax.fill_between(logs[kind].step, y.quantile(0.1), y.quantile(0.9), color=colour, alpha=0.2)
    ax.plot(logs[kind].step, y.median(), color=colour,
            label=f"{'θ_meta: query loss after adaptation' if kind == 'meta' else 'θ_plain: multi-style loss'}")
if ev_log.is_file():
    ev = pd.DataFrame(read_csv(ev_log)).astype(float)
    ax.plot(ev.step, ev.eval_query_loss, "k.-", label="θ_meta: query loss on held-out styles")
ax.set_yscale("log"), ax.set_xlabel("meta-training iteration"), ax.set_ylabel("loss")
ax.set_title(f"training, rolling median over {w} iterations; band: 10–90% of the window (each iteration draws "
             f"{cfg.meta.meta_batch} styles)", fontsize=8)
ax.legend(fontsize=7)
rec.save_fig(fig, "meta_training")

# %% [markdown]
# ## The grid: every snapshot and scratch, adapted to every held-out style with every seed

# %%
ev = budget.heldout_set(DATA, DATA_DIR, cfg, ctx.splits)
print(f"held-out set: {ev.source}")
print("styles:", [n for n, _ in ev.styles])
print("photos:", [n for n, _ in ev.contents])
cells_dir = budget.cells_dir(cfg, RUNS_DIR, DATA)
records = budget.run_grid(ctx, inits, ev.styles, shared.train_contents(ctx), shared.batch(ev.contents), cells_dir)
summary = budget.summarize(records)
table = pd.DataFrame(budget.curves(records))
rec.save_table(table, "budget_curves")

# %%
steps = summary["steps"]
rows = pd.DataFrame([{"init": r["init"], "iteration": r["iteration"],
                      **{f"ratio@{s}": stats.fmt(r["ratio"][str(s)]) for s in steps},
                      "steps to match": (f"{r['steps_to_match']['value']}" if r["steps_to_match"]["value"] is not None
                                         else f">{summary['last_step']}")} for r in summary["rows"]])
rec.save_table(rows, "budget_table")
rows

# %%
shown = [s for s in (10, 25, summary["last_step"]) if s in steps]
ticks = sorted({r["iteration"] for r in summary["rows"]})
fig, axes = plt.subplots(1, len(shown) + 1, figsize=(4 * (len(shown) + 1), 3.4))
for ax, s in zip(axes, shown):
    for kind, colour in (("meta", "tab:orange"), ("plain", "tab:green")):
        rs = sorted((r for r in summary["rows"] if r["init"] == kind), key=lambda r: r["iteration"])
        if kind == "plain":  # iteration 0 is the shared init, listed once under meta
            rs = [r for r in summary["rows"] if r["init"] == "meta" and r["iteration"] == 0] + rs
        x = [r["iteration"] for r in rs]
        iv = [r["ratio"][str(s)] for r in rs]
        ax.fill_between(x, [v["lo"] for v in iv], [v["hi"] for v in iv], color=colour, alpha=0.25)
        ax.plot(x, [v["value"] for v in iv], "o-", color=colour, label=f"from θ_{kind}")
    trend = summary["trend"]
    if s == summary["last_step"] and trend:  # the fitted trend over the snapshots it was fitted on (dotted)
        xs = np.geomspace(trend["iterations"][0], trend["iterations"][-1], 20)
        ys = trend["at_paper"]["value"] * trend["per_decade"]["value"] ** np.log10(xs / trend["paper_iterations"])
        ax.plot(xs, ys, ":", color="tab:orange", label=f"trend ×{trend['per_decade']['value']:.2f} / 10× it.")
    ax.axhline(1, color="k", lw=0.8, ls="--", label="scratch")
    ax.set_xscale("symlog", linthresh=10), ax.set_xlabel("meta-training iteration (0 = the random init)")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_title(f"held-out loss / scratch's, at adaptation step {s}", fontsize=9)
    ax.legend(fontsize=7)
ax = axes[-1]
last = summary["last_step"]
cap = 1.1 * last  # "never within the budget" drawn above the budget line


def val(v):
    return cap if v is None else v


for kind, colour in (("meta", "tab:orange"), ("plain", "tab:green")):
    rs = sorted((r for r in summary["rows"] if r["init"] == kind), key=lambda r: r["iteration"])
    x = [r["iteration"] for r in rs]
    ax.fill_between(x, [val(r["steps_to_match"]["lo"]) for r in rs], [val(r["steps_to_match"]["hi"]) for r in rs],
                    color=colour, alpha=0.25)
    ax.plot(x, [val(r["steps_to_match"]["value"]) for r in rs], "o-", color=colour, label=f"from θ_{kind}")
ax.axhline(last, color="k", lw=0.8, ls="--", label=f"scratch ({last} steps)")
ax.set_xscale("symlog", linthresh=10), ax.set_xlabel("meta-training iteration (0 = the random init)")
ax.set_xticks(ticks, [str(t) for t in ticks])
ax.set_title(f"steps to reach scratch's loss at step {last} (median; above the line: never)", fontsize=9)
ax.legend(fontsize=7)
fig.suptitle(f"budget curve ({PROFILE}, β {ctx.spec.style_weight:g}, {ctx.loss_net.info.label()}): "
             f"{len(summary['styles'])} held-out styles × {len(summary['seeds'])} seeds, bands = 95% bootstrap",
             fontsize=10, y=1.03)
fig.tight_layout()
rec.save_fig(fig, "budget_curve")
print(budget.trend_text(summary["trend"], summary["last_step"]))

# %% [markdown]
# ## What the adapted models look like (seed 0, first four held-out styles, the held-out photos)

# %%
from metastyle.data.images import load_image, to_tensor

final = {k: max(s for (i, s) in inits if i == k) for k in ("meta", "plain")}
labels = [("meta", final["meta"], f"θ_meta@{final['meta']}"), ("plain", final["plain"], f"θ_plain@{final['plain']}"),
          ("scratch", 0, "scratch")]
grid_rows, row_labels = [], []
for name, style in ev.styles[:4]:
    for init, step, label in labels:
        img = to_tensor(load_image(cells_dir / f"{budget.Cell(init, step, name, 0).name}.png"))
        parts = list(img.chunk(len(ev.contents), dim=2))
        grid_rows.append([style if init == "meta" else None, *parts])
        row_labels.append(f"{name}\n{label}")
for name, style in ev.styles[: budget.CONVERGE_STYLES]:
    img = to_tensor(load_image(cells_dir / f"{budget.Cell('johnson', 0, name, 0).name}.png"))
    grid_rows.append([style, *img.chunk(len(ev.contents), dim=2)])
    row_labels.append(f"{name}\nJohnson, converged")
fig = notebook.grid_figure(grid_rows, row_labels, ["style", *[n for n, _ in ev.contents]],
                           title=f"after {cfg.adapt.steps} adaptation steps at {cfg.adapt.content_size} px",
                           cell=1.3)
rec.save_fig(fig, "adapted")

# %% [markdown]
# ## M(I_c; θ) from the longest-trained θ (claim 7 on this profile)

# %%
from metastyle.method import nets
from metastyle.method.stylize import stylize
from metastyle.study.metrics import ssim_each

theta, _ = nets.load_model(inits["meta", final["meta"]], ctx.device)
contents = shared.batch(ev.contents)
neutral = stylize(theta, contents)
neutral_ssim = ssim_each(neutral, contents)
fig = notebook.grid_figure([list(contents), list(neutral)], ["photo", f"M(I_c; θ@{final['meta']})"],
                           [f"{n}\nSSIM {v:.2f}" for (n, _), v in zip(ev.contents, neutral_ssim)], cell=1.6)
rec.save_fig(fig, "neutral")

# %%
rec.save_table(pd.DataFrame([{"init": r["init"], "iteration": r["iteration"], "style": s, "ratio_last": v}
                             for r in summary["rows"] for s, v in r["ratio_last_per_style"].items()]),
               "ratio_last_per_style")
from metastyle.infra import files

files.write_json(rec.path("budget_summary.json"), summary)
rec.write_metrics({"budget": summary, "heldout_source": ev.source, "n_styles": len(summary["styles"]),
                   "n_seeds": len(summary["seeds"]), "n_contents": len(ev.contents),
                   "meta_iterations": cfg.meta.iterations, "style_weight": ctx.spec.style_weight,
                   "neutral_ssim_min": float(np.min(neutral_ssim)),
                   "grid_seconds": float(sum(r["seconds"] for r in records))})
rec.metrics["budget"]["converged"]
