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
``meta-<profile>-<config key>/theta.pt`` (``ensure_theta``; one folder per resolved config) and ``adapted/<theta-id>/<style>-<key>.pt`` (``ensure_adapted``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
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


def config_key(cfg_dict: dict) -> str:
    """8 hex digits of the resolved config (device, runs dir and workers excluded): names a run folder."""
    return hashlib.sha1(_comparable(cfg_dict).encode()).hexdigest()[:8]


def theta_dir(cfg, runs_dir: str | Path = "runs") -> Path:
    """``runs/meta-<profile>-<config key>``: one folder per config, so another SEED never touches this run."""
    return Path(runs_dir) / f"meta-{cfg.profile}-{config_key(cfg.to_dict())}"


def ensure_theta(cfg, runs_dir: str | Path = "runs", theta: str = "", *, ctx=None, progress: bool = True) -> Path:
    """A meta-trained theta for ``cfg``: ``theta`` if given, else ``theta_dir(cfg)/theta.pt`` when finished,
    else resume (``train_state.pt`` there) or run ``meta.meta_train`` there. Runs of other configs live in
    their own folders and are never touched; a folder whose theta was made with another config is an error."""
    if theta:
        p = Path(theta)
        checkpoint.load(p, "metastyle-model")
        return p
    from .meta import meta_train

    if ctx is not None:
        cfg = ctx.cfg  # resolved, as saved with theta.pt
    out = theta_dir(cfg, runs_dir)
    p, state = out / "theta.pt", out / "train_state.pt"
    if p.is_file():
        meta = checkpoint.load(p, "metastyle-model")
        if _comparable(meta.get("config", {})) != _comparable(cfg.to_dict()):
            raise DataError(f"{p} was made with another config than its folder name says; move it away")
        if meta.get("step") == cfg.meta.iterations:
            return p
    _, path = meta_train(cfg, out, resume=state.is_file(), ctx=ctx, progress=progress)
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
                         batch=a.batch, params=params, seed=ctx.cfg.run.seed, callback=record, progress=True,
                         desc=f"{'adapt θ' if theta_path else 'Johnson'} → {style_name}")
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


def style_loss_ratios(outputs: torch.Tensor, contents: torch.Tensor, styles: Sequence[torch.Tensor], ctx) -> list[float]:
    """For each style ``(1, 3, S, S)``: style (Gram) loss of ``outputs`` / style loss of ``contents`` themselves.

    Claim 7's style-neutrality test (metastyle/report.py): a ratio below 1 means the outputs are closer to that
    style than the photographs are, i.e. biased toward it."""
    ratios = []
    for s in styles:
        own = image_loss(contents, contents, s, ctx)["style"]
        ratios.append(image_loss(outputs, contents, s, ctx)["style"] / max(own, 1e-12))
    return ratios


def heldout_loss(net, contents: torch.Tensor, style: torch.Tensor, ctx) -> dict:
    """The perceptual loss of ``net``'s stylisations of held-out ``contents``."""
    from .stylize import stylize

    return image_loss(stylize(net, contents), contents, style, ctx)


def adaptation_curve(init: TransformerNet, style: torch.Tensor, ctx, eval_contents: torch.Tensor, *,
                     steps: int, points: int = 6, contents: ImageSet | None = None,
                     snapshot: torch.Tensor | None = None, desc: str = "") -> list[dict]:
    """Held-out loss at ``points`` step counts from 0 to ``steps`` while fitting ``init`` to ``style``.

    One continuous Adam run (``fit_style`` resumed from its optimiser state between evaluations), so the
    curve is exactly the run that ``steps`` uninterrupted steps would make. Rows: ``step``, ``loss_total``,
    ``loss_content``, ``loss_style`` (prefixed, so a caller's ``style`` / ``init`` name columns never collide
    with the losses). With ``snapshot`` (a content batch), each row also carries ``image``: the model's
    stylisation of it at that step.
    """
    a = ctx.cfg.adapt
    contents = contents or train_contents(ctx)
    marks = sorted({round(steps * i / (points - 1)) for i in range(points)}) if points > 1 else [0, steps]
    net, opt_state, done, rows = init, None, 0, []
    for m in marks:
        if m > done:
            net, opt = fit_style(net, ctx.loss_net, ctx.spec, style.to(ctx.device), contents, steps=m, lr=a.lr,
                                 batch=a.batch, params=a.params, seed=ctx.cfg.run.seed, start_step=done,
                                 optimizer_state=opt_state, progress=True, desc=f"curve {desc}".rstrip())
            opt_state, done = opt.state_dict(), m
        row = {"step": m, **{f"loss_{k}": v for k, v in heldout_loss(net, eval_contents, style, ctx).items()}}
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
    """Mean over the batch of per-image SSIM on luminance (``metastyle.metrics.ssim_each``)."""
    from .metrics import ssim_each

    return float(sum(ssim_each(a, b)) / len(a))


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
    if profile not in gatys.BUDGETS:
        raise config_mod.ConfigError(f"no Gatys budget for profile {profile!r} (metastyle.gatys.BUDGETS has "
                                     f"{', '.join(gatys.BUDGETS)})")
    return gatys.BUDGETS[profile].iterations


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
        m.train(model, ctx.cfg.profile, ctx.splits, folder, seed=ctx.cfg.run.seed, progress=True)
    return m, model.to(ctx.device)


