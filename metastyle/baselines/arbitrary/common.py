"""Shared pieces of the arbitrary-style baselines: VGG encoders, mirrored decoders, feature transforms
(AdaIN, whitening-colouring, style swap), any-size padding, the training loop and the training settings.

Images are (B, 3, H, W) in [0, 1] everywhere; decoders emit images in that range (unclamped while
training, clamped by ``stylize``). Encoders are ``metastyle.method.vgg.LossNet``s (torchvision VGG, ImageNet
normalisation inside), chosen by the loss-network policy: ``auto-vgg19`` is torchvision's ImageNet VGG-19 where
its weights load, else the offline ImageNet VGG-16 ``vgg16-caffe`` in its place (labelled so: the relu{1..5}_1
features have the same widths); ``vgg19-random`` is an ablation only.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torchvision import models

from metastyle.config import ConfigError
from metastyle.data import sets
from metastyle.errors import DataError
from metastyle.infra import train
from metastyle.method.vgg import LossNet, load_loss_net

#: Output channels of the convolutions of VGG-19, block by block (torchvision ``vgg19().features``).
VGG19_BLOCKS = ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4)
RELU_X1 = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
ENCODER_CHOICES = ("auto-vgg19", "vgg19", "vgg16-caffe", "vgg19-random")
SIZE_MULTIPLE = 16   # four poolings before relu5_1
MIN_SIDE = 16


# ------------------------------------------------------------------------------------------- encoders
def encoder(name: str = "auto-vgg19", layers=RELU_X1, *, weights=None, seed: int = 0) -> LossNet:
    """A frozen VGG-19 (torchvision layout) truncated after the deepest of ``layers``.

    The frozen convolutions are loaded once per (name, weights, seed) and shared between models.
    """
    if name not in ENCODER_CHOICES:
        raise ConfigError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODER_CHOICES)}")
    full = _full_encoder(name, None if weights is None else str(weights), seed)
    return full.tapped(layers)


@functools.lru_cache(maxsize=4)
def _full_encoder(name: str, weights, seed: int) -> LossNet:
    return load_loss_net(name, RELU_X1, weights=weights, seed=seed)


def vgg_convs(depth: int) -> list[tuple[int, int]]:
    """(c_in, c_out) of the VGG-19 convolutions up to and including conv{depth}_1."""
    convs, c_in = [], 3
    for block, widths in enumerate(VGG19_BLOCKS[:depth], start=1):
        for c_out in widths:
            convs.append((c_in, c_out))
            c_in = c_out
            if block == depth:
                return convs
    return convs


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def truncated_encoder_params(depth: int) -> int:
    """Parameters of VGG-19 ``features`` up to relu{depth}_1, counted on a meta-device build (no memory)."""
    with torch.device("meta"):
        feats = models.vgg19(weights=None).features
    n_conv, total = len(vgg_convs(depth)), 0
    for layer in feats:
        if isinstance(layer, nn.Conv2d):
            if n_conv == 0:
                break
            total, n_conv = total + count(layer), n_conv - 1
    return total


def full_vgg_params(arch: str = "vgg19") -> int:
    """All parameters of torchvision's ``arch`` classifier, FC layers included (meta-device build)."""
    with torch.device("meta"):
        return count(getattr(models, arch)(weights=None))


# ------------------------------------------------------------------------------------------- decoders
class MirrorDecoder(nn.Module):
    """The mirror image of VGG-19 up to relu{depth}_1: reflection-padded 3x3 convs + ReLU, nearest
    upsampling where the encoder pooled, a last conv to RGB without activation (Huang & Belongie; Li et al.;
    Chen & Schmidt's inverse network with ``norm="instance"``)."""

    def __init__(self, depth: int, norm: str = "none"):
        super().__init__()
        layers: list[nn.Module] = []
        convs = vgg_convs(depth)
        first_of_block = {sum(len(b) for b in VGG19_BLOCKS[:k]) for k in range(1, depth)}
        for i in reversed(range(len(convs))):
            c_out, c_in = convs[i]
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3)]
            if i > 0:
                if norm == "instance":
                    layers.append(nn.InstanceNorm2d(c_out, affine=True))
                layers.append(nn.ReLU())
            if i in first_of_block:  # the encoder max-pooled right before this conv
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.depth, self.body = depth, nn.Sequential(*layers)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.body(f)


