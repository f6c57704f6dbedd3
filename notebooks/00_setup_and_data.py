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
# # 00 · Setup and data
# Regenerates: the environment record (package, versions, device), the **loss-network status**, the data
# sources and splits of the profile, and a preview grid of training / held-out images.
# Writes `splits.csv`, `preview.png`, `metrics.json`, `run.json`.

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

from metastyle.study import shared
from metastyle.study.nb import notebook

cfg, ctx, rec = notebook.start("00_setup_and_data", globals())

# %%
import json

import metastyle
from metastyle.infra import runtime
from metastyle.method.nets import TransformerNet, count_parameters

print("metastyle:", metastyle.__file__)
print(json.dumps(runtime.provenance(ctx.device), indent=1))
info = ctx.loss_net.info
print("LOSS NETWORK:", info.label(), "| source:", info.source)

# %% [markdown]
# ## Data sources and splits (meta-training always uses the profile's data; DATA picks the figures)

# %%
sp = ctx.splits
splits = pd.DataFrame([{"part": k, "count": len(v), "examples": ", ".join(v[:4])} for k, v in sp.names().items()])
rec.save_table(splits, "splits")
ev = shared.eval_images(DATA, DATA_DIR, cfg, splits=sp)
print("meta-training contents:", cfg.data.content, "| styles:", cfg.data.style, "| figures:", ev.source)
splits

# %%
from metastyle.config import study_sizes
from metastyle.data.sets import content_set, style_set

k = study_sizes(PROFILE).preview_images
rows = [list(content_set(sp.content_train[:k], cfg.data.content_size).all()),
        list(style_set(sp.style_train[:k], cfg.data.style_size).all()),
        [x for _, x in ev.contents[:k]], [x for _, x in ev.styles[:k]]]
fig = notebook.grid_figure(rows, ["train contents", "train styles", "eval contents", "eval styles"],
                        title=f"data preview ({PROFILE}; figures: {DATA})")
rec.save_fig(fig, "preview")

# %%
from metastyle.method.nets import is_instance_norm

net = TransformerNet()
rec.write_metrics({"n_params": count_parameters(net), "n_in_params": count_parameters(net, is_instance_norm),
                   "loss_net_pretrained": info.pretrained, "loss_net_fallback": info.fallback,
                   **{f"n_{k}": len(v) for k, v in sp.names().items()},
                   "n_eval_contents": len(ev.contents), "n_eval_styles": len(ev.styles)})
rec.metrics
