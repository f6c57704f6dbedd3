"""Generate the study's notebooks (``python notebooks/build.py``): the .ipynb files are build outputs of this
script, committed with outputs stripped so that diffs stay reviewable as Python here.

Every notebook: a markdown title saying what it regenerates, one ``parameters`` cell of scalars, a setup
cell (``notebook.setup``), then calls into ``metastyle`` and the outputs (``Recorder``: figures, tables,
``metrics.json``, ``run.json``). No model, loss or training loop is defined in a notebook.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMS = '''PROFILE = "quick"  # smoke, quick or paper
DATA = "embedded"  # figure images: embedded, examples or a folder with content and style subfolders
DATA_DIR = "data/examples"  # folder with content and style subfolders, used when DATA is examples
OUT_DIR = ""  # set by the runner; empty means results, notebook, profile
RUNS_DIR = "runs"  # checkpoint cache shared by the notebooks
RESULTS_DIR = "results"  # root of all notebook outputs, read by 04 and 10
SEED = 0  # 0 keeps the profile seed, official 12345
THETA = ""  # path of a meta-trained theta to use instead of the cached one'''


def setup(nb: str) -> str:
    return f'''%matplotlib inline
import matplotlib.pyplot as plt
import pandas as pd
import torch
from metastyle.infra import checkpoint
from metastyle.method import nets
from metastyle.method.stylize import stylize
from metastyle.study import compare, evaluation, notebook, prior_arts, shared, timing

NB = "{nb}"
cfg, ctx, rec = notebook.setup(NB, PROFILE, SEED, OUT_DIR, DATA, RESULTS_DIR)
torch.manual_seed(cfg.run.seed)'''


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["00_setup_and_data"] = [
    ("md", """# 00 · Setup and data
Regenerates: the environment record (package, versions, device), the **loss-network status**, the data
sources and splits of the profile, and a preview grid of training / held-out images.
Writes `splits.csv`, `preview.png`, `metrics.json`, `run.json`."""),
    ("code", setup("00_setup_and_data")),
    ("code", '''import json, metastyle
from metastyle.infra import runtime
from metastyle.method.nets import TransformerNet, count_parameters
print("metastyle:", metastyle.__file__)
print(json.dumps(runtime.provenance(ctx.device), indent=1))
info = ctx.loss_net.info
print("LOSS NETWORK:", info.label(), "| source:", info.source)'''),
    ("md", "## Data sources and splits (meta-training always uses the profile's data; DATA picks the figures)"),
    ("code", '''sp = ctx.splits
splits = pd.DataFrame([{"part": k, "count": len(v), "examples": ", ".join(v[:4])} for k, v in sp.names().items()])
rec.save_table(splits, "splits")
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=sp)
print("meta-training contents:", cfg.data.content, "| styles:", cfg.data.style, "| figures:", ev.source)
splits'''),
    ("code", '''from metastyle.data.sets import content_set, style_set
k = 4
rows = [list(content_set(sp.content_train[:k], cfg.data.content_size).all()),
        list(style_set(sp.style_train[:k], cfg.data.style_size).all()),
        [x for _, x in ev.contents[:k]], [x for _, x in ev.styles[:k]]]
fig = notebook.grid_figure(rows, ["train contents", "train styles", "eval contents", "eval styles"],
                        title=f"data preview ({PROFILE}; figures: {DATA})")
rec.save_fig(fig, "preview")'''),
    ("code", '''from metastyle.method.nets import is_instance_norm
net = TransformerNet()
rec.write_metrics({"n_params": count_parameters(net), "n_in_params": count_parameters(net, is_instance_norm),
                   "loss_net_pretrained": info.pretrained, "loss_net_fallback": info.fallback,
                   **{f"n_{k}": len(v) for k, v in sp.names().items()},
                   "n_eval_contents": len(ev.contents), "n_eval_styles": len(ev.styles)})
rec.metrics'''),
]
NOTEBOOKS["01_meta_training"] = [
    ("md", """# 01 · Meta-training θ (Algorithm 1)
Regenerates: the meta-trained initialisation θ (`runs/meta-<profile>-<config key>/theta.pt`, one folder per
config, reused when finished, resumed when not, or `THETA`), and the inner (support, before the update) / outer (query, after adaptation) loss
curves from `log.csv`. Writes `meta_curves.png`, `metrics.json`."""),
    ("code", setup("01_meta_training")),
    ("code", '''import time
from pathlib import Path
from metastyle.infra.runlog import read_csv
t0 = time.perf_counter()
theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
print("theta:", theta_path, f"({time.perf_counter() - t0:.1f} s here)")
meta = shared.theta_meta(theta_path)
print("made with loss network:", meta.get("loss_net", {}).get("name"), "| step:", meta.get("step"))'''),
    ("code", '''log_path = Path(theta_path).parent / "log.csv"
if log_path.is_file():
    log = pd.DataFrame(read_csv(log_path)).astype(float)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    w = max(1, len(log) // 20)
    for ax, part in zip(axes, ["loss", "content", "style"]):
        for kind, colour in (("inner", "tab:blue"), ("query", "tab:orange")):
            y = log[f"{kind}_{part}"]
            ax.plot(log.step, y, color=colour, alpha=0.3)
            ax.plot(log.step, y.rolling(w, min_periods=1).mean(), color=colour,
                    label=f"{'inner (support, before update)' if kind == 'inner' else 'outer (query, after adaptation)'}")
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
rec.metrics'''),
]

NOTEBOOKS["02_adaptation"] = [
    ("md", """# 02 · Adaptation ("Framework" figure)