# ------------------------------------------------------------------------------------ feature transforms
def mean_std(f: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over space: two (B, C, 1, 1) tensors."""
    b, c = f.shape[:2]
    flat = f.reshape(b, c, -1)
    return flat.mean(-1).view(b, c, 1, 1), (flat.var(-1, unbiased=False) + eps).sqrt().view(b, c, 1, 1)


def adain(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """AdaIN(x, y) = sigma(y) (x - mu(x)) / sigma(x) + mu(y) (Huang & Belongie, eq. 8)."""
    mc, sc = mean_std(content)
    ms, ss = mean_std(style)
    return ss * (content - mc) / sc + ms


def _cov_root(f: torch.Tensor, power: float, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(C, N) features -> (mean (C, 1), cov^power (C, C)); eigenvalues below eps are dropped (Li et al.)."""
    mean = f.mean(1, keepdim=True)
    fc = (f - mean).double()
    # SVD of the centred features instead of eigh of the C x C covariance: cheaper when N < C (relu5_1)
    vecs, sing, _ = torch.linalg.svd(fc, full_matrices=False)
    vals = sing.square() / max(f.shape[1] - 1, 1)
    keep = vals > eps
    vals, vecs = vals[keep], vecs[:, keep]
    return mean, (vecs * vals.pow(power)) @ vecs.T


def whiten(f: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Whitening transform of (C, N) features: centred, covariance = identity (on the kept eigenspace)."""
    mean, root = _cov_root(f, -0.5, eps)
    return (root @ (f - mean).double()).to(f.dtype)


def colour(fw: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Colouring transform: give whitened (C, N) features the style's (C, M) covariance and mean."""
    mean, root = _cov_root(style, 0.5, eps)
    return (root @ fw.double()).to(fw.dtype) + mean


def wct(content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Whitening-colouring transform of (1, C, H, W) features, blended with the content (Li et al. eq. 3)."""
    c, h, w = content.shape[1:]
    fc = content.reshape(c, -1)
    out = colour(whiten(fc), style.reshape(c, -1))
    return (alpha * out + (1 - alpha) * fc).reshape(1, c, h, w)


def style_swap(content: torch.Tensor, style: torch.Tensor, patch: int = 3, *, match_style=None) -> torch.Tensor:
    """Style swap (Chen & Schmidt): replace every content patch by the style patch of highest normalised
    cross-correlation. ``content``/``style`` are (1, C, H, W); ``match_style`` (default ``style``) is the
    feature map the patches are matched in, ``style`` the one they are pasted from."""
    match = style if match_style is None else match_style
    c = style.shape[1]
    kernels = F.unfold(match, patch).transpose(1, 2).reshape(-1, c, patch, patch)     # (P, C, k, k)
    paste = F.unfold(style, patch).transpose(1, 2).reshape(-1, c, patch, patch)       # (P, C, k, k)
    norms = kernels.flatten(1).norm(dim=1).clamp_min(1e-8).view(-1, 1, 1, 1)
    scores = F.conv2d(content, kernels / norms)                                       # (1, P, H', W')
    onehot = F.one_hot(scores.argmax(1), scores.shape[1]).permute(0, 3, 1, 2).to(content.dtype)
    summed = F.conv_transpose2d(onehot, paste)                                        # (1, C, H, W)
    overlap = F.conv_transpose2d(onehot, torch.ones_like(paste[:, :1]))
    return summed / overlap.clamp_min(1.0)


# ------------------------------------------------------------------------------------------ any size
def pad_to_multiple(x: torch.Tensor, multiple: int = SIZE_MULTIPLE) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, 3, H, W) on the right/bottom to multiples of ``multiple``; returns the padded tensor and (H, W)."""
    h, w = x.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise DataError(f"image of {w}x{h} px is smaller than the minimum side of {MIN_SIDE} px")
    ph, pw = (-h) % multiple, (-w) % multiple
    mode = "reflect" if ph < h and pw < w else "replicate"
    return (F.pad(x, (0, pw, 0, ph), mode=mode) if ph or pw else x), (h, w)


def as_batch(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] != 3:
        raise DataError(f"expected an RGB image tensor (3, H, W) or (1, 3, H, W), got shape {tuple(x.shape)}")
    return x.float()


# ------------------------------------------------------------------------------------------- training
@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """One method's training recipe. ``paper`` values are the published ones (see docs/arbitrary.md)."""

    iterations: int
    batch: int
    lr: float
    size: int = 256                 # training crop side (contents and styles)
    lr_decay: float = 0.0           # lr_t = lr / (1 + lr_decay * t) (pytorch-AdaIN / Torch optim style)
    content_weight: float = 1.0
    style_weight: float = 0.0
    pixel_weight: float = 0.0
    tv_weight: float = 0.0
    log_every: int = 10
    profile: str = "paper"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def settings_for(recipes: dict[str, dict], profile: str, overrides: dict | None = None) -> TrainSettings:
    if profile not in recipes:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(recipes)}")
    s = TrainSettings(**recipes["paper"], profile=profile)
    s = dataclasses.replace(s, **recipes[profile])
    return dataclasses.replace(s, **(overrides or {}))


@dataclasses.dataclass
class Batches:
    """Contents and styles at the training size, drawn as pure functions of (seed, step)."""

    contents: sets.ImageSet
    styles: sets.ImageSet
    seed: int = 0

    @classmethod
    def from_splits(cls, splits, size: int, seed: int = 0) -> "Batches":
        return cls(sets.content_set(splits.content_train, size), sets.style_set(splits.style_train, size),
                   seed)

    def draw(self, step: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        ci = sets.draw(len(self.contents), batch, self.seed, 101, step, replace=batch > len(self.contents))
        si = sets.draw(len(self.styles), batch, self.seed, 102, step, replace=True)
        return self.contents.batch(ci), self.styles.batch(si)


#: The ``long`` profile's budget per method on 2 idle CPU cores (issue 20): each schedule is planned to fill
#: LONG_PLAN_MINUTES at its s/iteration, leaving room under the LONG_CAP_MINUTES a method may take.
LONG_CAP_MINUTES = 20
LONG_PLAN_MINUTES = 16
#: A resumable run writes its training state at most this often (seconds of training).
STATE_EVERY_S = 300.0
#: The budget projection is checked once, after this many iterations (the first ones decode images).
PROJECT_AFTER = 5


def iterations_within(seconds_per_iteration: float | None, minutes: float = LONG_PLAN_MINUTES) -> int | None:
    """The iterations that fit ``minutes`` at ``seconds_per_iteration`` (None while that is not measured)."""
    if seconds_per_iteration is None:
        return None
    return max(1, int(minutes * 60 / seconds_per_iteration))


def fit(params, loss_fn: Callable[[int], tuple[torch.Tensor, dict]], s: TrainSettings,
        progress: bool = False, name: str = "", *, state: dict | None = None,
        save_state: Callable[[dict], None] | None = None, every_s: float | None = None,
        budget_s: float | None = None) -> list[dict]:
    """Adam on ``params`` for ``s.iterations`` steps of ``loss_fn(step) -> (loss, parts)`` (the step function
    over ``infra.train.fit``); returns the log, one row per step: ``step`` (from 0), ``loss``, the parts and
    ``seconds`` (training time so far).

    Resumable: ``state`` (what ``save_state`` was last given: ``step``, ``optimizer``, ``history``,
    ``seconds``) continues a run where it stopped; with batches a pure function of the step
    (``Batches.draw``) the result is the uninterrupted run's. ``save_state`` is called every ``every_s``
    (default ``STATE_EVERY_S``) seconds of training, not after the last step (the caller saves the finished
    model). ``budget_s``: one warning line when the projected training time exceeds it.
    """
    opt = torch.optim.Adam([p for p in params if p.requires_grad], lr=s.lr)
    history, seconds, first = [], 0.0, 0
    if state:
        opt.load_state_dict(state["optimizer"])
        history, seconds, first = list(state["history"]), float(state["seconds"]), int(state["step"])

    def step(t: int) -> dict:
        loss, parts = loss_fn(t)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"{name}: non-finite loss at step {t}")
        loss.backward()
        return {"loss": loss.item(), **{k: float(v) for k, v in parts.items()}}

    def after(step: int, stats: dict, took: float) -> None:
        nonlocal seconds
        seconds += took
        history.append({"step": step - 1, **stats, "seconds": seconds})
        if budget_s and step - first == PROJECT_AFTER and seconds / step * s.iterations > budget_s:
            print(f"[{name}] warning: projected {seconds / step * s.iterations / 60:.0f} min for {s.iterations} "
                  f"iterations, over the {budget_s / 60:.0f}-min budget (busy cores, or a schedule to re-measure)",
                  flush=True)

    def save(step: int) -> None:
        save_state({"step": step, "optimizer": opt.state_dict(), "history": history, "seconds": seconds})

    train.fit(opt, step, s.iterations, start=first, lr=lambda t: s.lr / (1 + s.lr_decay * t), after=after,
              save=save if save_state else None, every_s=STATE_EVERY_S if every_s is None else every_s,
              progress=progress, desc=name, show={"loss": "loss"}, show_every=s.log_every)
    return history


# ------------------------------------------------------------------------------------ users' weights
def load_sequential_convs(target: nn.Module, path) -> None:
    """Copy the conv weights of a plain PyTorch state dict (e.g. pytorch-AdaIN's ``decoder.pth``, a
    ``nn.Sequential`` saved with ``state_dict()``) into the convs of ``target``, in order; shapes must match.
    Loaded with ``torch.load(weights_only=True)``."""
    from metastyle.errors import CheckpointError
    from metastyle.infra.checkpoint import read_weights, weights_problem

    state = read_weights(path, "weights file")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict")
    odd = weights_problem(state)
    if odd:
        raise CheckpointError(f"{path} does not hold usable weights: {odd}")
    weights = [k for k in state if k.endswith("weight") and state[k].dim() == 4]
    convs = [m for m in target.modules() if isinstance(m, nn.Conv2d)]
    if len(weights) != len(convs):
        raise CheckpointError(f"{path} has {len(weights)} conv layers, the network expects {len(convs)}")
    with torch.no_grad():
        for key, conv in zip(sorted(weights, key=_layer_order), convs):
            if state[key].shape != conv.weight.shape:
                raise CheckpointError(f"{path}: {key} has shape {tuple(state[key].shape)}, "
                                      f"expected {tuple(conv.weight.shape)}")
            conv.weight.copy_(state[key])
            conv.bias.copy_(state[key[: -len("weight")] + "bias"])


def _layer_order(key: str):
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))
