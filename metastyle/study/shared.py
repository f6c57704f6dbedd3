"""What the notebooks evaluate on and with: the evaluation images, and theta and adapted models cached under
``runs/`` so that every notebook of a profile shares them.

Meta-training data always comes from the profile (``quick``/``smoke``: the embedded source). ``DATA`` picks
the *figure / evaluation* images only:

* ``embedded``: the held-out contents (``splits.content_test``) and evaluation styles (``splits.style_eval``)
  of the profile's own splits: never seen by meta-training;
* ``examples``: the paper's test images under ``DATA_DIR/content`` and ``DATA_DIR/style`` (stems such as
  ``sailboat``, ``sketch``, ``mondrian``, ``la_muse``), all unseen styles, as in the paper;
* any other value: a folder with the same ``content/`` + ``style/`` layout.

Checkpoints are cached under ``runs_dir`` (gitignored) so the notebooks share them:
``meta-<profile>-<config key>/theta.pt`` (``ensure_theta``; one folder per resolved config) and
``adapted/<theta-id>/<style>-<key>.pt`` (``ensure_adapted``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Sequence

import torch

from metastyle import config
from metastyle.data.images import find_images, load_image, resize_crop, resize_square, to_tensor
from metastyle.data.sets import ImageSet, content_set
from metastyle.errors import DataError
from metastyle.infra import checkpoint
from metastyle.method import nets
from metastyle.method.adapt import StepInfo, fit_style
from metastyle.method.nets import TransformerNet

#: The paper's figure images (paper Fig. 2 and 5).
FRAMEWORK_CONTENTS = ("lenna", "golden_gate", "modern", "sailboat")
FRAMEWORK_STYLES = ("la_muse", "scene_de_rue", "woman_with_hat_matisse", "en_campo_gris")
INTERPOLATION = ("sailboat", "sketch", "mondrian")


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
            from metastyle.data.sets import make_splits

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
def config_key(cfg_dict: dict) -> str:
    """8 hex digits of the resolved config (device, runs dir and workers excluded): names a run folder."""
    return hashlib.sha1(config.comparable(cfg_dict).encode()).hexdigest()[:8]


def theta_dir(cfg, runs_dir: str | Path = "runs") -> Path:
    """``runs/meta-<profile>-<config key>``: one folder per config, so another SEED never touches this run."""
    return Path(runs_dir) / f"meta-{cfg.profile}-{config_key(cfg.to_dict())}"


def ensure_theta(cfg, runs_dir: str | Path = "runs", theta: str = "", *, ctx=None, progress: bool = True) -> Path:
    """A meta-trained theta for ``cfg``: ``theta`` if given, else ``theta_dir(cfg)/theta.pt`` when finished,
    else resume (``train_state.pt`` there) or run ``meta.meta_train`` there (over a run killed before its
    first checkpoint, which left a log but nothing to resume). Runs of other configs live in
    their own folders and are never touched; a folder whose theta was made with another config is an error."""
    if theta:
        p = Path(theta)
        checkpoint.load(p, "metastyle-model")
        return p
    from metastyle.method.meta import meta_train

    if ctx is not None:
        cfg = ctx.cfg  # resolved, as saved with theta.pt
    out = theta_dir(cfg, runs_dir)
    p, state = out / "theta.pt", out / "train_state.pt"
    if p.is_file():
        meta = checkpoint.load(p, "metastyle-model")
        if config.comparable(meta.get("config", {})) != config.comparable(cfg.to_dict()):
            raise DataError(f"{p} was made with another config than its folder name says; move it away")
        if meta.get("step") == cfg.meta.iterations:
            return p
    resume = state.is_file()
    # a run killed before its first checkpoint left a log and nothing to resume (no state, no theta): start it
    # over; a theta.pt without its train state is never deleted here (meta_train refuses the folder)
    _, path = meta_train(cfg, out, resume=resume, overwrite=not resume and not p.is_file(), ctx=ctx,
                         progress=progress)
    return path


def load_theta(cfg, runs_dir: str | Path = "runs", theta: str = "", *, ctx) -> tuple[Path, nets.TransformerNet]:
    """``ensure_theta``'s path and the network it holds, on ``ctx.device``."""
    path = ensure_theta(cfg, runs_dir, theta, ctx=ctx)
    return path, nets.load_model(path, ctx.device)[0]


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
        net, meta = nets.load_model(path, ctx.device)
        return net.eval(), {"history": meta.get("history", []), "seconds": meta.get("seconds", float("nan")),
                            "path": path, "cached": True}
    if theta_path:
        init, _ = nets.load_model(theta_path, ctx.device)
    else:
        init = nets.random_init(ctx.cfg.run.seed).to(ctx.device)
    history: list[dict] = []

    def record(info: StepInfo):
        history.append({"step": info.step, "loss": info.loss, "content": info.content, "style": info.style,
                        "seconds": info.seconds})

    model, _ = fit_style(init, ctx, style, contents, steps=steps, params=params, callback=record, progress=True,
                         desc=f"{'adapt θ' if theta_path else 'Johnson'} → {style_name}")
    seconds = history[-1]["seconds"] if history else 0.0
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint.save(checkpoint.model_record(model, **ctx.record(), role="adapted" if theta_path else "johnson",
                                            style=style_name, theta=str(theta_path or ""), steps=steps,
                                            history=history, seconds=seconds), path)
    return model.eval(), {"history": history, "seconds": seconds, "path": path, "cached": False}
