"""Perceptual losses (Gatys et al. 2016; Johnson et al. 2016), as pure functions over loss-net features.

Normalisation (paper Sec. 2 vs the official code; docs/paper-vs-code.md §1): ``norm="official"`` (default)
follows the official MetaStyle code, which takes ``MSELoss`` of CHW-normalised Grams (mean over B*C*C: an
extra 1/C^2 per layer compared with the paper) and MSE of relu2_2 features; the published weights alpha=1,
beta=1e5 assume it. ``norm="paper"`` uses the paper's squared Frobenius norm of the Grams (sum over C*C, mean
over the batch). Nothing here mutates its inputs.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import torch

from metastyle.method.vgg import VGG16_LAYERS

NORMS = ("official", "paper")
Features = dict[str, torch.Tensor]


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """Which layers and weights make the perceptual loss."""

    content_weight: float = 1.0          # alpha (official)
    style_weight: float = 1e5            # beta (official, ImageNet VGG-16 with the official norm)
    tv_weight: float = 0.0               # neither paper nor code uses TV; available as an option
    content_layer: str = "relu2_2"
    style_layers: tuple[str, ...] = VGG16_LAYERS
    norm: str = "official"

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"loss norm must be one of {NORMS}, got {self.norm!r}")

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.style_layers, self.content_layer)))


class Loss(NamedTuple):
    total: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor


def gram(feat: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by C*H*W as in Johnson et al. (Gatys uses no normalisation)."""
    b, c, h, w = feat.shape
    f = feat.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)  # (B, C, C)


def grams(feats: Features, layers) -> Features:
    return {name: gram(feats[name]) for name in layers}


def content_loss(out: Features, target: Features, layer: str = "relu2_2") -> torch.Tensor:
    """Mean squared feature difference at ``layer`` (1/N_i in the paper, MSE in the code: the same)."""
    return torch.mean((out[layer] - target[layer]) ** 2)


def style_loss(out_grams: Features, target_grams: Features, norm: str = "official") -> torch.Tensor:
    """Sum over layers of the Gram distance; targets of batch 1 broadcast over the output batch."""
    total = 0.0
    for name, g in out_grams.items():
        sq = (g - target_grams[name]) ** 2  # (B, C, C)
        total = total + (sq.mean() if norm == "official" else sq.sum(dim=(1, 2)).mean())
    return total


def tv_loss(img: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation (mean absolute neighbour difference)."""
    return (img[..., 1:, :] - img[..., :-1, :]).abs().mean() + (img[..., 1:] - img[..., :-1]).abs().mean()


def style_targets(loss_net, style: torch.Tensor, spec: LossSpec) -> Features:
    """Gram targets of a style image ``(1, 3, H, W)``: computed once per style, never per step."""
    with torch.no_grad():
        return grams(loss_net(style), spec.style_layers)


def content_targets(loss_net, content: torch.Tensor, spec: LossSpec) -> Features:
    """Content features of a batch: computed once per batch and reused across tasks and steps."""
    with torch.no_grad():
        return {spec.content_layer: loss_net(content)[spec.content_layer]}


def perceptual_loss(loss_net, out: torch.Tensor, content_feats: Features, style_grams: Features,
                    spec: LossSpec) -> Loss:
    """alpha * content + beta * style (+ tv) of the stylised batch ``out`` (images in [0, 1])."""
    return loss_of_features(loss_net(out), out, content_feats, style_grams, spec)


def loss_of_features(feats: Features, out: torch.Tensor, content_feats: Features, style_grams: Features,
                     spec: LossSpec) -> Loss:
    """``perceptual_loss`` given the loss-net features ``feats`` of ``out`` (computed once, reused)."""
    c = spec.content_weight * content_loss(feats, content_feats, spec.content_layer)
    s = spec.style_weight * style_loss(grams(feats, spec.style_layers), style_grams, spec.norm)
    t = spec.tv_weight * tv_loss(out) if spec.tv_weight else out.new_zeros(())
    return Loss(c + s + t, c, s, t)