def arbitrary_budget(name: str, profile: str) -> tuple[int, int]:
    """``(iterations trained under profile, iterations of the published recipe)`` of an arbitrary-style method
    (Table 1 name or ``metastyle.arbitrary.METHODS`` key); ``ensure_arbitrary`` trains at the first."""
    arbitrary, why = optional("arbitrary", "METHODS")
    if arbitrary is None:
        raise Unavailable(why)
    m = arbitrary.METHODS[{v: k for k, v in TABLE1_NAMES.items()}.get(name, name)]
    return m.settings(profile).iterations, m.settings("paper").iterations


def budget_label(name: str, ctx, *, johnson_steps: int = 0) -> str:
    """A panel title saying how much training or optimisation the method's output got (figure 03)."""
    cfg = ctx.cfg
    if name == "MetaStyle":
        return f"MetaStyle\n{cfg.adapt.steps} steps from θ"
    if name == "Johnson":
        return f"Johnson\n{johnson_steps} steps, scratch"
    if name == "Gatys":
        return f"Gatys\n{gatys_iterations(cfg.profile)} L-BFGS it."
    try:
        done, recipe = arbitrary_budget(name, cfg.profile)
    except Unavailable:
        return name
    return f"{name}\n{done:,}/{recipe:,} it." + ("" if done >= recipe else " (under-trained)")


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


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(fn) -> float:
    import time

    _sync()
    t = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - t