Regenerates: the style-free representation M(I_c; θ) and θ adapted to 4 unseen styles, shown on 4 contents
(paper Fig. 2; with `DATA=examples`: lenna, golden_gate, modern, sailboat × la_muse, scene_de_rue,
woman_with_hat_matisse, en_campo_gris), and the held-out-content loss against adaptation step from θ vs from a
random init (and from θ_plain, beyond the paper). Writes `framework.png`, `adaptation_curves.png`, `adaptation_curves.csv`, `metrics.json`."""),
    ("code", setup("02_adaptation")),
    ("code", '''theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
theta, _ = nets.load_model(theta_path, ctx.device)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
contents = shared.batch(ev.contents)
neutral = stylize(theta, contents)
adapted, seconds = {}, []
for name, style in ev.styles:
    model, info = shared.ensure_adapted(theta_path, name, style, ctx, RUNS_DIR)
    adapted[name] = model
    seconds.append(info["seconds"])
    print(f"{name}: {cfg.adapt.steps} steps, {info['seconds']:.1f} s{' (cached)' if info['cached'] else ''}")'''),
    ("code", '''rows = [[None, *contents], [None, *neutral]]
for name, style in ev.styles:
    rows.append([style, *stylize(adapted[name], contents)])
fig = notebook.grid_figure(rows, ["content", "M(I_c; θ)", *[n for n, _ in ev.styles]],
                        ["style", *[n for n, _ in ev.contents]],
                        title=f"Framework: style-free representation and {cfg.adapt.steps}-step adaptations")
rec.save_fig(fig, "framework")'''),
    ("md", """## Loss vs adaptation step on held-out contents: from θ, from θ_plain and from scratch
θ_plain (beyond the paper) is the same network trained on the same styles and contents for the same
iterations × tasks × batches by ordinary multi-style training, with no inner loop (`metastyle.baselines.plain`,
docs/baselines.md). All three inits are adapted with the same steps to held-out styles and scored on held-out
contents. Claims 3 and 4 read θ vs scratch; claim 12 compares θ and θ_plain at the first evaluated step after
0 and at the last."""),
    ("code", '''import time
from pathlib import Path
from metastyle.baselines import plain
from metastyle.baselines.johnson import random_init
from metastyle.infra.runlog import read_csv
t0 = time.perf_counter()
plain_path = plain.ensure_plain(ctx, RUNS_DIR)
theta_plain, _ = nets.load_model(plain_path, ctx.device)
print("theta_plain:", plain_path, f"({time.perf_counter() - t0:.1f} s here)")
logs = {"meta": Path(theta_path).parent / "log.csv", "plain": Path(plain_path).parent / "log.csv"}
train_s = {k: sum(float(r["seconds"]) for r in read_csv(p)) for k, p in logs.items() if p.is_file()}
print("training wall time from log.csv (s):", {k: round(v, 1) for k, v in train_s.items()})
# three inits x n_cmp styles x adapt.steps: all evaluation styles under `paper`, two on 2 CPU cores
n_cmp = {"smoke": 1, "quick": 2}.get(PROFILE, len(ev.styles))
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
cmp.round(4)'''),
    ("code", '''last, first = cmp[cmp.step == cmp.step.max()], cmp[cmp.step == 0]
t_final = last[last.init == "meta"].loss.mean()
s_final = last[last.init == "scratch"].loss.mean()
t0_loss = first[first.init == "meta"].loss.mean()
summary = compare.summarize(cmp.to_dict("records"), compare.comparison_steps(cfg.adapt.steps))
rec.write_metrics({"adapt_steps": cfg.adapt.steps, "adapt_seconds_mean": sum(seconds) / len(seconds),
                   "heldout_loss_theta_step0": t0_loss, "heldout_loss_theta_final": t_final,
                   "heldout_loss_scratch_final": s_final, "final_ratio_theta_over_scratch": t_final / s_final,
                   "theta_improvement_ratio": t_final / t0_loss, "n_styles": n_cmp,
                   "n_contents": len(ev.contents), "meta_vs_plain": summary, "plain_iterations": cfg.meta.iterations,
                   **{f"{k}_train_seconds": v for k, v in train_s.items()}})
pd.DataFrame({s: {f"{i} @ step {st}": v for i, vs in d.items() for st, v in zip(summary["steps"], vs)}
              for s, d in summary["styles"].items()}).round(4)'''),
]

NOTEBOOKS["03_comparison_prior_arts"] = [
    ("md", """# 03 · Comparison with prior arts (qualitative grid)
