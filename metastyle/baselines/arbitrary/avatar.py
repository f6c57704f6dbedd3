"""Sheng et al., "Avatar-Net: Multi-scale Zero-shot Style Transfer by Feature Decoration", CVPR 2018.

Hourglass network: frozen VGG-19 encoder to relu4_1; the *style decorator* at relu4_1 (whiten content and
style features, swap 3x3 patches matched in the whitened space, colour the result with the style's
covariance and mean, blend with the content by ``alpha``); a decoder following the official
``vgg_combined_decoder`` from conv4_1 (3x3 convs, resize-convs where VGG pooled, a 7x7 output conv) whose
skip connections fuse the style's relu3_1 / relu2_1 / relu1_1 features by AdaIN. Trained for image
reconstruction only (pixel + feature loss, the style being the image itself), as in the paper.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from metastyle.baselines.arbitrary import common
from metastyle.baselines.arbitrary.common import RELU_X1, adain, colour, style_swap, whiten
from metastyle.method.losses import tv_loss

LAYERS = RELU_X1[:4]
# (in, out, upsample-before-conv, skip layer fused by AdaIN after this conv)
ARCH = ((512, 256, False, None), (256, 256, True, "relu3_1"), (256, 256, False, None), (256, 256, False, None),
        (256, 128, False, None), (128, 128, True, "relu2_1"), (128, 64, False, None),
        (64, 64, True, "relu1_1"), (64, 64, False, None))
RECIPES = {
    # AvatarNet_config.yml / paper: Adam 1e-4, batch 16, 120k iterations on COCO, pixel + feature loss
    # (weights 1, 1), TV 10 [optimiser details partly UNVERIFIED].
    "paper": dict(iterations=120_000, batch=16, lr=1e-4, size=256, pixel_weight=1.0, content_weight=1.0,
                  tv_weight=10.0),
    "quick": dict(iterations=30, batch=4, lr=1e-3, size=64, tv_weight=0.0, log_every=10),
    "smoke": dict(iterations=3, batch=2, lr=1e-3, size=32, tv_weight=0.0, log_every=1),
}
#: s/iteration of the long schedule on the 2 idle cores. ESTIMATED, not measured (the cores were busy): ~20 GMAC
#: per 128-px image (encoder, hourglass decoder forward and backward, re-encoding) x 8 images at ~80 GMAC/s.
#: Check with `python -m metastyle.study.prior_arts measure avatar`.
LONG_SECONDS_PER_ITERATION: float | None = 2.0
# long (issue 20): the decoder trained as the paper does, by reconstruction only (pixel + feature), which
# converges quickly; Adam 1e-3 for a few hundred steps instead of 1e-4 for 120k; 128 px (one decoder, unlike
# WCT's five, so the larger size fits); 4 contents + 4 styles; no TV, as quick (the paper's weight 10 is for its
# own TV normalisation [UNVERIFIED]).
RECIPES["long"] = dict(iterations=common.iterations_within(LONG_SECONDS_PER_ITERATION), batch=4, lr=1e-3,
                       size=128, tv_weight=0.0, log_every=50)


class HourglassDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1, padding_mode="reflect") for i, o, _, _ in ARCH)
        self.output = nn.Conv2d(64, 3, 7, padding=3, padding_mode="reflect")

    def forward(self, f, skips: dict):
        for conv, (_, _, up, skip) in zip(self.convs, ARCH):
            if up:
                f = F.interpolate(f, scale_factor=2, mode="nearest")
            f = F.relu(conv(f))
            if skip is not None:
                f = adain(f, skips[skip])
        return self.output(f)


def decorate(fc, fs, alpha: float = 1.0, patch: int = 3):
    """Style decorator on (1, C, H, W) features: whitened patch swap, then colouring (paper eq. 4-6)."""
    c, h, w = fc.shape[1:]
    wc, ws = whiten(fc.reshape(c, -1)), whiten(fs.reshape(c, -1))
    swapped = style_swap(wc.reshape(1, c, h, w), ws.reshape(1, c, *fs.shape[2:]), patch)
    out = colour(swapped.reshape(c, -1), fs.reshape(c, -1)).reshape(1, c, h, w)
    return alpha * out + (1 - alpha) * fc


class AvatarNet(nn.Module):
    def __init__(self, encoder_name: str = "auto-vgg19", **enc_kw):
        super().__init__()
        self.encoder = common.encoder(encoder_name, LAYERS, **enc_kw)
        self.decoder = HourglassDecoder()
        self.learned = self.decoder

    def forward(self, content, style, alpha: float = 1.0):
        fc, fs = self.encoder(content)["relu4_1"], self.encoder(style)
        skips = {k: v[:1] for k, v in fs.items()}
        f = torch.cat([decorate(fc[i:i + 1], fs["relu4_1"][:1], alpha) for i in range(len(fc))])
        return self.decoder(f, {k: v.expand(len(fc), -1, -1, -1) for k, v in skips.items()})


def build(encoder_name: str = "auto-vgg19", **enc_kw) -> AvatarNet:
    return AvatarNet(encoder_name, **enc_kw)


def count_params(model: AvatarNet) -> dict:
    vgg, dec = common.full_vgg_params("vgg19"), common.count(model.decoder)
    return {"total": vgg + dec, "learned": dec,
            "parts": {"full VGG-19 checkpoint incl. FC layers (frozen; only features to relu4_1 used)": vgg,
                      "encoder to relu4_1 actually run": common.count(model.encoder), "decoder": dec},
            "convention": "whole VGG-19 classifier checkpoint + hourglass decoder (reproduces 147.22M)"}


def loss(model: AvatarNet, content, style, s: common.TrainSettings):
    images = torch.cat([content, style])
    feats = model.encoder(images)
    out = model.decoder(feats["relu4_1"], feats)
    fo = model.encoder(out)
    pix = F.mse_loss(out, images)
    feat = sum(F.mse_loss(fo[n], feats[n]) for n in LAYERS)
    total = s.pixel_weight * pix + s.content_weight * feat + s.tv_weight * tv_loss(out)
    return total, {"pixel": pix.item(), "feature": feat.item()}


@torch.inference_mode()
def stylize(model: AvatarNet, content, style, alpha: float = 1.0):
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    x, (h, w) = common.pad_to_multiple(content)
    y, _ = common.pad_to_multiple(style)
    return model(x, y, alpha)[..., :h, :w].clamp(0, 1)
