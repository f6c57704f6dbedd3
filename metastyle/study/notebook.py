"""What every notebook cell does around the science: load the profile, pick the output folder, set up a
notebook's context and record, show a banner or a "not available" note, and draw an image grid."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from metastyle import config as config_mod


# ---------------------------------------------------------------------------------------------- config
def load_config(profile: str, seed: int = 0, overrides: dict | None = None):
    """The profile's config; ``seed`` != 0 overrides ``run.seed`` (0 keeps the profile's seed)."""
    over = dict(overrides or {})
    if seed:
        over["run.seed"] = int(seed)
    return config_mod.load(profile, over)


def out_dir(OUT_DIR: str, notebook: str, profile: str, results_dir: str = "results") -> Path:
    """Where a notebook writes: ``OUT_DIR`` when the runner sets it, else ``results/<notebook>/<profile>``."""
    return Path(OUT_DIR) if OUT_DIR else Path(results_dir) / notebook / profile


def show_unavailable(what: str, reason: str) -> None:
    """A prominent 'not available yet' cell output (markdown in Jupyter, plain text elsewhere)."""
    text = f"**NOT AVAILABLE YET: {what}.** {reason}"
    try:
        from IPython.display import Markdown, display

        display(Markdown(f"> ⚠️ {text}"))
    except ImportError:  # pragma: no cover
        print(text)


def banner(text: str) -> None:
    try:
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:  # pragma: no cover
        print(text)


# ----------------------------------------------------------------------------------------------- plots
def grid_figure(rows: list[list[torch.Tensor | None]], row_labels: Sequence[str] = (),
                col_labels: Sequence[str] = (), title: str = "", cell: float = 1.6):
    """A matplotlib figure of images (each ``(3, H, W)`` or ``(1, 3, H, W)``); ``None`` leaves a blank cell."""
    import matplotlib.pyplot as plt

    n_r, n_c = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_r, n_c, figsize=(cell * n_c, cell * n_r + (0.4 if title else 0)), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_c):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            img = row[j] if j < len(row) else None
            if img is not None:
                img = img[0] if img.dim() == 4 else img
                ax.imshow(img.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy())
            if i == 0 and j < len(col_labels):
                ax.set_title(col_labels[j], fontsize=8)
            if j == 0 and i < len(row_labels):
                ax.set_ylabel(row_labels[i], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------- notebooks
def setup(notebook: str, PROFILE: str, SEED: int, OUT_DIR: str, DATA: str, RESULTS_DIR: str = "results", *,
          with_context: bool = True):
    """The first cell of every notebook: ``(cfg, ctx, recorder)``; shows the loss network prominently."""
    import metastyle
    from metastyle.method.context import make_context
    from metastyle.study.results import Recorder

    cfg = load_config(PROFILE, SEED)
    ctx = make_context(cfg) if with_context else None
    cfg = ctx.cfg if ctx is not None else cfg  # loss-network defaults resolved: what every record shows
    rec = Recorder(out_dir(OUT_DIR, notebook, PROFILE, RESULTS_DIR), cfg, ctx, notebook=notebook, data=DATA)
    print(f"metastyle imported from {metastyle.__file__}")
    if ctx is not None:
        info = ctx.loss_net.info
        warn = ("" if info.pretrained else " — **random-init VGG ablation: not a perceptual loss, numbers are "
                "not comparable with the paper's**")
        banner(f"### Loss network: `{info.label()}`{warn}\n\nprofile `{PROFILE}`, device `{ctx.device}`, "
               f"evaluation images: `{DATA}`")
    return cfg, ctx, rec
