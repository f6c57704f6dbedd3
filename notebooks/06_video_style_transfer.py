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
# # 06 · Video style transfer
# Regenerates: an adapted model applied frame by frame (no temporal constraint) to the embedded synthetic clip,
# five consecutive stylised frames, and temporal-consistency numbers against the input clip and per-frame Gatys
# (when available). Writes `video_frames.png`, `temporal.csv`, `metrics.json`.

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
import torch

from metastyle.method.stylize import stylize
from metastyle.study import evaluation, prior_arts, shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("06_video_style_transfer", globals())

# %%
theta_path = shared.ensure_theta(cfg, RUNS_DIR, THETA, ctx=ctx)
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
rec.save_fig(fig, "video_frames")

# %%
from metastyle.config import study_sizes
from metastyle.study.claims import video

g_steps = study_sizes(PROFILE).video_gatys_steps  # per frame: bounded for CPU
g = torch.cat([prior_arts.run_method("Gatys", f[None], style, ctx, steps=g_steps) for f in clip])
change = {"input": evaluation.temporal_change(clip), "MetaStyle (per frame)": evaluation.temporal_change(frames),
          "Gatys (per frame)": evaluation.temporal_change(g)}
flicker = video.measure(change["input"], change["MetaStyle (per frame)"], change["Gatys (per frame)"])  # claim 9
tab = pd.DataFrame({"method": list(change), "mean_abs_frame_diff": list(change.values())})
tab["ratio_to_input"] = tab.mean_abs_frame_diff / change["input"]
tm = temporal.temporal_metrics(list(clip), list(frames))
extra = {"flicker_ratio_metastyle": tm.flicker_ratio, "warp_mse_metastyle": tm.warp_mse,
         "warp_mse_input": temporal.temporal_metrics(list(clip), list(clip)).warp_mse}
tab["warp_mse"] = [extra["warp_mse_input"], tm.warp_mse] + [None] * (len(tab) - 2)
rec.save_table(tab, "temporal")
rec.write_metrics({"frames": len(clip), **flicker, **extra})
tab
