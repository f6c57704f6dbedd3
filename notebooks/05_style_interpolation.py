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
# # 05 · Style interpolation
# Regenerates: convex combinations of the weights of two adapted models (paper figure: sailboat, sketch →
# mondrian, 6 intermediates; with `DATA=embedded`: a held-out content and two evaluation styles), a four-style
# bilinear grid, and the interactive widget (`metastyle.app.widget.interpolation_widget`) when available.
# Writes `interpolation.png`, `interpolation_grid.png`, `metrics.json`.

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

from metastyle.config import study_sizes
from metastyle.method.stylize import stylize
from metastyle.study import evaluation, shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("05_style_interpolation", globals())

# %%
theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits, contents=shared.INTERPOLATION[:1],
                       styles=shared.INTERPOLATION[1:])
(cname, content), (na, sa), (nb, sb) = ev.contents[0], ev.styles[0], ev.styles[1]
ma, _ = shared.ensure_adapted(theta_path, na, sa, ctx, RUNS_DIR)
mb, _ = shared.ensure_adapted(theta_path, nb, sb, ctx, RUNS_DIR)
mix = evaluation.convex_combination  # metastyle.method.interpolate.blend over whole models
lams = [i / 7 for i in range(8)]  # both ends plus 6 intermediates
outs = [stylize(mix([ma, mb], [1 - lam, lam]), content) for lam in lams]
fig = notebook.grid_figure([[content, sa, *outs, sb]], [], [cname, na, *[f"λ={lam:.2f}" for lam in lams], nb],
                           title="convex combination of adapted models")
rec.save_fig(fig, "interpolation")

# %%
# claim 8's inputs: style loss to each end along λ, and how much each step changes the image
from metastyle.study.claims import interpolation

path = evaluation.interpolation_path(outs, content, sa, sb, ctx)
smoothness = interpolation.measure(path)
print(smoothness)
pd.DataFrame({"lambda": lams, "style_loss_to_A": path["style_loss_to_A"], "style_loss_to_B": path["style_loss_to_B"]})

# %%
ev4 = shared.eval_images(DATA, DATA_DIR, cfg, splits=ctx.splits, n_styles=4)
if len(ev4.styles) >= 4:
    corners = [shared.ensure_adapted(theta_path, n, s, ctx, RUNS_DIR)[0] for n, s in ev4.styles[:4]]
    k = study_sizes(PROFILE).interpolation_grid
    grid = []
    for i in range(k):
        row = []
        for j in range(k):
            u, v = i / (k - 1), j / (k - 1)
            w = [(1 - u) * (1 - v), (1 - u) * v, u * (1 - v), u * v]
            row.append(stylize(mix(corners, w), content))
        grid.append(row)
    corner_names = ", ".join(n for n, _ in ev4.styles[:4])
    fig = notebook.grid_figure(grid, title=f"four-style interpolation: {corner_names} (corners)")
    rec.save_fig(fig, "interpolation_grid")
else:
    notebook.show_unavailable("four-style grid", f"only {len(ev4.styles)} evaluation styles in profile {PROFILE}")

# %%
from IPython.display import display

from metastyle.app.widget import interpolation_widget

display(interpolation_widget({na: ma, nb: mb}, content, theta=theta_path, size=cfg.adapt.content_size))
rec.write_metrics({"n_lambdas": len(lams), **smoothness, "four_style_grid": len(ev4.styles) >= 4})
rec.metrics
