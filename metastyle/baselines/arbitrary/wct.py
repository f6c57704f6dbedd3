"""Li et al., "Universal Style Transfer via Feature Transforms", NeurIPS 2017 (WCT).

Five frozen VGG-19 encoders (to relu1_1 ... relu5_1) and five mirrored decoders trained only to *invert*
them (pixel reconstruction + feature loss, no style loss). Stylisation whitens the content features and
colours them with the style's covariance, coarse to fine: relu5_1 -> decoder5 -> relu4_1 -> ... -> decoder1.
Our five "encoders" are one shared torchvision VGG-19 truncated at relu5_1 (the truncations of one network
are the same functions); parameter counts add the five truncations separately, as the paper's model files do.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from metastyle.baselines.arbitrary import common
from metastyle.baselines.arbitrary.common import RELU_X1, MirrorDecoder, wct

RECIPES = {
    # Li et al.: decoders trained on COCO with pixel + feature reconstruction, lambda = 1. The optimiser
    # settings are not in the paper; these follow the official Torch training script [UNVERIFIED here].
    "paper": dict(iterations=100_000, batch=8, lr=1e-4, size=256, content_weight=1.0, pixel_weight=1.0),
    "quick": dict(iterations=20, batch=4, lr=1e-3, size=64, log_every=10),
    "smoke": dict(iterations=3, batch=2, lr=1e-3, size=32, log_every=1),
}
#: s/iteration of the long schedule on the 2 idle cores. ESTIMATED, not measured (the cores were busy): five
#: decoders, each run forward and backward and its output re-encoded, ~16 GMAC per 64-px image, x 8 images at
#: ~80 GMAC/s. Check with `python -m metastyle.study.prior_arts measure wct`.
LONG_SECONDS_PER_ITERATION: float | None = 1.7
# long (issue 20): decoders trained as the paper does, by reconstruction only, which converges in hundreds of
# steps at Adam 1e-3. 64 px, the long profile's figure size: one WCT step trains five decoders (relu5_1's costs as
# much as the four others together), so 128 px would leave ~150 steps; 4 contents + 4 styles per step.
RECIPES["long"] = dict(iterations=common.iterations_within(LONG_SECONDS_PER_ITERATION), batch=4, lr=1e-3,
                       size=64, log_every=50)


class WCTNet(nn.Module):
    def __init__(self, encoder_name: str = "auto-vgg19", **enc_kw):
        super().__init__()
        self.encoder = common.encoder(encoder_name, RELU_X1, **enc_kw)
        self.decoders = nn.ModuleList(MirrorDecoder(k) for k in range(1, 6))
        # truncations of the same frozen convs (a plain list: no extra parameters or state)
        self.levels = [common.encoder(encoder_name, (n,), **enc_kw) for n in RELU_X1]
        self.learned = self.decoders

    def forward(self, content, style, alpha: float = 0.6, levels=(5, 4, 3, 2, 1)):
        x, fs = content, self.encoder(style)
        for k in levels:
            name = RELU_X1[k - 1]
            fc = self.levels[k - 1](x)[name]
            x = self.decoders[k - 1](torch.cat([wct(fc[i:i + 1], fs[name][i:i + 1], alpha)
                                                for i in range(fc.shape[0])]))
        return x


def build(encoder_name: str = "auto-vgg19", **enc_kw) -> WCTNet:
    return WCTNet(encoder_name, **enc_kw)


def count_params(model: WCTNet) -> dict:
    encs = {f"encoder to relu{k}_1 (frozen)": common.truncated_encoder_params(k) for k in range(1, 6)}
    decs = {f"decoder{k}": common.count(d) for k, d in enumerate(model.decoders, start=1)}
    learned = sum(decs.values())
    return {"total": sum(encs.values()) + learned, "learned": learned, "parts": {**encs, **decs},
            "shared_encoder_built": common.count(model.encoder),
            "convention": "five truncated VGG-19 encoders + five mirrored decoders (34.24M; table 34.23M)"}


def loss(model: WCTNet, content, style, s: common.TrainSettings):
    """Sum over the five independent decoders of pixel MSE + feature MSE at their own layer."""
    images = torch.cat([content, style])
    feats = model.encoder(images)
    total, parts = 0.0, {}
    for k, dec in enumerate(model.decoders, start=1):
        name = RELU_X1[k - 1]
        out = dec(feats[name])
        pix = F.mse_loss(out, images)
        feat = F.mse_loss(model.levels[k - 1](out)[name], feats[name])
        total = total + s.pixel_weight * pix + s.content_weight * feat
        parts[f"d{k}"] = (pix + feat).item()
    return total, parts


@torch.inference_mode()
def stylize(model: WCTNet, content, style, alpha: float = 0.6):
    """``alpha`` blends whitened-coloured and content features at every level (paper eq. 3; 0.6 default)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    x, (h, w) = common.pad_to_multiple(content)
    y, _ = common.pad_to_multiple(style)
    return model(x, y, alpha)[..., :h, :w].clamp(0, 1)


def load_official(model: WCTNet, decoder_paths) -> None:
    """Load five PyTorch-port decoder state dicts (relu1_1 ... relu5_1 order), e.g. converted
    ``feature_invertor_conv{k}_1`` files: any dict whose 4-D ``*.weight`` tensors, in layer order, have the
    shapes of ``MirrorDecoder(k)``'s convs (plus matching ``*.bias``). Trained against the normalised Caffe
    VGG-19, so results with our torchvision encoder are approximate."""
    if len(decoder_paths) != 5:
        raise ValueError("WCT needs five decoder files, relu1_1 ... relu5_1")
    for dec, path in zip(model.decoders, decoder_paths):
        common.load_sequential_convs(dec, path)
