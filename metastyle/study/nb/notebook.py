"""What every notebook cell does around the science: load the profile, pick the output folder, set up a
notebook's context and record, show a banner or a "not available" note, and draw an image grid."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from metastyle import config as config_mod


# ---------------------------------------------------------------------------------------------- output
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
#: The papermill parameters every notebook declares, one per line, in its ``parameters`` cell (the runner,
#: ``metastyle.study.nb.reproduce``, passes every one and refuses a notebook that lacks one), and what each means.
PARAMETERS = {
    "PROFILE": "smoke, quick, long, long-b5e3 or paper (metastyle.config.PROFILES)",
    "DATA": "the figure images: embedded (held-out contents and evaluation styles of the profile's splits), "
            "examples (the paper's images under DATA_DIR/content and DATA_DIR/style) or a folder with content "
            "and style subfolders; meta-training always uses the profile's data",
    "DATA_DIR": "the folder with content and style subfolders used when DATA is examples",
    "OUT_DIR": "where the notebook writes, set by the runner; empty means RESULTS_DIR/<notebook>/<profile>",
    "RUNS_DIR": "the checkpoint cache the notebooks share (theta, theta_plain, adapted models)",
    "RESULTS_DIR": "the root of all notebook outputs, read by 04 and 10",
    "SEED": "0 keeps the profile's seed (official 12345); any other value overrides run.seed",
    "THETA": "the path of a meta-trained theta to use instead of the cached one (empty: train or reuse)",
}


def start(notebook: str, params: dict, *, with_context: bool = True, takes_theta: bool = True):
    """The setup cell of every notebook: ``cfg, ctx, rec = notebook.start("05_style_interpolation", globals())``.

    Reads the papermill ``PARAMETERS`` from the notebook's namespace ``params``, loads the profile's config,
    makes the Context (``with_context=False``: none, ``ctx`` is None) and the Recorder of the notebook's output
    folder, shows the loss network prominently and seeds torch with ``cfg.run.seed``. ``takes_theta=False``:
    the notebook trains its own models (11, 12), and a ``THETA`` given to it is an error, never ignored."""
    import metastyle
    from metastyle.method.context import make_context
    from metastyle.study.results import Recorder

    missing = [k for k in PARAMETERS if k not in params]
    if missing:
        raise config_mod.ConfigError(f"notebook {notebook}: its parameters cell does not declare {', '.join(missing)}")
    if params["THETA"] and not takes_theta:
        raise config_mod.ConfigError(f"notebook {notebook} trains its own models; THETA cannot stand in for them")
    profile, data = params["PROFILE"], params["DATA"]
    cfg = config_mod.load(profile, seed=params["SEED"])
    ctx = make_context(cfg) if with_context else None
    cfg = ctx.cfg if ctx is not None else cfg  # loss-network defaults resolved: what every record shows
    rec = Recorder(out_dir(params["OUT_DIR"], notebook, profile, params["RESULTS_DIR"]), cfg, ctx,
                   notebook=notebook, data=data)
    print(f"metastyle imported from {metastyle.__file__}")
    if ctx is not None:
        info = ctx.loss_net.info
        warn = ("" if info.pretrained else " — **random-init VGG ablation: not a perceptual loss, numbers are "
                "not comparable with the paper's**")
        banner(f"### Loss network: `{info.label()}`{warn}\n\nprofile `{profile}`, device `{ctx.device}`, "
               f"evaluation images: `{data}`")
    torch.manual_seed(cfg.run.seed)
    return cfg, ctx, rec
