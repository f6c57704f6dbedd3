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
# # 12 · Ablations: separate inner/outer contents (claim 10) and the number of inner steps T (claim 11)
# The paper's setting (docs/paper-vs-code.md §6): the inner loss on D_tr contents and the outer loss on separate
# D_val contents, one inner step (T = 1). Each variant changes one of these (one content pool as in the official
# code; T = 2; T = 5), is meta-trained for as many iterations as one of the budget run's snapshots, and is
# compared with that snapshot on the budget grid's held-out styles, seeds and photos (`metastyle.study.ablation`):
# the held-out loss after the last adaptation step, reference / variant, with a 95% bootstrap interval.
# Runs under `make ablations` (profile `long`) after `make long`, whose grid folder it shares; rerunning resumes.
# Writes `ablations.png`, `ablations.csv`, `metrics.json`.

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

from metastyle.study import ablation, budget, shared, stats
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("12_ablations", globals(), takes_theta=False)

# %%
folders = budget.train_inits(ctx, RUNS_DIR)  # the budget run (finished by 11: returns at once)
reference = ablation.iterations(cfg)
variants = ablation.train_variants(ctx, RUNS_DIR)
inits = {("meta", reference): budget.init_paths(folders)["meta", reference],
         **{(k, reference): p for k, p in variants.items()}}
print(f"variants trained for {reference} meta-iterations:", {k: str(p) for k, p in variants.items()})

# %%
ev = budget.heldout_set(DATA, DATA_DIR, cfg, ctx.splits)
print(f"held-out set: {ev.source}")
records = budget.run_grid(ctx, inits, ev.styles, shared.train_contents(ctx), shared.batch(ev.contents),
                          budget.cells_dir(cfg, RUNS_DIR, DATA))
summary = ablation.summarize(records, reference)
table = pd.DataFrame([{"variant": k, "reference / variant": stats.fmt(v), "value": v["value"], "lo": v["lo"],
                       "hi": v["hi"]} for k, v in summary["ratio"].items()])
rec.save_table(table, "ablations")
table

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.2))
names = list(summary["ratio"])
vals = [summary["ratio"][k] for k in names]
ax.errorbar(range(len(names)), [v["value"] for v in vals],
            yerr=[[v["value"] - v["lo"] for v in vals], [v["hi"] - v["value"] for v in vals]], fmt="o", capsize=4)
ax.axhline(1, color="k", lw=0.8, ls="--")
ax.set_xticks(range(len(names)), [f"vs {n}" for n in names])
ax.set_ylabel(f"held-out loss at step {summary['last_step']}\nsplit, T=1 / variant")
ax.set_title(f"ablations at {reference} meta-iterations ({PROFILE}): {len(summary['styles'])} styles × "
             f"{len(summary['seeds'])} seeds, 95% bootstrap", fontsize=9)
rec.save_fig(fig, "ablations")

# %%
rec.write_metrics({"ablation": summary, "variant_iterations": reference, "heldout_source": ev.source})
rec.metrics["ablation"]["ratio"]
