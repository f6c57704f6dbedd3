"""Shen, Yan & Zeng, "Neural Style Transfer via Meta Networks", CVPR 2018.

A meta network maps the style's VGG-16 statistics (per-channel mean and std of relu1_2, relu2_2, relu3_3,
relu4_3: 1920 numbers) through a hidden FC layer (14 groups x 128, ReLU) and one FC per group to the weights
and biases of the 14 inner convolutions of an image transformation network (base width 32: two stride-2
convs, five residual blocks, two upsampling convs, InstanceNorm); the 9x9 first and last convs are ordinary
trained weights. Trained end to end with Johnson's perceptual loss, a new style every iteration.
The layout follows the official Caffe prototxt (14 groups of 128 hidden units, base 32) and the widely used
PyTorch port (ypwhs/MetaNet), whose count reproduces Table 1 (see ``count_params``). Deviation: the output
goes through a sigmoid to stay in [0, 1] (as ``metastyle.method.nets.TransformerNet``).
"""
from __future__ import annotations

import functools

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from metastyle.baselines.arbitrary import common
from metastyle.method import losses
from metastyle.method.vgg import VGG16_LAYERS, load_loss_net

VGG16_OF = {"auto-vgg19": "auto", "vgg19": "vgg16", "vgg19-random": "vgg16-random", "vgg16-caffe": "vgg16-caffe",
            "auto": "auto", "vgg16": "vgg16", "vgg16-random": "vgg16-random"}
RECIPES = {
    # Shen et al. / the PyTorch port: Adam 1e-3, 4 contents per style, content 1, style weight as the
    # study's calibrated VGG-16 default (1e5 with official Gram normalisation) [iterations UNVERIFIED].
    "paper": dict(iterations=200_000, batch=4, lr=1e-3, size=256, style_weight=1e5),
    "quick": dict(iterations=15, batch=2, size=64, log_every=5),
    "smoke": dict(iterations=3, batch=2, size=32, log_every=1),
}
#: s/iteration of the long schedule on the 2 idle cores, measured (not estimated: Adam over the 217M-parameter
#: hypernetwork moves ~3.5 GB of memory a step, which no FLOP count sees) with `python -m metastyle.study.prior_arts
#: measure metanet`: 2.51 s (2026-11-29, 3 iterations after a warm-up). Unset, training under long is a one-line error.
LONG_SECONDS_PER_ITERATION: float | None = 2.5
# long (issue 20): 128 px, 4 contents per style as Shen et al., the recipe's Adam 1e-3; as many iterations as fit
# the plan at the measured rate.
RECIPES["long"] = dict(iterations=common.iterations_within(LONG_SECONDS_PER_ITERATION), batch=4, size=128,
                       log_every=25)


class ConvLayer(nn.Module):
    def __init__(self, c_in, c_out, kernel, stride=1, upsample=False, norm=True, relu=True):
        super().__init__()
        self.upsample, self.norm, self.relu = upsample, norm, relu
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, padding_mode="reflect")

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.conv(x)
        x = F.instance_norm(x) if self.norm else x
        return F.relu(x) if self.relu else x


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = ConvLayer(c, c, 3), ConvLayer(c, c, 3, relu=False)

    def forward(self, x):
        return x + self.b(self.a(x))


class TransformNet(nn.Module):
    """Its 14 inner convs are slots whose weights the meta network writes (frozen placeholders here)."""

    def __init__(self, base: int = 32):
        super().__init__()
        self.first = ConvLayer(3, base, 9)
        self.body = nn.Sequential(ConvLayer(base, base * 2, 3, 2), ConvLayer(base * 2, base * 4, 3, 2),
                                  *[Residual(base * 4) for _ in range(5)],
                                  ConvLayer(base * 4, base * 2, 3, upsample=True),
                                  ConvLayer(base * 2, base, 3, upsample=True))
        self.last = ConvLayer(base, 3, 9, norm=False, relu=False)
        self.body.requires_grad_(False)

    def generated(self) -> dict[str, torch.Size]:
        return {f"body.{k}": p.shape for k, p in self.body.named_parameters()}

    def forward(self, x):
        return torch.sigmoid(self.last(self.body(self.first(x))))


