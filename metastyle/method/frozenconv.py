"""A frozen-weight convolution whose double backward runs one convolution, not two (the ``frozen_dbl`` lever).

Why: torch's double backward of a convolution (``_convolution_double_backward``, torch 2.14) computes the
weight-gradient term conv(ggI, gO) whenever the incoming ggI is defined, even when the weight needs no
gradient (a frozen VGG), and throws it away: two convolutions where the gradient w.r.t. gO alone needs one
(docs/performance.md, "Efficiency accounting"). Here the backward is written with a differentiable op,
gx = conv_transpose2d(gy, W) (the input gradient of a convolution), and no weight gradient; autograd of that
backward w.r.t. gy is conv_transpose2d's own input gradient, one convolution, and nothing else. It needs
neither x (a convolution is linear in x) nor a second derivative w.r.t. x (which is zero).

Same forward op (``F.conv2d``, same arguments), so forward outputs are bitwise those of ``nn.Conv2d``;
gradients and second-order gradients equal ``nn.Conv2d``'s up to float rounding (``tests/test_frozenconv.py``).
Under autocast the inputs are cast as autocast casts a conv's (every floating tensor but float64, to its
dtype), outside the custom function, so the backward runs in the forward's dtype and returns gradients in the caller's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FrozenWeightError(ValueError):
    """A frozen convolution was asked for a weight gradient it never computes."""


def _input_grad(gy, weight, stride, padding, dilation, groups, size):
    """The gradient w.r.t. the input of ``conv2d(x, weight, ...)`` with ``x`` of spatial ``size``: a transposed
    convolution of ``gy`` (differentiable: its double backward w.r.t. ``gy`` is one convolution)."""
    k = weight.shape[-2:]
    full = [(n - 1) * s - 2 * p + d * (kk - 1) + 1
            for n, s, p, d, kk in zip(gy.shape[-2:], stride, padding, dilation, k)]
    extra = tuple(want - got for want, got in zip(size, full))  # rows/columns the strided forward never read
    with torch.autocast(gy.device.type, enabled=False):  # as a built-in backward: run in the saved dtypes
        return F.conv_transpose2d(gy, weight, None, stride, padding, extra, groups, dilation)


class _FrozenConv2d(torch.autograd.Function):
    @staticmethod
    def forward(x, weight, bias, stride, padding, dilation, groups):
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, _, stride, padding, dilation, groups = inputs
        ctx.save_for_backward(weight)  # not x: the input gradient of a convolution does not depend on it
        ctx.conv = stride, padding, dilation, groups, tuple(x.shape[-2:])

    @staticmethod
    def backward(ctx, gy):
        (weight,) = ctx.saved_tensors
        gx = _input_grad(gy, weight, *ctx.conv) if ctx.needs_input_grad[0] else None
        return gx, None, None, None, None, None, None


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def frozen_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride=1,
                  padding=0, dilation=1, groups: int = 1) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, ...)`` for a frozen ``weight`` and ``bias`` (no gradient), with the lean
    double backward described above. Numeric ``padding`` only (zeros); any stride, dilation and groups.

    Raises:
        FrozenWeightError: ``weight`` or ``bias`` requires a gradient (it would be silently dropped).
    """
    if weight.requires_grad or (bias is not None and bias.requires_grad):
        raise FrozenWeightError("frozen_conv2d: the weight and bias must not require gradients (it never "
                                "computes them); use torch.nn.functional.conv2d for a trainable convolution")
    if isinstance(padding, str):
        raise ValueError(f"frozen_conv2d: padding must be numbers, not {padding!r}")
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    if not (torch.is_grad_enabled() and x.requires_grad):  # nothing to differentiate: the built-in op
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups)
    dev = x.device.type
    if torch.is_autocast_enabled(dev):  # the casts autocast makes for a conv, made here so backward sees them
        low = torch.get_autocast_dtype(dev)
        x, weight, bias = (t.to(low) if t is not None and t.is_floating_point() and t.dtype != torch.float64
                           else t for t in (x, weight, bias))
    with torch.autocast(dev, enabled=False):
        return _FrozenConv2d.apply(x, weight, bias, stride, padding, dilation, groups)


class FrozenConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` (same attributes and state-dict keys) that runs ``frozen_conv2d``.

    ``FrozenConv2d.of(conv)`` shares ``conv``'s weight and bias tensors (no copies). Only
    ``padding_mode="zeros"`` and numeric padding are accepted (``ValueError`` otherwise); running it with a
    weight that requires gradients raises ``FrozenWeightError``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros" or isinstance(self.padding, str):
            raise ValueError(f"FrozenConv2d supports numeric zero padding only, got padding={self.padding!r}, "
                             f"padding_mode={self.padding_mode!r}")

    @classmethod
    def of(cls, conv: nn.Conv2d) -> FrozenConv2d:
        """A ``FrozenConv2d`` with ``conv``'s settings and its very weight and bias tensors."""
        new = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                  conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode, device="meta")
        new.weight, new.bias = conv.weight, conv.bias  # shared, not copied (meta init: nothing allocated)
        return new

    def _conv_forward(self, x, weight, bias):
        return frozen_conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)
