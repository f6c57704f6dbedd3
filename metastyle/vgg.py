"""Frozen VGG loss networks with named ReLU outputs, and the loss-network policy.

Names: ``vgg16`` / ``vgg19`` (ImageNet weights: an explicit file, ``$METASTYLE_<ARCH>_WEIGHTS``, or
torchvision's weights API and its hub cache) and ``vgg16-random`` / ``vgg19-random`` (seeded random
initialisation, for machines that cannot fetch the weights). ``auto`` takes the ImageNet network when its
weights load and otherwise falls back to the random one *with a warning*; the returned network's ``info``
says which one was used and whether it was a fallback, and every checkpoint, log and run record stores it.

Inputs are images in [0, 1] (see ``metastyle.nets``); ImageNet mean/std normalisation happens here, once,
for every caller (the official code's ``normalize_batch``/``standardize_batch`` pair, without the in-place
``div_`` trap).
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import torch
from torch import nn
from torchvision import models

from .errors import MetaStyleError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
ARCHS = ("vgg16", "vgg19")
CHOICES = ("auto", "vgg16", "vgg16-random", "vgg19", "vgg19-random", "auto-vgg19")

#: Layers of the MetaStyle / Johnson perceptual loss (VGG-16).
VGG16_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


class LossNetUnavailable(MetaStyleError):
    """The ImageNet weights of an explicitly requested loss network could not be loaded."""


@dataclasses.dataclass(frozen=True)
class LossNetInfo:
    """Which loss network produced a result: recorded with every checkpoint, log and output."""

    name: str        # resolved network: "vgg16", "vgg16-random", ...
    requested: str   # what the caller asked for: "auto", "vgg16", ...
    fallback: bool   # True when "auto" could not load ImageNet weights and fell back to random init
    source: str      # weights file, "torchvision-hub", or "random-init seed=N"

    @property
    def pretrained(self) -> bool:
        return not self.name.endswith("-random")

    def label(self) -> str:
        """Short human-readable label for figure captions and tables."""
        tag = "ImageNet" if self.pretrained else "random-init, offline"
        return f"{self.name} ({tag}{', fallback from ' + self.requested if self.fallback else ''})"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _relu_names(features: nn.Sequential) -> dict[str, int]:
    """Map 'reluB_J' (block B, conv J) to the index of that ReLU in ``features``."""
    names, block, conv = {}, 1, 0
    for i, layer in enumerate(features):
        if isinstance(layer, nn.Conv2d):
            conv += 1
        elif isinstance(layer, nn.ReLU):
            names[f"relu{block}_{conv}"] = i
        elif isinstance(layer, nn.MaxPool2d):
            block, conv = block + 1, 0
    return names


class LossNet(nn.Module):
    """Frozen VGG ``features`` truncated after the deepest requested layer.

    ``forward(x)`` takes images in [0, 1] and returns ``{layer_name: activation}`` for ``layers``.
    """

    def __init__(self, features: nn.Sequential, layers: tuple[str, ...], info: LossNetInfo):
        super().__init__()
        index = _relu_names(features)
        unknown = [n for n in layers if n not in index]
        if unknown:
            raise ValueError(f"unknown VGG layer(s) {unknown}; available: {sorted(index)}")
        self.layers = tuple(sorted(layers, key=index.__getitem__))
        self._taps = {index[n]: n for n in self.layers}
        last = max(self._taps)
        # Non-inplace ReLUs: a captured activation must never be overwritten by a later layer.
        self.features = nn.Sequential(
            *[nn.ReLU() if isinstance(m, nn.ReLU) else m for m in list(features)[: last + 1]])
        self.features.requires_grad_(False).eval()
        self.info = info
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):  # always frozen, always eval
        return super().train(False)

    def forward(self, x: torch.Tensor, upto: str | None = None) -> dict[str, torch.Tensor]:
        """``upto`` (one of ``layers``): stop after that layer and return only the layers up to it."""
        y, out = (x - self.mean) / self.std, {}
        for i, layer in enumerate(self.features):
            y = layer(y)
            if i in self._taps:
                out[self._taps[i]] = y
                if self._taps[i] == upto:
                    break
        return out


def _features(arch: str) -> nn.Sequential:
    """VGG ``features`` only (the 120M-parameter classifier is never built), initialised as torchvision does
    (Kaiming-normal fan-out convs, zero biases), from the global RNG."""
    features = models.vgg.make_layers(models.vgg.cfgs["D" if arch == "vgg16" else "E"])
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return features


def _builder(arch: str):
    return _features, getattr(models, f"VGG{arch[3:]}_Weights").IMAGENET1K_V1


def _imagenet_state(arch: str, weights: str | os.PathLike | None) -> tuple[dict, str]:
    """Load ImageNet weights from an explicit file, the environment variable, or torchvision (hub cache)."""
    path = weights or os.environ.get(f"METASTYLE_{arch.upper()}_WEIGHTS")
    if path:
        path = Path(path).expanduser()
        if not path.is_file():
            raise LossNetUnavailable(f"{arch} weights file not found: {path}")
        return torch.load(path, map_location="cpu", weights_only=True), str(path)
    _, tv_weights = _builder(arch)
    if os.environ.get("METASTYLE_OFFLINE") == "1":
        cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(tv_weights.url).name
        if not cached.is_file():
            raise LossNetUnavailable(f"METASTYLE_OFFLINE=1 and no cached {arch} weights at {cached}")
    return tv_weights.get_state_dict(progress=False), "torchvision-hub"


def _features_state(state: dict) -> dict:
    """Accept a full torchvision VGG state dict or a features-only one."""
    if any(k.startswith("features.") for k in state):
        return {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return state


def load_loss_net(name: str = "auto", layers: tuple[str, ...] = VGG16_LAYERS, *, weights=None,
                  seed: int = 0, device: torch.device | str | None = None) -> LossNet:
    """Build the loss network ``name`` (one of ``CHOICES``) exposing ``layers``.

    Args:
        name: ``auto`` (ImageNet VGG-16 if loadable, else labelled random fallback), ``vgg16``,
            ``vgg16-random``; the ``vgg19`` variants likewise (``auto-vgg19`` for the policy).
        layers: ReLU outputs to return, e.g. ``("relu2_2",)``.
        weights: optional path to a torchvision-format state dict (overrides the environment variable).
        seed: seed of the random initialisation (random variants only; global RNG untouched).
    Raises:
        LossNetUnavailable: an ImageNet network was requested explicitly and its weights cannot be loaded.
    """
    if name not in CHOICES:
        raise ValueError(f"unknown loss network {name!r}; choose one of {', '.join(CHOICES)}")
    arch = "vgg19" if "vgg19" in name else "vgg16"
    build, _ = _builder(arch)
    if name.startswith("auto") or not name.endswith("-random"):
        try:
            state, source = _imagenet_state(arch, weights)
            features = build(arch)
            features.load_state_dict(_features_state(state))
            info = LossNetInfo(arch, name, False, source)
            return LossNet(features, layers, info).to(device)
        except Exception as err:  # noqa: BLE001 - reported below, never swallowed silently
            if not name.startswith("auto"):
                raise LossNetUnavailable(
                    f"cannot load ImageNet {arch} weights ({type(err).__name__}: {err}). Put torchvision's "
                    f"{Path(_builder(arch)[1].url).name} in {Path(torch.hub.get_dir()) / 'checkpoints'}, or "
                    f"pass --vgg-weights PATH / set METASTYLE_{arch.upper()}_WEIGHTS, or use "
                    f"--loss-net {arch}-random (offline)") from None
            warnings.warn(f"ImageNet {arch} weights unavailable ({type(err).__name__}); falling back to "
                          f"{arch}-random: results are not comparable with the paper's", stacklevel=2)
            fallback = True
    else:
        fallback = False
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        features = build(arch)
    info = LossNetInfo(f"{arch}-random", name, fallback, f"random-init seed={seed}")
    return LossNet(features, layers, info).to(device)