def best_seconds(fns: dict, reps: int) -> dict[str, float]:
    """Seconds of each callable in ``fns``: one warm-up each, then ``reps`` rounds that call every one once in
    turn (interleaved, so other load on the machine hits all alike); the best round of each (the least
    disturbed). Each callable is timed on its own: equal numbers are a measurement, never a copy."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(max(1, reps)):
        for k, fn in fns.items():
            times[k].append(_timed(fn))
    return {k: min(v) for k, v in times.items()}


def time_forward(nets: dict, sizes=(256, 512), reps: int = 5, device="cpu") -> dict[str, dict[int, float]]:
    """Seconds per forward pass (batch 1) of each network in ``nets`` at each size, with ``best_seconds``."""
    out: dict[str, dict[int, float]] = {k: {} for k in nets}
    for s in sizes:
        x = torch.rand(1, 3, s, s, device=device)
        with torch.inference_mode():
            best = best_seconds({k: (lambda n=n: n(x)) for k, n in nets.items()}, reps)
        for k, t in best.items():
            out[k][s] = t
    return out


def time_methods(ctx, models: dict, sizes=(256, 512), reps: int = 5, *, gatys_steps: int | None = None,
                 arbitrary_methods: bool = True):
    """Table 1 timings measured here: seconds per image (batch 1, one warm-up, best of ``reps``).

    ``models``: the trained feed-forward networks to time, e.g. ``{"MetaStyle": adapted, "Johnson": johnson}``
    (claim 2 compares an adapted model with a separately trained Johnson model, timed independently with the
    same protocol). A method that cannot be timed keeps its row, with the reason in ``note``.
    """
    import pandas as pd

    from .nets import count_parameters

    t = time_forward({k: n.to(ctx.device).eval() for k, n in models.items()}, sizes, reps, ctx.device)
    rows = [{"method": k, "measured_param": float(count_parameters(n)), "note": "",
             **{f"measured_{s}_s": t[k][s] for s in sizes}} for k, n in models.items()]
    row = {"method": "Gatys", "note": ""}
    try:
        for sz in sizes:
            x, y = torch.rand(1, 3, sz, sz), torch.rand(1, 3, sz, sz)
            row[f"measured_{sz}_s"] = best_seconds({"g": lambda: run_method("Gatys", x, y, ctx, steps=gatys_steps)},
                                                   1)["g"]
    except Unavailable as err:
        row = {"method": "Gatys", "note": f"not timed: {err}"}
    rows.append(row)
    arbitrary, _ = optional("arbitrary", "METHODS")
    for key, m in (arbitrary.METHODS.items() if arbitrary is not None and arbitrary_methods else []):
        model = m.build().to(ctx.device).eval()
        row = {"method": TABLE1_NAMES.get(key, key), "measured_param": float(m.count_params(model)["total"]),
               "note": ""}
        for sz in sizes:
            x, y = torch.rand(1, 3, sz, sz, device=ctx.device), torch.rand(1, 3, sz, sz, device=ctx.device)
            with torch.inference_mode():
                row[f"measured_{sz}_s"] = best_seconds({"m": lambda: m.stylize(model, x, y)}, max(1, reps // 2))["m"]
        rows.append(row)
    return pd.DataFrame(rows)


#: The bench suite times one untrained transformer: its row, the reference of the bench's own ratios.
BENCH_TRANSFORMER = "transformer (bench)"


def read_bench(results_dir: str | Path = "results"):
    """Table 1 from the bench suite (``results/bench/<device>.json``, ``metastyle.bench``) as
    ``(DataFrame, source, device name)``, or None when there is none (``-quick``/``-smoke`` files are partial
    runs and not read). The bench's transformer is one network: its row is ``BENCH_TRANSFORMER``, never
    MetaStyle or Johnson (those are timed in notebook 04 as two trained models). A method the bench could not
    time keeps its row with the reason in ``note``. A file that is not a bench result raises ``DataError``."""
    files = sorted(p for p in (Path(results_dir) / "bench").glob("*.json")
                   if not p.stem.endswith(("-smoke", "-quick")))
    if not files:
        return None
    p = files[0]
    try:
        return _bench_rows(json.loads(p.read_text()), p)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{p}: not a readable bench result ({type(err).__name__}: {err}); "
                        "rerun `metastyle bench` or move the file away") from None


def _bench_rows(d: dict, p: Path):
    import pandas as pd

    st = d["stylize"]
    tr = st["transformer"]
    rows = [{"method": BENCH_TRANSFORMER, "measured_param": float(tr["params"]), "note": "",
             **{f"measured_{s}_s": v["variants"]["plain"]["median_s"] for s, v in tr["sizes"].items()}}]
    g = st.get("gatys", {})
    if g.get("available"):
        rows.append({"method": "Gatys", "note": "",
                     **{f"measured_{s}_s": v["median_s"] for s, v in g["sizes"].items()}})
    a = st.get("arbitrary", {})
    for key, r in (a.get("methods", {}) if a.get("available") else {}).items():
        name = TABLE1_NAMES.get(key, key)
        if "error" in r:
            rows.append({"method": name, "note": f"bench error: {r['error']}"})
            continue
        rows.append({"method": name, "measured_param": float(r.get("params") or "nan"), "note": "",
                     **{f"measured_{s}_s": r[s]["median_s"] for s in ("256", "512") if s in r}})
    dev = d.get("device", {})
    return pd.DataFrame(rows), f"bench suite: {p.name} (median)", dev.get("name", p.stem)


def add_ratios(table, sizes=("256", "512"), reference: str = "MetaStyle"):
    """``measured_<s>_ratio``: each row's time / the reference time *of the same source* (bench rows: the
    bench's transformer; rows timed in the notebook: ``reference``), so no ratio mixes two protocols."""
    table = table.copy()
    for s in sizes:
        col = f"measured_{s}_s"
        ref = {}
        for src, g in table.groupby("source"):
            hit = g[g.method.isin([reference, BENCH_TRANSFORMER])]
            ref[src] = float(hit[col].iloc[0]) if len(hit) and col in hit else float("nan")
        table[f"measured_{s}_ratio"] = table[col] / table.source.map(ref)
    return table
