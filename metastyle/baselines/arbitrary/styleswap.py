"""Chen & Schmidt, "Fast Patch-based Style Transfer of Arbitrary Style", 2016 (Style-Swap).

Patch swap at relu3_1 (3x3 patches; normalised cross-correlation as a convolution with the normalised style
patches, argmax one-hot, transposed convolution with the raw patches averaged over overlaps), and an inverse
network trained to invert VGG features: the mirror of the encoder with InstanceNorm (the official
``train-vgg-decoder.lua --instanceNorm``), loss = MSE between f(g(z)) and z on both plain and style-swapped
features z, plus TV 1e-6.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from metastyle.baselines.arbitrary import common
from metastyle.baselines.arbitrary.common import MirrorDecoder, style_swap
from metastyle.method.losses import tv_loss

LAYER = "relu3_1"
RECIPES = {
    # train-vgg-decoder.lua defaults: Adam 1e-3, decay 1e-4, 2 contents + 2 styles, 80k iterations, TV 1e-6.
    "paper": dict(iterations=80_000, batch=2, lr=1e-3, lr_decay=1e-4, size=256, tv_weight=1e-6),
    "quick": dict(iterations=40, batch=2, size=64, log_every=10),
    "smoke": dict(iterations=3, batch=2, size=32, log_every=1),
}
#: s/iteration of the long schedule on the 2 idle cores. ESTIMATED, not measured (the cores were busy): eight
#: relu3_1 maps per step (2 contents, 2 styles, 4 swaps), ~9 GMAC each at 128 px through the inverse net and back,
#: ~80 GMAC/s, plus the swaps. Check with `python -m metastyle.study.prior_arts measure styleswap`.
LONG_SECONDS_PER_ITERATION: float | None = 1.2
# long (issue 20): the official recipe (Adam 1e-3, decay 1e-4, 2 + 2 images, TV 1e-6) at 128 px: the inverse
# net is the smallest network here and inverts relu3_1 only, so it converges in the fewest steps.
RECIPES["long"] = dict(iterations=common.iterations_within(LONG_SECONDS_PER_ITERATION), size=128, log_every=50)


class StyleSwapNet(nn.Module):
    def __init__(self, encoder_name: str = "auto-vgg19", **enc_kw):
        super().__init__()
        self.encoder = common.encoder(encoder_name, (LAYER,), **enc_kw)
        self.inverse = MirrorDecoder(3, norm="instance")
        self.learned = self.inverse

    def forward(self, content, style, patch: int = 3):
        fc, fs = self.encoder(content)[LAYER], self.encoder(style)[LAYER]
        swapped = torch.cat([style_swap(fc[i:i + 1], fs[min(i, len(fs) - 1)][None], patch)
                             for i in range(fc.shape[0])])
        return self.inverse(swapped)


def build(encoder_name: str = "auto-vgg19", **enc_kw) -> StyleSwapNet:
    return StyleSwapNet(encoder_name, **enc_kw)


def count_params(model: StyleSwapNet) -> dict:
    enc, inv = common.count(model.encoder), common.count(model.inverse)
    return {"total": enc + inv, "learned": inv, "parts": {"encoder to relu3_1 (frozen)": enc, "inverse net": inv},
            "convention": "VGG-19 to relu3_1 + inverse net (1.11M); no counting we tried gives the table's 1.48M"}


def loss(model: StyleSwapNet, content, style, s: common.TrainSettings):
    with torch.no_grad():
        fc, fs = model.encoder(content)[LAYER], model.encoder(style)[LAYER]
        swapped = [style_swap(fc[i:i + 1], fs[j:j + 1]) for i in range(len(fc)) for j in range(len(fs))]
        z = torch.cat([fc, fs, *swapped])
    out = model.inverse(z)
    feat = F.mse_loss(model.encoder(out)[LAYER], z)
    tv = tv_loss(out)
    return feat + s.tv_weight * tv, {"feature": feat.item()}


@torch.inference_mode()
def stylize(model: StyleSwapNet, content, style, patch: int = 3):
    x, (h, w) = common.pad_to_multiple(content)
    y, _ = common.pad_to_multiple(style)
    return model(x, y, patch)[..., :h, :w].clamp(0, 1)