Regenerates: content, style, Gatys, Johnson, MetaStyle and every arbitrary-style method of Table 1 the
library provides (`metastyle.baselines.arbitrary.METHODS`), on content/style pairs; a visible "not available" panel
for methods that have not landed. Also the held-out perceptual loss of each method's outputs (a proxy; the
paper reports no quality number). Writes `comparison.png`, `quality.csv`, `metrics.json`."""),
    ("code", setup("03_comparison_prior_arts")),
    ("code", '''theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
n = min(len(ev.contents), len(ev.styles))
pairs = [(ev.contents[i], ev.styles[i]) for i in range(n)]
johnson_steps = 2 * cfg.adapt.steps  # Johnson trained from scratch, twice MetaStyle's adaptation budget
from metastyle.baselines import arbitrary
methods = {"Gatys": None, "Johnson": None, "MetaStyle": None}
# the arbitrary-style methods are trained at the profile's scale, cached in RUNS_DIR
methods.update({prior_arts.TABLE1_NAMES.get(k, k): None for k in arbitrary.METHODS})'''),
    ("code", '''outputs = {m: [] for m in methods}
notes = {}
for (cname, c), (sname, s) in pairs:
    model, _ = shared.ensure_adapted(theta_path, sname, s, ctx, RUNS_DIR)
    outputs["MetaStyle"].append(stylize(model, c))
    jmodel, jinfo = shared.ensure_adapted(None, sname, s, ctx, RUNS_DIR, steps=johnson_steps)
    outputs["Johnson"].append(stylize(jmodel, c))
    notes["Johnson"] = f"from scratch, {johnson_steps} steps"
    for m in methods:
        if m in ("MetaStyle", "Johnson"):
            continue
        outputs[m].append(prior_arts.run_method(m, c, s, ctx, runs_dir=RUNS_DIR))'''),
    ("code", '''cols = ["content", "style", *methods]
rows = [[c, s, *[outputs[m][i] for m in methods]] for i, ((_, c), (_, s)) in enumerate(pairs)]
# each column says how much training its method got: below `paper` the arbitrary-style networks get a few
# dozen iterations of their recipes' tens of thousands (docs/arbitrary.md)
labels = ["content", "style", *[prior_arts.budget_label(m, ctx, johnson_steps=johnson_steps) for m in methods]]
fig = notebook.grid_figure(rows, [f"{cn} × {sn}" for (cn, _), (sn, _) in pairs], labels,
                        title=f"comparison with prior arts ({PROFILE}; {ctx.loss_net.info.label()}); "
                              "column titles: training budget")
for j, m in enumerate(methods):
    for i in range(len(pairs)):
        if outputs[m][i] is None:
            notebook.unavailable_panel(fig.axes[i * len(cols) + j + 2], f"{m}: not available")
rec.save_fig(fig, "comparison")
for m, note in notes.items():
    print(f"{m}: {note}")'''),
    ("code", '''rows = []
for m in methods:
    if any(o is None for o in outputs[m]):
        continue
    losses = [evaluation.image_loss(outputs[m][i], c, s, ctx) for i, ((_, c), (_, s)) in enumerate(pairs)]
    rows.append({"method": m, **{k: sum(l[k] for l in losses) / len(losses) for k in ("total", "content", "style")}})
quality = pd.DataFrame(rows)
rec.save_table(quality, "quality")
budgets = {m: prior_arts.arbitrary_budget(m, PROFILE) for m in methods if m not in ("Gatys", "Johnson", "MetaStyle")}
rec.write_metrics({"johnson_steps": johnson_steps, "n_pairs": len(pairs),
                   "arbitrary_iterations": {m: b[0] for m, b in budgets.items()},
                   "arbitrary_recipe_iterations": {m: b[1] for m, b in budgets.items()},
                   "available": {m: all(o is not None for o in outputs[m]) for m in methods},
                   "heldout_loss": {r["method"]: r["total"] for r in rows},
                   "johnson_train_seconds": jinfo["seconds"]})
quality'''),
]

NOTEBOOKS["04_quantitative_results"] = [
    ("md", """# 04 · Quantitative results (Table 1 and the Motivation table)
