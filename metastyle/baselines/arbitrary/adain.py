"""Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization", ICCV 2017.

Frozen VGG-19 encoder up to relu4_1, AdaIN at relu4_1, a decoder mirroring the encoder (nearest upsampling,
reflection padding, no normalisation). Loss: content = MSE(f(g(t)), t) at relu4_1 against the AdaIN target t;
style = sum over relu1_1..relu4_1 of MSE of per-channel means + MSE of per-channel stds (eq. 11).
Deviation: the original encoder is a *normalised* Caffe VGG-19 (``vgg_normalised.t7``, with a leading 1x1
conv that turns RGB [0,255] into BGR minus the mean); ours is torchvision's VGG-19 with ImageNet
normalisation, so official decoder weights only fit together with the official encoder (see ``load_official``).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from metastyle.baselines.arbitrary import common
from metastyle.baselines.arbitrary.common import RELU_X1, MirrorDecoder, adain, mean_std

LAYERS = RELU_X1[:4]
RECIPES = {
    # pytorch-AdaIN / the paper: Adam 1e-4, lr decay 5e-5, batch 8, 160k iterations, style weight 10,
    # 512 px resize then 256 px random crops (we resize+centre-crop to 256).
    "paper": dict(iterations=160_000, batch=8, lr=1e-4, lr_decay=5e-5, size=256, style_weight=10.0),
    "quick": dict(iterations=30, batch=4, lr=1e-3, size=64, log_every=10),  # 2 CPU cores
    "smoke": dict(iterations=3, batch=2, lr=1e-3, size=32, log_every=1),
}
#: s/iteration of the long schedule on the 2 idle cores. ESTIMATED, not measured (the cores were busy): ~23 GMAC
#: per 128-px image (encoder twice, decoder forward and backward, re-encoding with input gradients) x 4 at the
#: ~80 GMAC/s the 128-px adaptation step reaches. Check with `python -m metastyle.study.prior_arts measure adain`.
LONG_SECONDS_PER_ITERATION: float | None = 1.2
# long (issue 20): 128 px, where a 64-px decoder had too few pixels per style statistic, and batch 4 rather than
# the paper's 8: at this budget the number of decoder updates is what is short, and 4 contents still give each
# step four style statistics. Adam 5e-4 (5x the paper's: ~800 instead of 160,000 updates), the paper's decay.
RECIPES["long"] = dict(iterations=common.iterations_within(LONG_SECONDS_PER_ITERATION), batch=4, lr=5e-4,
                       size=128, log_every=50)


class AdaINNet(nn.Module):
    def __init__(self, encoder_name: str = "auto-vgg19", **enc_kw):
        super().__init__()
        self.encoder = common.encoder(encoder_name, LAYERS, **enc_kw)
        self.decoder = MirrorDecoder(4)
        self.learned = self.decoder

    def forward(self, content, style, alpha: float = 1.0):
        fc, fs = self.encoder(content)["relu4_1"], self.encoder(style)["relu4_1"]
        t = adain(fc, fs)
        return self.decoder(alpha * t + (1 - alpha) * fc)


def build(encoder_name: str = "auto-vgg19", **enc_kw) -> AdaINNet:
    return AdaINNet(encoder_name, **enc_kw)


def count_params(model: AdaINNet) -> dict:
    enc, dec = common.count(model.encoder), common.count(model.decoder)
    return {"total": enc + dec, "learned": dec, "parts": {"encoder to relu4_1 (frozen)": enc, "decoder": dec},
            "convention": "VGG-19 encoder up to relu4_1 + mirrored decoder (reproduces 7.01M)"}


def loss(model: AdaINNet, content, style, s: common.TrainSettings):
    fs = model.encoder(style)
    t = adain(model.encoder(content)["relu4_1"], fs["relu4_1"])
    out = model.decoder(t)
    fo = model.encoder(out)
    c_loss = F.mse_loss(fo["relu4_1"], t)
    s_loss = sum(F.mse_loss(a, b) for n in LAYERS
                 for a, b in zip(mean_std(fo[n]), mean_std(fs[n])))
    total = s.content_weight * c_loss + s.style_weight * s_loss
    return total, {"content": c_loss.item(), "style": s_loss.item()}


@torch.inference_mode()
def stylize(model: AdaINNet, content, style, alpha: float = 1.0):
    """Content-style trade-off ``alpha`` in [0, 1] interpolates relu4_1 features (paper eq. 14)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    x, (h, w) = common.pad_to_multiple(content)
    y, _ = common.pad_to_multiple(style)
    return model(x, y, alpha)[..., :h, :w].clamp(0, 1)


def load_official(model: AdaINNet, decoder_path) -> None:
    """Load naoto0804/pytorch-AdaIN's ``decoder.pth`` into ``model.decoder``.

    Expected keys: ``"1.weight", "1.bias", "5.weight", ...`` (an ``nn.Sequential`` of ReflectionPad2d, Conv2d,
    ReLU and Upsample in the same order as ``MirrorDecoder(4)``); conv shapes must match exactly.
    Those weights were trained against the *normalised Caffe* VGG-19 (``vgg_normalised.pth``), not
    torchvision's; pass that file to ``common.load_normalised_vgg`` for faithful results.
    """
    common.load_sequential_convs(model.decoder.body, decoder_path)
