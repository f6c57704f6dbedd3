"""Helpers the study's notebooks share: evaluation images, cached theta and adapted models, held-out losses,
adaptation curves, image grids, and optional pieces that may not have landed yet.

Meta-training data always comes from the profile (``quick``/``smoke``: the embedded source). ``DATA`` picks
the *figure / evaluation* images only:

* ``embedded``: the held-out contents (``splits.content_test``) and evaluation styles (``splits.style_eval``)
  of the profile's own splits: never seen by meta-training;
* ``examples``: the paper's test images under ``DATA_DIR/content`` and ``DATA_DIR/style`` (stems such as
  ``sailboat``, ``sketch``, ``mondrian``, ``la_muse``), all unseen styles, as in the paper;
* any other value: a folder with the same ``content/`` + ``style/`` layout.

Checkpoints are cached under ``runs_dir`` (gitignored) so the notebooks share them:
``meta-<profile>/theta.pt`` (``ensure_theta``) and ``adapted/<theta-id>/<style>-<key>.pt`` (``ensure_adapted``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
import shutil
from pathlib import Path
from typing import Sequence

import torch

from . import checkpoint, config as config_mod
from .adapt import StepInfo, fit_style
from .data import ImageSet, content_set, find_images, load_image, resize_crop, resize_square, to_tensor
from .errors import DataError
from .losses import content_targets, perceptual_loss, style_targets
from .nets import TransformerNet

#: The paper's figure images (PAPER.md E.2, E.5).
FRAMEWORK_CONTENTS = ("lenna", "golden_gate", "modern", "sailboat")
FRAMEWORK_STYLES = ("la_muse", "scene_de_rue", "woman_with_hat_matisse", "en_campo_gris")
INTERPOLATION = ("sailboat", "sketch", "mondrian")


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


# ----------------------------------------------------------------------------------------- optional parts
def optional(module: str, *attrs: str):
    """``(module, "")`` if ``metastyle.<module>`` imports and has ``attrs``; else ``(None, reason)``."""
    try:
        mod = importlib.import_module(f"metastyle.{module}")
    except ImportError as err:
        return None, f"`metastyle.{module}` not available yet ({err})"
    here = Path(__file__).resolve().parent
    if not Path(mod.__file__).resolve().is_relative_to(here):  # an editable install of another checkout
        return None, f"`metastyle.{module}` not in this checkout (found only at {mod.__file__})"
    missing = [a for a in attrs if not hasattr(mod, a)]
    if missing:
        return None, f"`metastyle.{module}` has no {', '.join(missing)} (API not landed yet)"
    return mod, ""


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


# --------------------------------------------------------------------------------------------- images
@dataclasses.dataclass
class EvalImages:
    """Figure / evaluation images: names and ``(1, 3, S, S)`` tensors in [0, 1]."""

    contents: list[tuple[str, torch.Tensor]]
    styles: list[tuple[str, torch.Tensor]]
    source: str

    def content(self, name: str) -> torch.Tensor:
        return dict(self.contents)[name]

    def style(self, name: str) -> torch.Tensor:
        return dict(self.styles)[name]


def _pick(named: list, wanted: Sequence[str], n: int) -> list:
    by = dict(named)
    first = [(w, by[w]) for w in wanted if w in by]
    rest = [(k, v) for k, v in named if k not in dict(first)]
    return (first + rest)[:n] if n else first + rest


def eval_images(DATA: str, DATA_DIR: str, cfg, *, contents: Sequence[str] = FRAMEWORK_CONTENTS,
                styles: Sequence[str] = FRAMEWORK_STYLES, n_contents: int = 4, n_styles: int = 4,
                splits=None) -> EvalImages:
    """The figure contents and styles (see the module docstring); preferred names first, then others."""
    csize, ssize = cfg.adapt.content_size, cfg.adapt.style_size
    if DATA == "embedded":
        if splits is None:
            from .data import make_splits

            splits = make_splits(cfg.data, cfg.run.seed)
        if not splits.content_test or not splits.style_eval:
            raise DataError("the profile holds out no test contents or evaluation styles "
                            "(data.test_contents / data.eval_styles are 0)")
        cs = [(i.name, to_tensor(resize_crop(i.load(), csize))[None]) for i in splits.content_test]
        ss = [(i.name, to_tensor(resize_square(i.load(), ssize))[None]) for i in splits.style_eval]
        src = f"embedded (held-out contents and evaluation styles of the {cfg.profile} splits)"
    else:
        root = Path(DATA_DIR if DATA == "examples" else DATA).expanduser()
        if not (root / "content").is_dir() or not (root / "style").is_dir():
            raise DataError(f"{root} needs content/ and style/ folders of images (DATA={DATA!r})")
        cs = [(p.stem, to_tensor(resize_crop(load_image(p), csize))[None]) for p in find_images(root / "content")]
        ss = [(p.stem, to_tensor(resize_square(load_image(p), ssize))[None]) for p in find_images(root / "style")]
        src = f"{DATA} images from {root}"
    return EvalImages(_pick(cs, contents, n_contents), _pick(ss, styles, n_styles), src)


def batch(images: list[tuple[str, torch.Tensor]]) -> torch.Tensor:
    return torch.cat([x for _, x in images])


def train_contents(ctx) -> ImageSet:
    """The adaptation / Johnson training contents: D_tr of the profile at the adaptation size."""
    return content_set(ctx.splits.content_train, ctx.cfg.adapt.content_size)


# ---------------------------------------------------------------------------------------------- theta
def _comparable(cfg_dict: dict) -> str:
    d = json.loads(json.dumps(cfg_dict, default=str))
    d.get("run", {}).pop("device", None)
    d.get("run", {}).pop("runs_dir", None)
    d.get("run", {}).pop("workers", None)
    return json.dumps(d, sort_keys=True)


def ensure_theta(cfg, runs_dir: str | Path = "runs", theta: str = "", *, ctx=None, progress: bool = False) -> Path:
    """A meta-trained theta for ``cfg``: ``theta`` if given, else ``runs/meta-<profile>/theta.pt`` when it
    was made with the same config and finished, else resume or run ``meta.meta_train`` there."""
    if theta:
        p = Path(theta)
        checkpoint.load(p, "metastyle-model")
        return p
    from .meta import meta_train

    if ctx is not None:
        cfg = ctx.cfg  # resolved, as saved with theta.pt
    out = Path(runs_dir) / f"meta-{cfg.profile}"
    p, state = out / "theta.pt", out / "train_state.pt"
    resume = False
    if p.is_file():
        meta = checkpoint.load(p, "metastyle-model")
        if _comparable(meta.get("config", {})) == _comparable(cfg.to_dict()):
            if meta.get("step") == cfg.meta.iterations:
                return p
            resume = state.is_file()
    if not resume and out.exists():
        shutil.rmtree(out)  # another config's run: never mix its log or state into this one
    _, path = meta_train(cfg, out, resume=resume, ctx=ctx, progress=progress)
    return path


def theta_meta(theta_path: str | Path) -> dict:
    return {k: v for k, v in checkpoint.load(theta_path, "metastyle-model").items() if k != "model"}


# -------------------------------------------------------------------------------------------- adapted
def _digest(*parts) -> str:
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, torch.Tensor):
            h.update(part.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(part, (str, Path)) and Path(part).is_file():
            h.update(Path(part).read_bytes())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:12]


def ensure_adapted(theta_path: str | Path | None, style_name: str, style: torch.Tensor, ctx, runs_dir="runs",
                   *, steps: int | None = None, params: str | None = None, contents: ImageSet | None = None,
                   tag: str = "") -> tuple[TransformerNet, dict]:
    """A model fitted to ``style`` for ``steps`` Adam steps (config's adaptation settings), cached in runs/.

    ``theta_path=None`` starts from a random init (seeded by ``run.seed``): Johnson et al.'s single-style
    training with the same loop. Returns ``(model, info)`` with ``info["history"]`` (per-step training
    losses), ``info["seconds"]`` (wall time of the fit, from the run that made it) and ``info["path"]``.
    """
    a = ctx.cfg.adapt
    steps = a.steps if steps is None else steps
    params = params or a.params
    contents = contents or train_contents(ctx)
    key = _digest(theta_path or "scratch", style, style_name, steps, params, a.lr, a.batch, ctx.cfg.run.seed,
                  contents.names(), contents.size, ctx.loss_net.info.name, dataclasses.asdict(ctx.spec), tag)
    init_id = _digest(theta_path)[:8] if theta_path else f"scratch-{ctx.cfg.run.seed}"
    folder = Path(runs_dir) / "adapted" / f"{ctx.cfg.profile}-{init_id}"
    path = folder / f"{style_name}-{steps}-{key}.pt"
    if path.is_file():
        net, meta = checkpoint.load_model(path, ctx.device)
        return net.eval(), {"history": meta.get("history", []), "seconds": meta.get("seconds", float("nan")),
                            "path": path, "cached": True}
    if theta_path:
        init, _ = checkpoint.load_model(theta_path, ctx.device)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ctx.cfg.run.seed)
            init = TransformerNet().to(ctx.device)
    history: list[dict] = []

    def record(info: StepInfo):
        history.append({"step": info.step, "loss": info.loss, "content": info.content, "style": info.style,
                        "seconds": info.seconds})

    model, _ = fit_style(init, ctx.loss_net, ctx.spec, style.to(ctx.device), contents, steps=steps, lr=a.lr,
                         batch=a.batch, params=params, seed=ctx.cfg.run.seed, callback=record)
    seconds = history[-1]["seconds"] if history else 0.0
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint.save(checkpoint.model_record(model, **ctx.record(), role="adapted" if theta_path else "johnson",
                                            style=style_name, theta=str(theta_path or ""), steps=steps,
                                            history=history, seconds=seconds), path)
    return model.eval(), {"history": history, "seconds": seconds, "path": path, "cached": False}


# --------------------------------------------------------------------------------------------- losses
@torch.no_grad()
def image_loss(outputs: torch.Tensor, contents: torch.Tensor, style: torch.Tensor, ctx) -> dict:
    """Perceptual loss of ``outputs`` against ``contents`` (same batch) and one ``style``: total/content/style."""
    dev = ctx.device
    grams = style_targets(ctx.loss_net, style.to(dev), ctx.spec)
    feats = content_targets(ctx.loss_net, contents.to(dev), ctx.spec)
    loss = perceptual_loss(ctx.loss_net, outputs.to(dev), feats, grams, ctx.spec)
    return {"total": loss.total.item(), "content": loss.content.item(), "style": loss.style.item()}


def heldout_loss(net, contents: torch.Tensor, style: torch.Tensor, ctx) -> dict:
    """The perceptual loss of ``net``'s stylisations of held-out ``contents``."""
    from .stylize import stylize

    return image_loss(stylize(net, contents), contents, style, ctx)


def adaptation_curve(init: TransformerNet, style: torch.Tensor, ctx, eval_contents: torch.Tensor, *,
                     steps: int, points: int = 6, contents: ImageSet | None = None,
                     snapshot: torch.Tensor | None = None) -> list[dict]:
    """Held-out loss at ``points`` step counts from 0 to ``steps`` while fitting ``init`` to ``style``.

    One continuous Adam run (``fit_style`` resumed from its optimiser state between evaluations), so the
    curve is exactly the run that ``steps`` uninterrupted steps would make. With ``snapshot`` (a content
    batch), each row also carries ``image``: the model's stylisation of it at that step.
    """
    a = ctx.cfg.adapt
    contents = contents or train_contents(ctx)
    marks = sorted({round(steps * i / (points - 1)) for i in range(points)}) if points > 1 else [0, steps]
    net, opt_state, done, rows = init, None, 0, []
    for m in marks:
        if m > done:
            net, opt = fit_style(net, ctx.loss_net, ctx.spec, style.to(ctx.device), contents, steps=m, lr=a.lr,
                                 batch=a.batch, params=a.params, seed=ctx.cfg.run.seed, start_step=done,
                                 optimizer_state=opt_state)
            opt_state, done = opt.state_dict(), m
        row = {"step": m, **heldout_loss(net, eval_contents, style, ctx)}
        if snapshot is not None:
            from .stylize import stylize

            row["image"] = stylize(net, snapshot)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------- statistics
def colour_stats(x: torch.Tensor) -> dict:
    """Mean and std of each RGB channel and mean saturation of images ``(B, 3, H, W)``."""
    x = x.float()
    mx, mn = x.max(1).values, x.min(1).values
    sat = ((mx - mn) / mx.clamp_min(1e-6)).mean().item()
    m, s = x.mean((0, 2, 3)), x.std((2, 3)).mean(0)
    return {"mean_r": m[0].item(), "mean_g": m[1].item(), "mean_b": m[2].item(),
            "std": s.mean().item(), "saturation": sat}


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM on luminance (``metastyle.metrics.ssim`` when it has landed, else an 7x7 uniform-window SSIM)."""
    metrics, _ = optional("metrics", "ssim")
    if metrics is not None:
        return float(metrics.ssim(a, b))
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    ya, yb = (a.float().cpu() * w).sum(1, keepdim=True), (b.float().cpu() * w).sum(1, keepdim=True)
    pool = torch.nn.functional.avg_pool2d
    k = min(7, ya.shape[-1], ya.shape[-2])
    mu_a, mu_b = pool(ya, k, 1), pool(yb, k, 1)
    va, vb = pool(ya * ya, k, 1) - mu_a**2, pool(yb * yb, k, 1) - mu_b**2
    cov = pool(ya * yb, k, 1) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return s.mean().item()


def finite(x, default: float = 0.0) -> float:
    x = float(x)
    return x if math.isfinite(x) else default


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


def unavailable_panel(ax, text: str) -> None:
    """Grey 'not available' placeholder in a grid cell."""
    ax.set_facecolor("#dddddd")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=6, wrap=True, transform=ax.transAxes)


# ------------------------------------------------------------------------------------------- notebooks
def setup(notebook: str, PROFILE: str, SEED: int, OUT_DIR: str, DATA: str, RESULTS_DIR: str = "results", *,
          with_context: bool = True):
    """The first cell of every notebook: ``(cfg, ctx, recorder)``; shows the loss network prominently."""
    import metastyle
    from .context import make_context
    from .results import Recorder

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


def convex_combination(models: Sequence[TransformerNet], weights: Sequence[float]) -> TransformerNet:
    """Whole-parameter convex combination of models (PAPER.md E.5): ``sum_k w_k * theta_k``.

    Uses ``metastyle.interpolate.blend`` when present (it checks the weights); the inline sum is a fallback.
    """
    interp, _ = optional("interpolate", "blend")
    if interp is not None:
        net = TransformerNet().to(next(models[0].parameters()).device)
        net.load_state_dict(interp.blend([m.state_dict() for m in models], list(weights)))
        return net.eval()
    w = torch.tensor([float(x) for x in weights])
    if (w < 0).any() or abs(w.sum().item() - 1) > 1e-5:
        raise ValueError(f"weights must be >= 0 and sum to 1, got {list(weights)}")
    states = [m.state_dict() for m in models]
    mixed = {k: sum(wk * s[k].float() for wk, s in zip(w.tolist(), states)) for k in states[0]}
    net = TransformerNet().to(next(models[0].parameters()).device)
    net.load_state_dict(mixed)
    return net.eval()


def panning_clip(image: torch.Tensor, frames: int = 8, size: int | None = None, shift: int = 2) -> torch.Tensor:
    """A synthetic clip: a square window panning ``shift`` px per frame across ``image`` ``(1, 3, H, W)``.

    The notebooks' fallback until ``metastyle.video``'s embedded clip lands.
    """
    _, _, h, w = image.shape
    size = size or min(h, w) - shift * (frames - 1)
    if size < 16:
        raise DataError("image too small for a panning clip")
    return torch.cat([image[..., :size, i * shift: i * shift + size] for i in range(frames)])


def temporal_change(frames: torch.Tensor) -> float:
    """Mean absolute difference between consecutive frames ``(T, 3, H, W)``."""
    return (frames[1:] - frames[:-1]).abs().mean().item()


# ------------------------------------------------------------------------------- other methods, timing
class Unavailable(Exception):
    """A method the notebooks would show has not landed (or its API does not match yet)."""


def _call_first(mod, names: Sequence[str], *args, **kwargs):
    for name in names:
        fn = getattr(mod, name, None)
        if callable(fn):
            try:
                return fn(*args, **kwargs)
            except TypeError as err:
                raise Unavailable(f"{mod.__name__}.{name}: API mismatch ({err})") from None
    raise Unavailable(f"{mod.__name__} has none of {', '.join(names)}")


#: ``metastyle.arbitrary.METHODS`` keys -> Table 1 names (PAPER.md E.3).
TABLE1_NAMES = {"adain": "AdaIN", "wct": "WCT", "styleswap": "StyleSwap", "metanet": "MetaNetworks",
                "avatar": "AvatarNet"}


def gatys_iterations(profile: str) -> int:
    gatys, why = optional("gatys", "gatys", "BUDGETS")
    if gatys is None:
        raise Unavailable(why)
    return gatys.BUDGETS.get(profile, gatys.BUDGETS["quick"]).iterations


def ensure_arbitrary(key: str, ctx, runs_dir="runs", *, train: bool = True):
    """``metastyle.arbitrary.METHODS[key]`` trained at the profile's scale (cached in runs/arbitrary-<profile>/)."""
    arbitrary, why = optional("arbitrary", "METHODS")
    if arbitrary is None:
        raise Unavailable(why)
    m = arbitrary.METHODS[key]
    folder = Path(runs_dir) / f"arbitrary-{ctx.cfg.profile}-{ctx.cfg.run.seed}"
    path = folder / f"{key}.pt"
    if path.is_file():
        model, _ = m.load(path)
        return m, model.to(ctx.device)
    model = m.build()
    if train:
        m.train(model, ctx.cfg.profile if ctx.cfg.profile in ("paper", "quick", "smoke") else "quick",
                ctx.splits, folder, seed=ctx.cfg.run.seed)
    return m, model.to(ctx.device)


def run_method(name: str, content: torch.Tensor, style: torch.Tensor, ctx, *, runs_dir="runs",
               steps: int | None = None, **_) -> torch.Tensor:
    """One stylisation ``(1, 3, H, W)`` by a baseline: ``Gatys`` (``metastyle.gatys``) or a Table 1 name /
    key of ``metastyle.arbitrary.METHODS`` (trained at the profile's scale, cached). Raises ``Unavailable``
    when that piece has not landed."""
    if name == "Gatys":
        gatys, why = optional("gatys", "gatys")
        if gatys is None:
            raise Unavailable(why)
        res = gatys.gatys(content.to(ctx.device), style.to(ctx.device), ctx.loss_net, ctx.spec,
                          iterations=steps or gatys_iterations(ctx.cfg.profile), seed=ctx.cfg.run.seed)
        return res.image.detach().cpu()
    key = {v: k for k, v in TABLE1_NAMES.items()}.get(name, name)
    m, model = ensure_arbitrary(key, ctx, runs_dir)
    with torch.no_grad():
        return m.stylize(model, content.to(ctx.device), style.to(ctx.device)).detach().cpu()


def _best_seconds(fn, reps: int) -> float:
    import time

    fn()  # warm-up
    times = []
    for _ in range(reps):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times)  # best of reps: the least disturbed by other load on the machine


