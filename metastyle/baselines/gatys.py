"""Gatys et al. (2016) baseline: optimise the image itself against the same perceptual loss as MetaStyle.

The objective is exactly ``losses.perceptual_loss`` with the run's ``LossSpec`` (relu2_2 content, four-layer
Gram style, official normalisation), so numbers are comparable with the feed-forward methods. Deviations from
Gatys et al.: VGG-16 layers and Gram normalisation of Johnson et al. (Gatys: VGG-19, un-normalised Grams,
conv4_2 content); the image is parametrised as ``x = sigmoid(z)`` (unconstrained ``z``, the image always in
(0, 1)) instead of optimising raw pixels and clamping; the style image is ``Resize((S, S))`` like every other
style in this package.

One *iteration* is one optimiser step (for L-BFGS: one quasi-Newton direction plus its strong-Wolfe line
search, which may evaluate the loss several times; ``GatysStep.evaluations`` counts them). The history has
``iterations + 1`` entries: entry ``k`` is the loss of the image after ``k`` iterations, entry 0 the
starting image.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import torch
from tqdm.auto import tqdm

from metastyle.errors import MetaStyleError
from metastyle.method.context import LossSetup
from metastyle.method.losses import content_targets, perceptual_loss, style_targets

OPTIMIZERS = ("lbfgs", "adam")


INITS = ("content", "noise")  # or an image tensor / a file path (CLI)


#: Starting images are clamped to [EPS, 1 - EPS] before the logit: half a grey level, invisible in 8 bits.
EPS = 0.5 / 255


#: Adam's learning rate on the logits z (about 0.012 in pixel units at mid-grey).
ADAM_LR = 0.05


#: Most loss evaluations one L-BFGS line search may use (torch's own default, ``max_ls=25``).
LINE_SEARCH_EVALS = 25


@dataclasses.dataclass(frozen=True)
class GatysBudget:
    iterations: int
    size: int          # long side of the content (and side of the square style), px
    optimizer: str


#: Per-profile defaults. The paper does not state Gatys' iteration count behind Table 1 (docs/paper-vs-code.md §5);
#: 500 L-BFGS iterations at 512 px is the common setting (Johnson's neural-style default is 1000 at 512).
#: quick: what two CPU cores do in a few minutes; smoke: every code path in seconds.
BUDGETS = {
    "paper": GatysBudget(500, 512, "lbfgs"),
    "quick": GatysBudget(100, 128, "lbfgs"),
    "long": GatysBudget(100, 128, "lbfgs"),   # as quick: notebook 03 runs under long for the trained baselines
    "smoke": GatysBudget(5, 32, "lbfgs"),
}


@dataclasses.dataclass(frozen=True)
class GatysStep:
    """What the callback receives: the loss of the image after ``iteration`` optimiser steps."""

    iteration: int
    loss: float
    content: float
    style: float
    seconds: float      # wall time since the optimisation started
    evaluations: int    # loss evaluations (forward + backward passes) so far


@dataclasses.dataclass
class GatysResult:
    image: torch.Tensor                  # (1, 3, H, W) in [0, 1]
    history: list[GatysStep]             # iterations + 1 entries, history[0] = starting image
    iterations: int
    seconds: float
    optimizer: str
    init: str
    loss_net: dict                       # LossNetInfo.to_dict()
    loss_spec: dict
    snapshots: dict[int, torch.Tensor] = dataclasses.field(default_factory=dict)  # iteration -> image

    def history_rows(self) -> list[dict]:
        return [dataclasses.asdict(h) for h in self.history]


def initial_image(content: torch.Tensor, init: str | torch.Tensor = "content", *, seed: int = 0) -> torch.Tensor:
    """The starting image: the content, uniform noise (seeded, global RNG untouched), or a given image."""
    if isinstance(init, torch.Tensor):
        x = init if init.dim() == 4 else init[None]
        if x.shape[-3:] != content.shape[-3:]:
            raise MetaStyleError(f"initial image has shape {tuple(x.shape[-3:])}, content has "
                                 f"{tuple(content.shape[-3:])}")
        return x.detach().to(content.device, content.dtype)
    if init == "content":
        return content.detach().clone()
    if init == "noise":  # Gatys et al.: white noise
        g = torch.Generator().manual_seed(seed)
        return torch.rand(content.shape, generator=g).to(content.device, content.dtype)
    raise ValueError(f"init must be one of {', '.join(INITS)} or an image tensor, got {init!r}")


def _logit(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(EPS, 1 - EPS)
    return torch.log(x) - torch.log1p(-x)


def _optimizer(name: str, z: torch.Tensor, lr: float | None):
    if name == "lbfgs":  # one iteration per .step(); its state (curvature pairs) persists between steps
        # tolerances 0: a fixed budget, never an early stop (the loss scale depends on the loss network).
        # max_eval must be explicit: torch's default max_iter * 5 // 4 = 1 leaves the line search no
        # evaluations at all (max_ls = max_eval - 1 = 0), and L-BFGS then stalls at t = 0 for ever.
        return torch.optim.LBFGS([z], lr=lr or 1.0, max_iter=1, max_eval=1 + LINE_SEARCH_EVALS, history_size=100,
                                 line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)
    if name == "adam":
        return torch.optim.Adam([z], lr=lr or ADAM_LR)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def gatys(content: torch.Tensor, style: torch.Tensor, ctx: LossSetup, *, iterations: int,
          optimizer: str = "lbfgs", init: str | torch.Tensor = "content", lr: float | None = None,
          seed: int = 0, snapshot_at: tuple[int, ...] = (), callback: Callable[[GatysStep], None] | None = None,
          progress: bool = False) -> GatysResult:
    """Optimise an image ``(1, 3, H, W)`` towards ``content``'s features and ``style``'s Grams.

    Args:
        content: ``(1, 3, H, W)`` in [0, 1]; style: ``(1, 3, S, S)`` (any size; Grams are size-normalised).
        ctx: a ``Context`` (or ``Objective``): loss network, ``LossSpec``, and the device everything
            (content, style, an ``init`` image) is moved to.
        iterations: fixed budget of optimiser steps (recorded with the result).
        optimizer: ``lbfgs`` (classic, strong-Wolfe line search, lr 1) or ``adam`` (lr ``ADAM_LR`` on logits).
        init: ``content``, ``noise`` or an image tensor (e.g. MetaStyle's M(I_c; theta)).
        snapshot_at: iterations whose image is kept in ``result.snapshots``.
        callback: receives a ``GatysStep`` for iterations 0..N.
    Returns:
        ``GatysResult`` with the final image, the history and the loss network record.

    Example:
        >>> res = gatys(content, style, ctx, iterations=100, init="content")
        >>> save_image(res.image, "out.png")
    """
    if content.dim() != 4 or content.shape[0] != 1:
        raise ValueError(f"content must be (1, 3, H, W), got {tuple(content.shape)}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    loss_net, spec = ctx.loss_net, ctx.spec
    content, style = content.to(ctx.device), style.to(ctx.device)
    init_name = init if isinstance(init, str) else "image"
    init = init if isinstance(init, str) else init.to(ctx.device)
    z = _logit(initial_image(content, init, seed=seed)).contiguous().requires_grad_(True)
    opt = _optimizer(optimizer, z, lr)
    feats = content_targets(loss_net, content, spec)
    grams = style_targets(loss_net, style, spec)
    history, snapshots, evals, t0 = [], {}, [0], time.perf_counter()
    fresh = [True]  # the first closure call of a step evaluates the current iterate: record it

    def closure():
        opt.zero_grad(set_to_none=True)
        x = torch.sigmoid(z)
        loss = perceptual_loss(loss_net, x, feats, grams, spec)
        if not torch.isfinite(loss.total):
            raise MetaStyleError(f"Gatys diverged after {len(history)} iterations: loss is not finite")
        loss.total.backward()
        evals[0] += 1
        if fresh[0]:
            fresh[0] = False
            _record(history, snapshots, snapshot_at, x, loss, t0, evals[0], callback)
        return loss.total

    for _ in tqdm(range(iterations), disable=not progress, desc=f"gatys [{optimizer}]"):
        fresh[0] = True
        opt.step(closure)
    with torch.no_grad():  # the loss of the final iterate (no step follows it)
        x = torch.sigmoid(z)
        _record(history, snapshots, snapshot_at, x, perceptual_loss(loss_net, x, feats, grams, spec), t0,
                evals[0], callback)
    return GatysResult(x.detach(), history, iterations, time.perf_counter() - t0, optimizer, init_name,
                       loss_net.info.to_dict(), dataclasses.asdict(spec), snapshots)


def _record(history, snapshots, snapshot_at, x, loss, t0, evals, callback) -> None:
    step = GatysStep(len(history), loss.total.item(), loss.content.item(), loss.style.item(),
                     time.perf_counter() - t0, evals)
    history.append(step)
    if step.iteration in snapshot_at:
        snapshots[step.iteration] = x.detach().clone()
    if callback is not None:
        callback(step)


# ------------------------------------------------------------------------------------------------- CLI
def load_pair(content_path, style_path, size: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Content with its long side scaled to ``size`` (aspect kept), style ``Resize((size, size))``."""
    from PIL import Image

    from metastyle.data.images import load_image, resize_square, to_tensor

    img = load_image(content_path)
    scale = size / max(img.size)
    img = img.resize((max(16, round(img.width * scale)), max(16, round(img.height * scale))), Image.BICUBIC)
    style = resize_square(load_image(style_path), size)
    return to_tensor(img)[None].to(device), to_tensor(style)[None].to(device)
