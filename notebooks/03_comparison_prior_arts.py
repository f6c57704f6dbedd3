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
# # 03 · Comparison with prior arts (qualitative grid)
# Regenerates: content, style, Gatys, Johnson, MetaStyle and every arbitrary-style method of Table 1 the
# library provides (`metastyle.baselines.arbitrary.METHODS`), on content/style pairs; a visible "not available" panel
# for methods that have not landed. Also the held-out perceptual loss of each method's outputs (a proxy; the
# paper reports no quality number) and the failure-mode stand-ins of claim 6 (`metastyle.study.failure_modes`).
# Each arbitrary-style column says how much training its model had; `make baselines` trains them at their `long`
# schedules and regenerates this notebook under `long`. Writes `comparison.png`, `quality.csv`,
# `failure_modes.csv`, `metrics.json`.

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
import pandas as pd

from metastyle import config
from metastyle.method.stylize import stylize
from metastyle.study import failure_modes, metrics, prior_arts, shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("03_comparison_prior_arts", globals())

# %%
# Gatys, Johnson and MetaStyle at the figure's scale (under long: quick's, prior_arts.FIGURE_PROFILE); the
# arbitrary-style methods at the profile's training schedules
fig_ctx = prior_arts.figure_context(ctx)
theta_path = shared.ensure_theta(fig_ctx.cfg, RUNS_DIR, THETA, ctx=fig_ctx)
ev = shared.eval_images(DATA, DATA_DIR, fig_ctx.cfg, splits=fig_ctx.splits)
n = min(len(ev.contents), len(ev.styles))
pairs = [(ev.contents[i], ev.styles[i]) for i in range(n)]
johnson_steps = config.johnson_steps(fig_ctx.cfg)  # Johnson from scratch, a multiple of MetaStyle's adaptation
from metastyle.baselines import arbitrary

methods = {"Gatys": None, "Johnson": None, "MetaStyle": None}
# the arbitrary-style methods are trained at the profile's scale, cached in RUNS_DIR
methods.update({prior_arts.TABLE1_NAMES.get(k, k): None for k in arbitrary.METHODS})

# %%
outputs = {m: [] for m in methods}
notes = {}
for (_, c), (sname, s) in pairs:
    model, _ = shared.ensure_adapted(theta_path, sname, s, fig_ctx, RUNS_DIR)
    outputs["MetaStyle"].append(stylize(model, c))
    jmodel, jinfo = shared.ensure_adapted(None, sname, s, fig_ctx, RUNS_DIR, steps=johnson_steps)
    outputs["Johnson"].append(stylize(jmodel, c))
    notes["Johnson"] = f"from scratch, {johnson_steps} steps"
    for m in methods:
        if m in ("MetaStyle", "Johnson"):
            continue
        outputs[m].append(prior_arts.run_method(m, c, s, fig_ctx if m == "Gatys" else ctx, runs_dir=RUNS_DIR,
                                                data_dir=DATA_DIR))

# %%
rows = [[c, s, *[outputs[m][i] for m in methods]] for i, ((_, c), (_, s)) in enumerate(pairs)]
# each column says how much training its method got (from its model file): "trained N of the recipe's M it.",
# the training size and minutes (docs/arbitrary.md)
arbitrary_names = [m for m in methods if m not in ("Gatys", "Johnson", "MetaStyle")]
trained = {m: prior_arts.trained(m, ctx, RUNS_DIR) for m in arbitrary_names}
encoders = sorted({t["encoder"] for t in trained.values() if t})
labels = ["content", "style", *[prior_arts.budget_label(m, fig_ctx, johnson_steps=johnson_steps,
                                                         done=trained.get(m)) for m in methods]]
scale = f"{fig_ctx.cfg.adapt.content_size} px, β {fig_ctx.cfg.loss.style_weight:g}"
if fig_ctx is not ctx:
    scale += f" ({fig_ctx.cfg.profile}'s; arbitrary-style methods trained at {PROFILE}'s schedules)"
fig = notebook.grid_figure(rows, [f"{cn} × {sn}" for (cn, _), (sn, _) in pairs], labels,
                        title=f"comparison with prior arts ({PROFILE}; {scale}; loss {ctx.loss_net.info.label()}; "
                              f"arbitrary-style encoders {', '.join(encoders) or 'none'}); column titles: training")
rec.save_fig(fig, "comparison")
for m, note in notes.items():
    print(f"{m}: {note}")

# %%
rows = []
for m in methods:
    losses = [metrics.perceptual(outputs[m][i], c, s, fig_ctx) for i, ((_, c), (_, s)) in enumerate(pairs)]
    rows.append({"method": m, **{k: sum(x[k] for x in losses) / len(losses) for k in ("total", "content", "style")}})
quality = pd.DataFrame(rows)
rec.save_table(quality, "quality")

# %% [markdown]
# Failure-mode stand-ins (claim 6): one number per output and mode, and how many outputs cross each threshold.
# Modes whose stand-in is not convincing stay visual in REPORT.md: compare the named method's column with
# MetaStyle's in `comparison.png`.

# %%
modes = {m: failure_modes.summarise([failure_modes.measure(outputs[m][i], c, s, fig_ctx)
                                     for i, ((_, c), (_, s)) in enumerate(pairs)]) for m in methods}
table = pd.DataFrame([{"method": m, **{f"{k} (shown)": f"{v['shown']}/{v['n']}" for k, v in by.items()},
                       **{k: sum(v["values"]) / v["n"] for k, v in by.items()}} for m, by in modes.items()])
rec.save_table(table, "failure_modes")
rec.write_metrics({"johnson_steps": johnson_steps, "n_pairs": len(pairs), "figure_profile": fig_ctx.cfg.profile,
                   "arbitrary_iterations": {m: t.get("iterations", 0) for m, t in trained.items()},
                   "arbitrary_planned_iterations": {m: prior_arts.planned_iterations(m) or 0 for m in arbitrary_names},
                   "arbitrary_recipe_iterations": {m: prior_arts.arbitrary_budget(m, "paper")[0]
                                                   for m in arbitrary_names},
                   "arbitrary_train_seconds": {m: t.get("seconds", 0.0) for m, t in trained.items()},
                   "arbitrary_train_size": {m: t.get("size") or 0 for m, t in trained.items()},
                   "arbitrary_train_profile": {m: t.get("profile") or "" for m, t in trained.items()},
                   "arbitrary_encoders": encoders,
                   "available": {m: all(o is not None for o in outputs[m]) for m in methods},
                   "heldout_loss": {r["method"]: r["total"] for r in rows},
                   "failure_modes": modes, "failure_mode_rules": failure_modes.rules(),
                   "johnson_train_seconds": jinfo["seconds"]})
table