Regenerates: Table 1 (Param, 256 (s), 512 (s), # Styles) **measured here** — MetaStyle (an adapted model) and
Johnson (a separately trained model) always timed in this notebook, independently and interleaved (batch 1,
warm-up, best of N); the other methods from the bench suite's `results/bench/*.json` when present (medians;
ratios there are to the bench's own transformer), otherwise timed here — beside **the paper's numbers (reference data from PAPER.md §E.3, not measured here)**, with ratio
columns relative to MetaStyle (compare ratios, not absolutes; the device is named); the Motivation table
(speed, flexibility = time to support a new style, quality) and a trade-off plot.
Writes `table1.csv/.md`, `motivation.csv/.md`, `tradeoff.png`, `metrics.json`."""),
    ("code", setup("04_quantitative_results")),
    ("code", '''from metastyle.infra import runtime
from metastyle.study import results
PAPER_TABLE1 = pd.DataFrame([  # the paper's Table 1 (reference data, PAPER.md §E.3), on the authors' GPU
    ("Gatys", None, 7.7428, 27.0517, "inf"), ("Johnson", 1.68e6, 0.0044, 0.0146, "1"),
    ("WCT", 34.23e6, 0.6887, 1.2335, "inf"), ("AdaIN", 7.01e6, 0.0165, 0.0320, "inf"),
    ("MetaNetworks", 219.32e6, 0.0045, 0.0147, "inf"), ("AvatarNet", 147.22e6, 0.5089, 0.6088, "inf"),
    ("StyleSwap", 1.48e6, 0.2679, 1.0890, "inf"), ("MetaStyle", 1.68e6, 0.0047, 0.0145, "inf*")],
    columns=["method", "paper_param", "paper_256_s", "paper_512_s", "styles"])
reps = 1 if PROFILE == "smoke" else 7
bench = timing.read_bench(RESULTS_DIR)  # a malformed bench file is an error, never skipped
# Claim 2: an adapted model and a separately trained Johnson model (the ones of 02/03, cached), timed independently
theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
sname, style_img = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits).styles[0]
timed = {"MetaStyle": shared.ensure_adapted(theta_path, sname, style_img, ctx, RUNS_DIR)[0],
         "Johnson": shared.ensure_adapted(None, sname, style_img, ctx, RUNS_DIR, steps=2 * cfg.adapt.steps)[0]}
smoke = PROFILE == "smoke"  # smoke: the transformer and a 1-iteration Gatys only (CI time)
# Gatys: the full budget under `paper`; on CPU (`quick`) a full 512 px L-BFGS run takes many minutes, so a few
# iterations are timed and scaled to the budget (labelled); smoke times 1 iteration and does not scale.
budget = prior_arts.gatys_iterations(PROFILE)
g_steps = 1 if smoke else (5 if PROFILE == "quick" else None)
here = timing.time_methods(ctx, timed, sizes=(256, 512), reps=reps, gatys_steps=g_steps, arbitrary_methods=not smoke)
here["source"], here["device"] = f"timed in this notebook (batch 1, warm-up, best of {reps})", runtime.device_name(ctx.device)
gatys_rows = (here.method == "Gatys") & here.measured_256_s.notna()
if smoke:
    here.loc[gatys_rows, "source"] += ", 1 iteration only (smoke)"
elif g_steps:
    here.loc[gatys_rows, ["measured_256_s", "measured_512_s"]] *= budget / g_steps
    here.loc[gatys_rows, "source"] += f", {g_steps} L-BFGS iterations timed, scaled to the {budget}-iteration budget"
else:
    here.loc[gatys_rows, "source"] += f", {budget} L-BFGS iterations"
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
measured'''),
    ("code", '''# ratios to MetaStyle within one source (bench rows: to the bench's transformer), never across protocols
t1 = timing.add_ratios(PAPER_TABLE1.merge(measured, on="method", how="outer"))
ms = t1[t1.method == "MetaStyle"].iloc[0]
for s in ("256", "512"):
    t1[f"paper_{s}_ratio"] = t1[f"paper_{s}_s"] / ms[f"paper_{s}_s"]
rec.save_table(t1, "table1")
t1'''),
    ("md", "## Motivation table: speed, flexibility (time to support a new style), quality"),
    ("code", '''q = results.read_metrics(RESULTS_DIR, "03_comparison_prior_arts", PROFILE)
a = results.read_metrics(RESULTS_DIR, "02_adaptation", PROFILE)
if not q or not a:
    notebook.show_unavailable("quality and adaptation numbers", "run notebooks 02 and 03 first (same profile)")
flex = {"Gatys": 0.0, "Johnson": q.get("johnson_train_seconds", float("nan")),
        "MetaStyle": a.get("adapt_seconds_mean", float("nan"))}
rows = []
for _, r in t1.iterrows():
    if pd.isna(r.get("measured_256_s")) or r.method == timing.BENCH_TRANSFORMER:
        continue
    rows.append({"method": r.method, "speed_256_s": r.measured_256_s,
                 "flexibility_s": flex.get(r.method, 0.0),
                 "quality_heldout_loss": q.get("heldout_loss", {}).get(r.method, float("nan"))})
motivation = pd.DataFrame(rows)
rec.save_table(motivation, "motivation")
fig, ax = plt.subplots(figsize=(5, 3.5))
no_q = motivation[motivation.quality_heldout_loss.isna()].method.tolist()
for _, r in motivation[motivation.quality_heldout_loss.notna()].iterrows():  # a missing value is never drawn at 0
    ax.scatter(r.speed_256_s, r.quality_heldout_loss, s=30 + 10 * (r.flexibility_s if pd.notna(r.flexibility_s) else 0) ** 0.5)
    ax.annotate(r.method, (r.speed_256_s, r.quality_heldout_loss), fontsize=8)
if no_q:
    ax.text(0.01, 0.01, "no quality value (not plotted): " + ", ".join(no_q), transform=ax.transAxes, fontsize=7, color="tab:red")
ax.set_xscale("log"), ax.set_xlabel("seconds per 256² image (measured)"), ax.set_ylabel("held-out perceptual loss (lower = better)")
ax.set_title(f"speed / quality trade-off (marker size ~ time to add a style)\\n{device}", fontsize=8)
rec.save_fig(fig, "tradeoff")
motivation'''),
    ("code", '''def val(method, col):
    v = t1.loc[t1.method == method, col]
    return float(v.iloc[0]) if len(v) and pd.notna(v.iloc[0]) else None
m = {"device_is_gpu": ctx.device.type == "cuda", "n_params_metastyle": val("MetaStyle", "measured_param"),
     # claim 2's rule reads this: the two rows are two trained networks timed in this notebook, interleaved
     "johnson_timing": f"independent: {sname}-adapted θ vs Johnson trained {2 * cfg.adapt.steps} steps, best of {reps}"}
for meth in t1.method:
    for s in ("256", "512"):
        x = val(meth, f"measured_{s}_ratio")
        if x is not None:
            m[f"ratio_{s}_{meth}"] = x
        x = val(meth, f"measured_{s}_s")
        if x is not None:
            m[f"seconds_{s}_{meth}"] = x
rec.write_metrics({k: v for k, v in m.items() if v is not None})
rec.metrics'''),
]

NOTEBOOKS["05_style_interpolation"] = [
    ("md", """# 05 · Style interpolation
Regenerates: convex combinations of the weights of two adapted models (paper figure: sailboat, sketch →
mondrian, 6 intermediates; with `DATA=embedded`: a held-out content and two evaluation styles), a four-style
bilinear grid, and the interactive widget (`metastyle.app.widget.interpolation_widget`) when available.
Writes `interpolation.png`, `interpolation_grid.png`, `metrics.json`."""),
    ("code", setup("05_style_interpolation")),
    ("code", '''theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits, contents=shared.INTERPOLATION[:1],
                       styles=shared.INTERPOLATION[1:])
(cname, content), (na, sa), (nb, sb) = ev.contents[0], ev.styles[0], ev.styles[1]
ma, _ = shared.ensure_adapted(theta_path, na, sa, ctx, RUNS_DIR)
mb, _ = shared.ensure_adapted(theta_path, nb, sb, ctx, RUNS_DIR)
mix = evaluation.convex_combination  # metastyle.method.interpolate.blend over whole models
lams = [i / 7 for i in range(8)]  # both ends plus 6 intermediates
outs = [stylize(mix([ma, mb], [1 - l, l]), content) for l in lams]
fig = notebook.grid_figure([[content, sa, *outs, sb]], [],
                        [cname, na, *[f"λ={l:.2f}" for l in lams], nb], title="convex combination of adapted models")
rec.save_fig(fig, "interpolation")'''),
    ("code", '''to_a = [evaluation.image_loss(o, content, sa, ctx)["style"] for o in outs]
to_b = [evaluation.image_loss(o, content, sb, ctx)["style"] for o in outs]
steps = [evaluation.temporal_change(torch.cat([outs[i], outs[i + 1]])) for i in range(len(outs) - 1)]
viol_b = sum(1 for i in range(len(to_b) - 1) if to_b[i + 1] > to_b[i])
viol_a = sum(1 for i in range(len(to_a) - 1) if to_a[i + 1] < to_a[i])
pd.DataFrame({"lambda": lams, "style_loss_to_A": to_a, "style_loss_to_B": to_b})'''),
    ("code", '''ev4 = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits, n_styles=4)
if len(ev4.styles) >= 4:
    corners = [shared.ensure_adapted(theta_path, n, s, ctx, RUNS_DIR)[0] for n, s in ev4.styles[:4]]
    k = 3 if PROFILE == "smoke" else 5
    grid = []
    for i in range(k):
        row = []
        for j in range(k):
            u, v = i / (k - 1), j / (k - 1)
            w = [(1 - u) * (1 - v), (1 - u) * v, u * (1 - v), u * v]
            row.append(stylize(mix(corners, w), content))
        grid.append(row)
    fig = notebook.grid_figure(grid, title=f"four-style interpolation: {', '.join(n for n, _ in ev4.styles[:4])} (corners)")
    rec.save_fig(fig, "interpolation_grid")
else:
    notebook.show_unavailable("four-style grid", f"only {len(ev4.styles)} evaluation styles in profile {PROFILE}")'''),
    ("code", '''from metastyle.app.widget import interpolation_widget
display(interpolation_widget({na: ma, nb: mb}, content, theta=theta_path, size=cfg.adapt.content_size))
rec.write_metrics({"n_lambdas": len(lams), "style_loss_to_B_violations": viol_b, "style_loss_to_A_violations": viol_a,
                   "style_loss_to_B_start": to_b[0], "style_loss_to_B_end": to_b[-1],
                   "max_step_change": max(steps), "median_step_change": sorted(steps)[len(steps) // 2],
                   "four_style_grid": len(ev4.styles) >= 4})
rec.metrics'''),
]

NOTEBOOKS["06_video_style_transfer"] = [
    ("md", """# 06 · Video style transfer
Regenerates: an adapted model applied frame by frame (no temporal constraint) to the embedded synthetic clip,
five consecutive stylised frames, and temporal-consistency numbers against the input clip and per-frame Gatys
(when available). Writes `video_frames.png`, `temporal.csv`, `metrics.json`."""),
    ("code", setup("06_video_style_transfer")),
    ("code", '''theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
sname, style = ev.styles[0]
model, _ = shared.ensure_adapted(theta_path, sname, style, ctx, RUNS_DIR)
from metastyle.study import temporal
S = cfg.adapt.content_size
sc = temporal.synthetic_clip(n_frames=8, size=(S, S), motion="pan", seed=cfg.run.seed)
clip = torch.from_numpy(sc.frames).permute(0, 3, 1, 2).float() / 255
clip_src = "metastyle.study.temporal.synthetic_clip (pan over an embedded photo)"
frames = stylize(model, clip)
fig = notebook.grid_figure([list(clip[:5]), list(frames[:5])], ["input", f"adapted ({sname})"],
                        [f"t={t}" for t in range(5)], title=f"frame-by-frame stylisation ({clip_src})")
rec.save_fig(fig, "video_frames")'''),
    ("code", '''rows = [{"method": "input", "mean_abs_frame_diff": evaluation.temporal_change(clip)},
        {"method": "MetaStyle (per frame)", "mean_abs_frame_diff": evaluation.temporal_change(frames)}]
g_steps = 2 if PROFILE == "smoke" else min(prior_arts.gatys_iterations(PROFILE), 20)  # per frame: bounded for CPU
g = torch.cat([prior_arts.run_method("Gatys", f[None], style, ctx, steps=g_steps) for f in clip])
rows.append({"method": "Gatys (per frame)", "mean_abs_frame_diff": evaluation.temporal_change(g)})
tab = pd.DataFrame(rows)
tab["ratio_to_input"] = tab.mean_abs_frame_diff / tab.mean_abs_frame_diff[0]
tm = temporal.temporal_metrics(list(clip), list(frames))
extra = {"flicker_ratio_metastyle": tm.flicker_ratio, "warp_mse_metastyle": tm.warp_mse,
         "warp_mse_input": temporal.temporal_metrics(list(clip), list(clip)).warp_mse}
tab["warp_mse"] = [extra["warp_mse_input"], tm.warp_mse] + [None] * (len(tab) - 2)
rec.save_table(tab, "temporal")
rec.write_metrics({"frames": len(clip), "instability_ratio_metastyle": float(tab.ratio_to_input[1]), **extra,
                   **({"instability_ratio_gatys": float(tab.ratio_to_input[2])} if len(tab) > 2 else {})})
tab'''),
]

NOTEBOOKS["07_representation"] = [
    ("md", """# 07 · Investigating the representation M(I_c; θ)
Regenerates: the un-adapted outputs M(I_c; θ) for several contents beside the contents and the adapted
outputs, with statistics: colour statistics, SSIM to the content (every content), the style loss to each
evaluation style of θ's output vs of the content itself, and the same ratio for every *training* style
(claim 7's style-neutral rule: no ratio below 1).
Writes `representation.png`, `representation_stats.csv`, `metrics.json`."""),
    ("code", setup("07_representation")),
    ("code", '''theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
theta, _ = nets.load_model(theta_path, ctx.device)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
contents = shared.batch(ev.contents)
neutral = stylize(theta, contents)
adapted = {n: stylize(shared.ensure_adapted(theta_path, n, s, ctx, RUNS_DIR)[0], contents) for n, s in ev.styles}
rows = [list(contents), list(neutral), *[list(v) for v in adapted.values()]]
fig = notebook.grid_figure(rows, ["content", "M(I_c; θ)", *adapted], [n for n, _ in ev.contents],
                        title="the style-free representation vs contents and adapted outputs")
rec.save_fig(fig, "representation")'''),
    ("code", '''stats = []
for label, imgs in [("content", contents), ("M(I_c;θ)", neutral), *[(f"adapted:{k}", v) for k, v in adapted.items()]]:
    row = {"images": label, **evaluation.colour_stats(imgs), "ssim_to_content": evaluation.ssim(imgs, contents)}
    for sn, s in ev.styles:
        row[f"style_loss:{sn}"] = evaluation.image_loss(imgs, contents, s, ctx)["style"]
    stats.append(row)
stats = pd.DataFrame(stats)
rec.save_table(stats, "representation_stats")
sl = [c for c in stats.columns if c.startswith("style_loss:")]
content_sl, neutral_sl = stats.iloc[0][sl].astype(float), stats.iloc[1][sl].astype(float)
adapted_ssim = stats.iloc[2:].ssim_to_content.mean()
# claim 7 (rule in metastyle/report.py): every content's SSIM, and the Gram distance of M(I_c;θ) to every
# training style relative to the content's own (< 1: θ's rendering leans toward that style)
from metastyle.data.sets import style_set
from metastyle.study.metrics import ssim_each
ssim_theta = ssim_each(neutral, contents)
train_styles = style_set(ctx.splits.style_train, cfg.data.style_size)
ratios = evaluation.style_loss_ratios(neutral, contents, [x[None] for x in train_styles.all()], ctx)
lean = sorted(zip(ratios, train_styles.names()))[:3]
print("per-content SSIM:", [round(x, 3) for x in ssim_theta], "| closest training styles (ratio):", lean)
rec.write_metrics({"ssim_theta_each": ssim_theta, "ssim_theta_min": min(ssim_theta), "n_contents": len(ssim_theta),
                   "gram_ratio_train_min": min(ratios), "gram_ratio_train_median": sorted(ratios)[len(ratios) // 2],
                   "gram_ratio_train_min_style": lean[0][1], "n_train_styles": len(ratios)})
rec.write_metrics({"ssim_theta_to_content": float(stats.iloc[1].ssim_to_content), "ssim_adapted_to_content": float(adapted_ssim),
                   "style_loss_content_mean": float(content_sl.mean()), "style_loss_theta_mean": float(neutral_sl.mean()),
                   "style_loss_theta_over_content": float(neutral_sl.mean() / content_sl.mean()),
                   "style_loss_theta_cv": float(neutral_sl.std() / neutral_sl.mean()) if len(sl) > 1 else 0.0,
                   "style_loss_content_cv": float(content_sl.std() / content_sl.mean()) if len(sl) > 1 else 0.0,
                   "saturation_content": float(stats.iloc[0].saturation), "saturation_theta": float(stats.iloc[1].saturation)})
stats.round(4)'''),
]

NOTEBOOKS["08_gatys_with_metastyle_init"] = [
    ("md", """# 08 · Gatys initialised with the style-free representation (extension, PAPER.md E.8)
Regenerates: Gatys optimisation started from the content, from noise and from M(I_c; θ): loss curves and
snapshots (`metastyle.study.compare`). The step-0 losses of the three starting images are always measured here.
Writes `gatys_init.png`, `gatys_init_curves.csv`, `metrics.json`."""),
    ("code", setup("08_gatys_with_metastyle_init")),
    ("code", '''theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
theta, _ = nets.load_model(theta_path, ctx.device)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
(cname, c), (sname, s) = ev.contents[0], ev.styles[0]
g = torch.Generator().manual_seed(cfg.run.seed)
inits = {"content": c, "noise": torch.rand(c.shape, generator=g), "M(I_c;θ)": stylize(theta, c)}
start = {k: evaluation.image_loss(v, c, s, ctx) for k, v in inits.items()}
pd.DataFrame(start).T'''),
    ("code", '''m = {f"step0_loss_{k}": v["total"] for k, v in start.items()}
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
display(pd.DataFrame(res["summary"]).drop(columns=["snapshots"]))
rec.write_metrics(m)
rec.metrics'''),
]

NOTEBOOKS["09_johnson_with_metastyle_init"] = [
    ("md", """# 09 · Johnson training initialised with θ (extension, PAPER.md E.8)
Regenerates: single-style feed-forward training (Johnson et al.; the same Adam loop as adaptation) from a
random init vs from θ, for longer than adaptation: held-out loss curves and snapshots.
Writes `johnson_init.png`, `johnson_init_curves.png`, `johnson_init_curves.csv`, `metrics.json`."""),
    ("code", setup("09_johnson_with_metastyle_init")),
    ("code", '''from metastyle.method.nets import TransformerNet
theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
theta, _ = nets.load_model(theta_path, ctx.device)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
contents = shared.batch(ev.contents)
sname, s = ev.styles[-1]
steps = (4 if PROFILE == "paper" else 2) * cfg.adapt.steps  # longer than adaptation; 2x on 2 CPU cores
with torch.random.fork_rng():
    torch.manual_seed(cfg.run.seed)
    scratch = TransformerNet().to(ctx.device)
runs = {k: evaluation.adaptation_curve(init, s, ctx, contents, steps=steps, points=5, snapshot=contents[:1], desc=f"from {k}")
        for k, init in (("random init", scratch), ("θ", theta))}
curves = pd.DataFrame([{"init": k, **{x: y for x, y in r.items() if x != "image"}} for k, rs in runs.items() for r in rs])
rec.save_table(curves, "johnson_init_curves")
fig, ax = plt.subplots(figsize=(5, 3.2))
for k, g in curves.groupby("init"):
    ax.plot(g.step, g.loss_total, marker="o", label=f"from {k}")
ax.set_yscale("log"), ax.set_xlabel("training step"), ax.set_ylabel("held-out loss"), ax.legend(), ax.set_title(sname)
rec.save_fig(fig, "johnson_init_curves")
fig = notebook.grid_figure([[r["image"] for r in rs] for rs in runs.values()], list(runs),
                        [f"step {r['step']}" for r in runs["θ"]], title=f"snapshots ({sname})")
rec.save_fig(fig, "johnson_init")
curves.round(4)'''),
    ("code", '''fin = curves[curves.step == steps].set_index("init").loss_total
th = curves[curves.init == "θ"].set_index("step").loss_total
sc = curves[curves.init == "random init"].set_index("step").loss_total
reach = [st for st in sc.index if sc[st] <= th[steps]]
rec.write_metrics({"steps": steps, "final_loss_scratch": fin["random init"], "final_loss_theta": fin["θ"],
                   "final_ratio_theta_over_scratch": fin["θ"] / fin["random init"],
                   "scratch_loss_at_adapt_steps": float(sc[min(sc.index, key=lambda x: abs(x - cfg.adapt.steps))]),
                   "theta_loss_at_adapt_steps": float(th[min(th.index, key=lambda x: abs(x - cfg.adapt.steps))]),
                   "scratch_reaches_theta_final": bool(reach)})
rec.metrics'''),
    ("md", """## Beyond the paper: Johnson from θ_plain as a third init
θ_plain: multi-style training of the same network on the same styles and contents, no inner loop
(`metastyle.baselines.plain`, cached in `runs/plain-<profile>-<key>/`). Same training loop, data order and steps as above."""),
    ("code", '''from metastyle.baselines import plain
theta_plain, _ = nets.load_model(plain.ensure_plain(ctx, RUNS_DIR), ctx.device)
runs3 = {**runs, "θ_plain": evaluation.adaptation_curve(theta_plain, s, ctx, contents, steps=steps, points=5,
                                                   snapshot=contents[:1])}
curves3 = pd.DataFrame([{"init": k, **{x: y for x, y in r.items() if x != "image"}}
                        for k, rs in runs3.items() for r in rs])
rec.save_table(curves3, "johnson_init_curves_3inits")
fig, ax = plt.subplots(figsize=(5, 3.2))
for k, g in curves3.groupby("init", sort=False):
    ax.plot(g.step, g.loss_total, marker="o", label=f"from {k}")
ax.set_yscale("log"), ax.set_xlabel("training step"), ax.set_ylabel("held-out loss"), ax.legend()
ax.set_title(sname)
rec.save_fig(fig, "johnson_init_curves_3inits")
fig = notebook.grid_figure([[r["image"] for r in rs] for rs in runs3.values()], list(runs3),
                        [f"step {r['step']}" for r in runs3["θ"]], title=f"snapshots ({sname})")
rec.save_fig(fig, "johnson_init_3inits")
fin3 = curves3[curves3.step == steps].set_index("init").loss_total
rec.write_metrics({"final_loss_plain": fin3["θ_plain"], "final_ratio_theta_over_plain": fin3["θ"] / fin3["θ_plain"]})
curves3.round(4)'''),
]

NOTEBOOKS["10_report"] = [
    ("md", """# 10 · Report
Regenerates `results/REPORT.md`: each claim of PAPER.md §F (11 claims, and claim 12 beyond the paper: θ_meta vs
θ_plain), what was measured (numbers read from
the other notebooks' `metrics.json`), a verdict decided by the explicit rules in `metastyle.study.report`, the
command and profile that made it, and which loss network and scale produced the numbers."""),
    ("code", PARAMS.replace("PROFILE", "PROFILE", 1)),
    ("code", '''from pathlib import Path
from metastyle.study import notebook, report
cfg, _, rec = notebook.setup("10_report", PROFILE, SEED, OUT_DIR, DATA, RESULTS_DIR, with_context=False)
text, verdicts = report.build(RESULTS_DIR, PROFILE, DATA)
rec.path("REPORT.md").write_text(text)
target = Path(RESULTS_DIR) / ("REPORT.md" if PROFILE != "smoke" else f"REPORT-{PROFILE}.md")
report.write_atomic(target, text)
print("wrote", target)
notebook.banner(text)'''),
    ("code", '''rec.write_metrics({"n_claims": len(verdicts), **{f"claim_{v['claim']}_holds": v["verdict"] == "holds" for v in verdicts},
                   "n_holds": sum(v["verdict"] == "holds" for v in verdicts),
                   "n_not_hold": sum(v["verdict"] == "does not hold" for v in verdicts),
                   "n_not_testable": sum(v["verdict"].startswith("not testable") for v in verdicts)})
rec.metrics'''),
]


def build_one(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    out = [new_markdown_cell(cells[0][1])]
    rest = cells[1:]
    if not (rest and rest[0][1].startswith("PROFILE =")):
        rest = [("code", PARAMS), *rest]
    for i, (kind, src) in enumerate(rest):
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        if i == 0:
            cell.metadata["tags"] = ["parameters"]
        out.append(cell)
    for i, cell in enumerate(out):
        cell["id"] = f"{name[:2]}-{i:02d}"
    nb.cells = out
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build_one(name, cells), HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
