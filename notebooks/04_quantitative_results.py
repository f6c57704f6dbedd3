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
# # 04 · Quantitative results (Table 1 and the Motivation table)
# Regenerates: Table 1 (Param, 256 (s), 512 (s), # Styles) **measured here** — MetaStyle (an adapted model) and
# Johnson (a separately trained model) always timed in this notebook, independently and interleaved (batch 1,
# warm-up, best of N); the other methods from the bench suite's `results/bench/*.json` when present (medians;
# ratios there are to the bench's own transformer), otherwise timed here — beside **the paper's numbers
# (reference data from the paper's Table 1, `metastyle.study.timing.PAPER_TABLE1`, not measured here)**, with ratio
# columns relative to MetaStyle (compare ratios, not absolutes; the device is named); the Motivation table
# (speed, flexibility = time to support a new style, quality) and a trade-off plot.
# Writes `table1.csv/.md`, `motivation.csv/.md`, `tradeoff.png`, `metrics.json`.

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

from metastyle import config
from metastyle.study import prior_arts, shared, timing
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("04_quantitative_results", globals())

# %%
from metastyle.infra import runtime
from metastyle.study import results

paper = timing.paper_table1()  # the paper's Table 1: reference numbers from the authors' GPU, not measured here
reps = config.study_sizes(PROFILE).timing_reps
bench = timing.read_bench(RESULTS_DIR)  # a malformed bench file is an error, never skipped
# Claim 2: an adapted model and a separately trained Johnson model (the ones of 02/03, cached), timed independently
theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
sname, style_img = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits).styles[0]
johnson_steps = config.johnson_steps(cfg)  # the Johnson model of 03
timed = {"MetaStyle": shared.ensure_adapted(theta_path, sname, style_img, ctx, RUNS_DIR)[0],
         "Johnson": shared.ensure_adapted(None, sname, style_img, ctx, RUNS_DIR, steps=johnson_steps)[0]}
# Gatys: the full budget under `paper`; under `quick` a few iterations timed and scaled to the budget
# (labelled), under smoke 1 iteration, not scaled (timing.rescale_gatys)
budget = prior_arts.gatys_iterations(PROFILE)
here = timing.time_methods(ctx, timed, sizes=(256, 512), reps=reps, gatys_steps=timing.gatys_timed_steps(PROFILE),
                           arbitrary_methods=config.study_sizes(PROFILE).time_arbitrary)
here["source"] = f"timed in this notebook (batch 1, warm-up, best of {reps})"
here["device"] = runtime.device_name(ctx.device)
here = timing.rescale_gatys(here, PROFILE, budget)
if bench is not None:  # the bench suite's numbers first; methods it lacks (or failed) are timed here
    measured, source, bench_device = bench
    measured["source"], measured["device"] = source, bench_device
    measured = measured[measured.method == timing.BENCH_TRANSFORMER].pipe(lambda b: pd.concat(
        [b, measured[(measured.method != timing.BENCH_TRANSFORMER) & measured.measured_256_s.notna()]]))
    measured = pd.concat([measured, here[~here.method.isin(measured.method)]], ignore_index=True)
else:
    notebook.show_unavailable("bench suite results (results/bench/*.json)", "timed here instead, same protocol")
    measured = here
device = "; ".join(sorted(set(measured.device)))
print("devices:", device)
measured

# %%
# ratios to MetaStyle within one source (bench rows: to the bench's transformer), never across protocols
t1 = timing.add_ratios(paper.merge(measured, on="method", how="outer"))
rec.save_table(t1, "table1")
t1

# %% [markdown]
# ## Motivation table: speed, flexibility (time to support a new style), quality

# %%
q = results.read_metrics(RESULTS_DIR, "03_comparison_prior_arts", PROFILE)
a = results.read_metrics(RESULTS_DIR, "02_adaptation", PROFILE)
if not q or not a:
    notebook.show_unavailable("quality and adaptation numbers", "run notebooks 02 and 03 first (same profile)")
# time to support a new style: none for Gatys and the arbitrary-style methods (no per-style training); a method
# with no value here is NaN, labelled in the plot, never a silent 0
flex = {"Gatys": 0.0, **{name: 0.0 for name in prior_arts.TABLE1_NAMES.values()},
        "Johnson": q.get("johnson_train_seconds", float("nan")), "MetaStyle": a.get("adapt_seconds_mean", float("nan"))}
rows = []
for _, r in t1.iterrows():
    if pd.isna(r.get("measured_256_s")) or r.method == timing.BENCH_TRANSFORMER:
        continue
    rows.append({"method": r.method, "speed_256_s": r.measured_256_s,
                 "flexibility_s": flex.get(r.method, float("nan")),
                 "quality_heldout_loss": q.get("heldout_loss", {}).get(r.method, float("nan"))})
motivation = pd.DataFrame(rows)
rec.save_table(motivation, "motivation")
fig, ax = plt.subplots(figsize=(5, 3.5))
no_q = motivation[motivation.quality_heldout_loss.isna()].method.tolist()
for _, r in motivation[motivation.quality_heldout_loss.notna()].iterrows():  # a missing value is never drawn at 0
    known = pd.notna(r.flexibility_s)  # unknown time to add a style: a hollow red marker, labelled
    hollow = {} if known else {"facecolors": "none", "edgecolors": "tab:red"}
    ax.scatter(r.speed_256_s, r.quality_heldout_loss, s=30 + 10 * (r.flexibility_s if known else 0) ** 0.5, **hollow)
    label = r.method if known else f"{r.method} (time to add a style: n/a)"
    ax.annotate(label, (r.speed_256_s, r.quality_heldout_loss), fontsize=8)
if no_q:
    ax.text(0.01, 0.01, "no quality value (not plotted): " + ", ".join(no_q), transform=ax.transAxes, fontsize=7,
            color="tab:red")
ax.set_xscale("log"), ax.set_xlabel("seconds per 256² image (measured)")
ax.set_ylabel("held-out perceptual loss (lower = better)")
ax.set_title(f"speed / quality trade-off (marker size ~ time to add a style)\n{device}", fontsize=8)
rec.save_fig(fig, "tradeoff")
motivation


# %%
def val(method, col):
    v = t1.loc[t1.method == method, col]
    return float(v.iloc[0]) if len(v) and pd.notna(v.iloc[0]) else None
m = {"device_is_gpu": ctx.device.type == "cuda", "n_params_metastyle": val("MetaStyle", "measured_param"),
     # claim 2's rule reads this: the two rows are two trained networks timed in this notebook, interleaved
     "johnson_timing": f"independent: {sname}-adapted θ vs Johnson trained {johnson_steps} steps, best of {reps}"}
for meth in t1.method:
    for s in ("256", "512"):
        x = val(meth, f"measured_{s}_ratio")
        if x is not None:
            m[f"ratio_{s}_{meth}"] = x
        x = val(meth, f"measured_{s}_s")
        if x is not None:
            m[f"seconds_{s}_{meth}"] = x
rec.write_metrics({k: v for k, v in m.items() if v is not None})
rec.metrics
