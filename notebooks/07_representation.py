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
# # 07 · Investigating the representation M(I_c; θ)
# Regenerates: the un-adapted outputs M(I_c; θ) for several contents beside the contents and the adapted
# outputs, with statistics: colour statistics, SSIM to the content (every content), the style loss to each
# evaluation style of θ's output vs of the content itself, and the same ratio for every *training* style
# (claim 7's style-neutral rule: no ratio below 1).
# Writes `representation.png`, `representation_stats.csv`, `metrics.json`.

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

from metastyle.method.stylize import stylize
from metastyle.study import evaluation, metrics, shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("07_representation", globals())

# %%
theta_path, theta = shared.load_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits)
contents = shared.batch(ev.contents)
neutral = stylize(theta, contents)
adapted = {n: stylize(shared.ensure_adapted(theta_path, n, s, ctx, RUNS_DIR)[0], contents) for n, s in ev.styles}
rows = [list(contents), list(neutral), *[list(v) for v in adapted.values()]]
fig = notebook.grid_figure(rows, ["content", "M(I_c; θ)", *adapted], [n for n, _ in ev.contents],
                        title="the style-free representation vs contents and adapted outputs")
rec.save_fig(fig, "representation")

# %%
stats = []
for label, imgs in [("content", contents), ("M(I_c;θ)", neutral), *[(f"adapted:{k}", v) for k, v in adapted.items()]]:
    row = {"images": label, **evaluation.colour_stats(imgs), "ssim_to_content": metrics.ssim(imgs, contents)}
    for sn, s in ev.styles:
        row[f"style_loss:{sn}"] = metrics.perceptual(imgs, contents, s, ctx)["style"]
    stats.append(row)
stats = pd.DataFrame(stats)
rec.save_table(stats, "representation_stats")
sl = [c for c in stats.columns if c.startswith("style_loss:")]
by = stats.set_index("images")
content_sl, neutral_sl = by.loc["content", sl].astype(float), by.loc["M(I_c;θ)", sl].astype(float)
adapted_ssim = stats[stats.images.str.startswith("adapted:")].ssim_to_content.mean()
# claim 7 (rule in metastyle/study/claims/representation.py): every content's SSIM, and the Gram distance of
# M(I_c;θ) to every training style relative to the content's own (< 1: θ's rendering leans toward that style)
from metastyle.data.sets import style_set
from metastyle.study.claims import representation

train_styles = style_set(ctx.splits.style_train, cfg.data.style_size)
measured = representation.measure(neutral, contents, train_styles, ctx)
print("per-content SSIM:", [round(x, 3) for x in measured["ssim_theta_each"]], "| closest training style:",
      measured["gram_ratio_train_min_style"], f"(ratio {measured['gram_ratio_train_min']:.3g})")
rec.write_metrics(measured)
rec.write_metrics({"ssim_theta_to_content": float(by.loc["M(I_c;θ)", "ssim_to_content"]),
                   "ssim_adapted_to_content": float(adapted_ssim),
                   "style_loss_content_mean": float(content_sl.mean()),
                   "style_loss_theta_mean": float(neutral_sl.mean()),
                   "style_loss_theta_over_content": float(neutral_sl.mean() / content_sl.mean()),
                   "style_loss_theta_cv": float(neutral_sl.std() / neutral_sl.mean()) if len(sl) > 1 else 0.0,
                   "style_loss_content_cv": float(content_sl.std() / content_sl.mean()) if len(sl) > 1 else 0.0,
                   "saturation_content": float(by.loc["content", "saturation"]),
                   "saturation_theta": float(by.loc["M(I_c;θ)", "saturation"])})
stats.round(4)