def time_methods(ctx, sizes=(256, 512), reps: int = 5, *, gatys_steps: int | None = None,
                 arbitrary_methods: bool = True):
    """Table 1 timings measured here: seconds per image (batch 1, one warm-up, best of ``reps``)."""
    import pandas as pd

    from .nets import count_parameters

    net = TransformerNet().to(ctx.device).eval()
    rows = []
    for method in ("MetaStyle", "Johnson"):  # the same architecture: timed separately, as the bench suite does
        row = {"method": method, "measured_param": float(count_parameters(net))}
        for s in sizes:
            x = torch.rand(1, 3, s, s, device=ctx.device)
            with torch.inference_mode():
                row[f"measured_{s}_s"] = _best_seconds(lambda: net(x), reps)
        rows.append(row)
    row = {"method": "Gatys"}
    try:
        for sz in sizes:
            x, y = torch.rand(1, 3, sz, sz), torch.rand(1, 3, sz, sz)
            row[f"measured_{sz}_s"] = _best_seconds(lambda: run_method("Gatys", x, y, ctx, steps=gatys_steps), 1)
        rows.append(row)
    except Unavailable:
        pass
    arbitrary, _ = optional("arbitrary", "METHODS")
    for key, m in (arbitrary.METHODS.items() if arbitrary is not None and arbitrary_methods else []):
        model = m.build().to(ctx.device).eval()
        row = {"method": TABLE1_NAMES.get(key, key), "measured_param": float(m.count_params(model)["total"])}
        for sz in sizes:
            x, y = torch.rand(1, 3, sz, sz, device=ctx.device), torch.rand(1, 3, sz, sz, device=ctx.device)
            with torch.inference_mode():
                row[f"measured_{sz}_s"] = _best_seconds(lambda: m.stylize(model, x, y), max(1, reps // 2))
        rows.append(row)
    return pd.DataFrame(rows)


def read_bench(results_dir: str | Path = "results"):
    """Table 1 from the bench suite (``results/bench/<device>.json``, ``metastyle.bench``) as
    ``(DataFrame, source, device name)``, or None when there is none (quick/smoke files are ignored)."""
    import pandas as pd

    files = sorted(p for p in (Path(results_dir) / "bench").glob("*.json")
                   if not p.stem.endswith(("-smoke", "-quick")))
    for p in files:
        try:
            d = json.loads(p.read_text())
            st, rows = d["stylize"], []
            tr = st["transformer"]
            t = {s: v["variants"]["plain"]["median_s"] for s, v in tr["sizes"].items()}
            for meth in ("MetaStyle", "Johnson"):
                rows.append({"method": meth, "measured_param": float(tr["params"]),
                             **{f"measured_{s}_s": x for s, x in t.items()}})
            g = st.get("gatys", {})
            if g.get("available"):
                rows.append({"method": "Gatys", **{f"measured_{s}_s": v["median_s"] for s, v in g["sizes"].items()}})
            a = st.get("arbitrary", {})
            for key, r in (a.get("methods", {}) if a.get("available") else {}).items():
                if "error" in r:
                    continue
                rows.append({"method": TABLE1_NAMES.get(key, key), "measured_param": float(r.get("params") or "nan"),
                             **{f"measured_{s}_s": r[s]["median_s"] for s in ("256", "512") if s in r}})
            dev = d.get("device", {})
            return pd.DataFrame(rows), f"bench suite: {p.name} (median)", dev.get("name", p.stem)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return None
