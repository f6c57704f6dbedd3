"""The frozen-weight convolution (``method.frozenconv``): gradients and second-order gradients equal
``nn.Conv2d``'s, and its double backward counts one convolution where torch's counts two."""
import pytest
import torch
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

from metastyle.method.frozenconv import FrozenConv2d, FrozenWeightError, frozen_conv2d
from metastyle.study.perf import LayerFlops, count_flops

pytestmark = pytest.mark.usefixtures("one_thread")

#: (Cin, Cout, kernel, stride, padding, dilation, groups, bias, H): VGG's 3x3/1/1 first, then the others it accepts
CONVS = [(3, 4, 3, 1, 1, 1, 1, True, 6), (4, 6, 3, 2, 1, 1, 2, True, 8), (3, 2, 3, 1, 0, 2, 1, False, 9),
         (2, 3, (3, 1), (2, 1), (0, 1), 1, 1, True, 7)]


def _conv(cin, cout, k, s, p, d, g, bias, dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Conv2d(cin, cout, k, s, p, d, g, bias).to(dtype).requires_grad_(False)


@pytest.mark.parametrize("c", CONVS)
def test_gradcheck_and_gradgradcheck_float64(c):
    conv = _conv(*c[:-1])
    x = torch.randn(2, c[0], c[-1], c[-1] + 1, dtype=torch.float64, requires_grad=True)
    fn = lambda x: frozen_conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation,  # noqa: E731
                                 conv.groups)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def _first_and_second_order(layer, x, v):
    """An inner gradient through ``layer`` (create_graph) and the gradient of an outer loss of it."""
    x = x.clone().requires_grad_(True)
    y = layer(torch.tanh(x))  # a smooth layer before: the second derivative reaches x through it
    g = torch.autograd.grad((y ** 3 * v).sum(), x, create_graph=True)[0]
    h = torch.autograd.grad((g ** 2).sum(), x)[0]
    return y.detach(), g.detach(), h


@pytest.mark.parametrize("c", CONVS)
def test_equals_nn_conv2d_to_second_order(c):
    conv = _conv(*c[:-1])
    frozen = FrozenConv2d.of(conv)
    assert frozen.weight is conv.weight and frozen.bias is conv.bias
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, c[0], c[-1], c[-1] + 1, generator=g, dtype=torch.float64)
    v = torch.randn(conv(x).shape, generator=g, dtype=torch.float64)
    y0, g0, h0 = _first_and_second_order(conv, x, v)
    y1, g1, h1 = _first_and_second_order(frozen, x, v)
    assert torch.equal(y1, y0)  # the same forward op
    torch.testing.assert_close(g1, g0, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h1, h0, rtol=1e-12, atol=1e-12)


def test_refuses_what_it_does_not_compute():
    conv = _conv(3, 4, 3, 1, 1, 1, 1, True)
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    with pytest.raises(FrozenWeightError, match="must not require gradients"):
        FrozenConv2d.of(conv.requires_grad_(True))(x)
    with pytest.raises(ValueError, match="numeric zero padding only"):
        FrozenConv2d(3, 4, 3, padding="same")
    with pytest.raises(ValueError, match="numeric zero padding only"):
        FrozenConv2d(3, 4, 3, padding=1, padding_mode="reflect")


def _phases(layer, x):
    with LayerFlops() as counter:
        _first_and_second_order(layer, x, 1.0)
    return {p: counter.by_phase.get(p, 0) for p in ("forward", "backward", "double_backward")}


def test_double_backward_counts_one_convolution_not_two():
    """torch's conv double backward also runs the (unused) weight-gradient conv: 2 forwards; ours 1."""
    conv = _conv(8, 16, 3, 1, 1, 1, 1, True, dtype=torch.float32)
    x = torch.randn(2, 8, 16, 16)
    f = count_flops(conv, x)
    assert _phases(conv, x) == {"forward": f, "backward": 2 * f, "double_backward": 2 * f}
    assert _phases(FrozenConv2d.of(conv), x) == {"forward": f, "backward": 2 * f, "double_backward": f}


def test_bf16_autocast_matches_nn_conv2d():
    """Under bf16 autocast: the same bf16 output as nn.Conv2d, gradients in the caller's dtype, close values."""
    conv = _conv(3, 4, 3, 1, 1, 1, 1, True, dtype=torch.float32)
    x = torch.randn(2, 3, 8, 8)
    out = []
    for layer in (conv, FrozenConv2d.of(conv)):
        xi = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(layer(xi)[:, :3])  # an fp32 input, then a bf16 one
        g = torch.autograd.grad((y.float() ** 2).sum(), xi, create_graph=True)[0]
        h = torch.autograd.grad((g ** 2).sum(), xi)[0]
        out.append((y, g, h))
    (y0, g0, h0), (y1, g1, h1) = out
    assert y1.dtype == torch.bfloat16 and torch.equal(y1, y0)
    assert g1.dtype == h1.dtype == torch.float32
    torch.testing.assert_close(g1, g0, rtol=2e-2, atol=1e-2)
    torch.testing.assert_close(h1, h0, rtol=5e-2, atol=5e-2)