class MetaNet(nn.Module):
    def __init__(self, slots: dict[str, torch.Size], n_in: int = 1920, group: int = 128):
        super().__init__()
        convs = sorted({k.rsplit(".", 1)[0] for k in slots}, key=common._layer_order)
        self.slots, self.convs, self.group = slots, convs, group
        self.hidden = nn.Linear(n_in, group * len(convs))
        self.fcs = nn.ModuleList(nn.Linear(group, slots[c + ".weight"].numel() + slots[c + ".bias"].numel())
                                 for c in convs)

    def forward(self, stats: torch.Tensor) -> dict[str, torch.Tensor]:
        """(1920,) style statistics -> {slot name: tensor} for the transformation network."""
        h = F.relu(self.hidden(stats)).split(self.group)
        out = {}
        for conv, fc, hi in zip(self.convs, self.fcs, h):
            flat, w = fc(hi), self.slots[conv + ".weight"]
            out[conv + ".weight"], out[conv + ".bias"] = flat[: w.numel()].view(w), flat[w.numel():]
        return out


@functools.lru_cache(maxsize=2)
def _vgg16(name: str, weights=None, seed: int = 0):
    return load_loss_net(name, VGG16_LAYERS, weights=weights, seed=seed)


class MetaNetworks(nn.Module):
    def __init__(self, encoder_name: str = "auto-vgg19", base: int = 32, **enc_kw):
        super().__init__()
        if encoder_name not in VGG16_OF:
            raise common.ConfigError(f"unknown encoder {encoder_name!r}; choose one of {', '.join(VGG16_OF)}")
        self.encoder = _vgg16(VGG16_OF[encoder_name], **enc_kw)  # Shen et al.: VGG-16
        self.transform = TransformNet(base)
        n_in = 2 * sum(self.encoder(torch.zeros(1, 3, 32, 32))[n].shape[1] for n in VGG16_LAYERS)
        self.meta = MetaNet(self.transform.generated(), n_in)
        self.learned = nn.ModuleDict({"meta": self.meta, "first": self.transform.first,
                                      "last": self.transform.last})

    def style_stats(self, style):
        feats = self.encoder(style[:1])
        return torch.cat([t.flatten() for n in VGG16_LAYERS for t in common.mean_std(feats[n])])

    def forward(self, content, style):
        weights = self.meta(self.style_stats(style))
        return functional_call(self.transform, weights, (content,), strict=False)


def build(encoder_name: str = "auto-vgg19", base: int = 32, **enc_kw) -> MetaNetworks:
    return MetaNetworks(encoder_name, base, **enc_kw)


def count_params(model: MetaNetworks) -> dict:
    meta, tnet = common.count(model.meta), common.count(model.transform)
    slots = sum(p.numel() for p in model.transform.body.parameters())
    return {"total": meta + tnet, "learned": meta + tnet - slots,
            "parts": {"meta network": meta, "transformation network (incl. generated-weight slots)": tnet,
                      "generated-weight slots": slots, "VGG-16 style encoder (frozen, not counted)":
                      common.count(model.encoder)},
            "convention": "meta network + transformation network with its generated-conv slots, as the "
                          "PyTorch port's modules hold them (reproduces 219.32M); VGG-16 not counted"}


def loss(model: MetaNetworks, content, style, s: common.TrainSettings):
    spec = losses.LossSpec(content_weight=s.content_weight, style_weight=s.style_weight)
    out = model(content, style[:1])
    grams = losses.style_targets(model.encoder, style[:1], spec)
    parts = losses.perceptual_loss(model.encoder, out, losses.content_targets(model.encoder, content, spec),
                                   grams, spec)
    return parts.total, {"content": parts.content.item(), "style": parts.style.item()}


@torch.inference_mode()
def stylize(model: MetaNetworks, content, style):
    x, (h, w) = common.pad_to_multiple(content, 4)
    y, _ = common.pad_to_multiple(style, 4)
    return torch.cat([model(x[i:i + 1], y) for i in range(len(x))])[..., :h, :w].clamp(0, 1)
