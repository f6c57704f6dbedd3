"""The image transformation network of MetaStyle (Johnson et al. 2016 layout, official MetaStyle variant).

Image convention, used everywhere in ``metastyle``: an image is a float tensor ``(B, 3, H, W)`` with RGB
values in ``[0, 1]``. The official code feeds the network raw ``[0, 255]`` pixels; we keep that scale
*inside* the network (``TransformerNet.input_scale``) so the official learning rates (inner SGD 1e-5, outer
Adam 1e-5) act on the same first-layer gradients, while callers never see another range. The output is a
sigmoid, so it lies in ``[0, 1]`` as well.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from metastyle.errors import CheckpointError
from metastyle.infra import checkpoint

#: Names of the InstanceNorm affine parameters (``in1``..``in5`` and ``resK.in1/in2``): the official code's
#: fast weights in the inner loop (3,200 scalars).
IN_PATTERN = re.compile(r"(^|\.)in\d+\.")

#: H and W must be multiples of this (two stride-2 convs, two x2 upsamples) for the output to keep the size.
SIZE_MULTIPLE = 4
#: Smallest side the network accepts: the 9x9 reflection pad needs more than 4 pixels, and the 3x3 pads of
#: the 4x-downsampled features more than 1. We refuse anything under 16 px rather than pad it into mush.
MIN_SIDE = 16


def is_instance_norm(name: str) -> bool:
    """True for the InstanceNorm affine parameters (the official inner-loop fast weights)."""
    return IN_PATTERN.search(name) is not None


class ConvLayer(nn.Module):
    """Reflection padding followed by a convolution, as in Johnson et al. (no zero padding)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel // 2)
        # The conv bias before InstanceNorm receives zero gradient, but the official network has it and the
        # paper's 1,679,235 parameter count includes it, so we keep it.
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride)

    def forward(self, x):
        return self.conv(self.pad(x))


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour x2 upsampling then a conv: avoids the checkerboard of transposed convs (Odena 2016)."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.conv = ConvLayer(c_in, c_out, kernel)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResidualBlock(nn.Module):
    """conv-IN-ReLU-conv-IN plus identity, no ReLU after the sum (Gross and Wilber's variant, as in Johnson)."""

    def __init__(self, channels: int = 128):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class TransformerNet(nn.Module):
    """Encoder (3 convs) / 5 residual blocks / decoder (2 upsample-convs, 1 conv), sigmoid output.

    Exactly 1,679,235 parameters, 3,200 of them InstanceNorm affine. No buffers, so a parameter dict is a
    complete state (what the functional fast-weights API relies on).
    """

    input_scale = 255.0  # official input range is [0, 255]; see the module docstring

    def __init__(self):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ConvLayer(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ConvLayer(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        self.res1, self.res2, self.res3, self.res4, self.res5 = (ResidualBlock(128) for _ in range(5))
        self.deconv1, self.in4 = UpsampleConvLayer(128, 64, 3), nn.InstanceNorm2d(64, affine=True)
        self.deconv2, self.in5 = UpsampleConvLayer(64, 32, 3), nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``(B, 3, H, W)`` in [0, 1] (H, W multiples of 4) to stylised images in [0, 1]."""
        y = x * self.input_scale
        y = F.relu(self.in1(self.conv1(y)))
        y = F.relu(self.in2(self.conv2(y)))  # (B, 64, H/2, W/2)
        y = F.relu(self.in3(self.conv3(y)))  # (B, 128, H/4, W/4)
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return torch.sigmoid(self.deconv3(y))


def random_init(seed: int = 0) -> TransformerNet:
    """A fresh TransformerNet with PyTorch's default initialisation drawn from ``seed`` (on the CPU), leaving
    the global RNG as it was: the same seed gives the same weights wherever it is called."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformerNet()


def count_parameters(net: nn.Module, include=None) -> int:
    """Number of scalars in ``net``'s parameters whose name passes ``include`` (all when None)."""
    return sum(p.numel() for n, p in net.named_parameters() if include is None or include(n))


def load_model(path: str | Path, device=None) -> tuple[TransformerNet, dict]:
    """A ``TransformerNet`` from any metastyle checkpoint (``checkpoint.model_record``), plus its metadata."""
    obj = checkpoint.load(path, "metastyle-model")
    if obj.get("arch", "TransformerNet") != "TransformerNet":
        raise CheckpointError(f"{path} holds a {obj.get('arch')} model, not a TransformerNet")
    net = TransformerNet()
    checkpoint.load_weights(net, obj.get("model"), Path(path), "TransformerNet")
    meta = {k: v for k, v in obj.items() if k not in ("model", "optimizer", "rng")}
    return net.to(device), meta
