"""The frozen-weight convolution (``method.frozenconv``, the meta-step's ``frozen_dbl`` switch): gradients and
second-order gradients equal ``nn.Conv2d``'s, its double backward counts one convolution where torch's counts
two, and the meta-gradient with it equals the per-task reference (tolerances as tests/test_fastmeta.py)."""
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

from metastyle.method.frozenconv import FrozenConv2d, FrozenWeightError, frozen_conv2d
from metastyle.method.nets import is_instance_norm
from metastyle.method.vgg import load_loss_net
from metastyle.study.lab.perf import LayerFlops, count_flops

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta_tasks import SPEC, grad, rel, setup  # noqa: E402

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


def test_loss_net_with_frozen_convs_shares_weights_and_outputs():
    lnet = load_loss_net("vgg16-random", SPEC.layers).double()
    frozen = lnet.with_frozen_convs()
    assert frozen.layers == lnet.layers and frozen.info == lnet.info
    convs = [m for m in frozen.features if isinstance(m, nn.Conv2d)]
    assert convs and all(type(m) is FrozenConv2d for m in convs)
    assert [p.data_ptr() for p in frozen.parameters()] == [p.data_ptr() for p in lnet.parameters()]
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    a, b = lnet(x), frozen(x)
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------------------------------------- the meta-step
def _setup(dtype, **kw):
    return setup(dtype, **({"k": 2, "size": 16} | kw))  # smaller than test_fastmeta's



CASES = [dict(second_order=True), dict(second_order=False), dict(second_order=True, include=None),
         dict(second_order=True, steps=2, fresh=True)]


@pytest.mark.parametrize("case", CASES)
def test_frozen_dbl_meta_gradient_equals_per_task_reference_float64(case):
    case = dict(case)
    steps, fresh = case.pop("steps", 1), case.pop("fresh", False)
    include = case.pop("include", is_instance_norm)
    net, lnet, tasks = _setup(torch.float64, steps=steps, fresh=fresh)
    s0, g0 = grad(net, lnet, tasks, include=include, shared=False, **case)
    s1, g1 = grad(net, lnet, tasks, include=include, frozen_dbl=True, **case)
    assert rel(g1, g0) < 1e-10
    for key in s0:
        assert s1[key] == pytest.approx(s0[key], rel=1e-10)


def test_frozen_dbl_fp32_and_loss_bf16_close_to_their_references():
    net, lnet, tasks = _setup(torch.float32)
    _, ref = grad(net, lnet, tasks, include=is_instance_norm, shared=False)
    _, g32 = grad(net, lnet, tasks, include=is_instance_norm, frozen_dbl=True)
    _, b16 = grad(net, lnet, tasks, include=is_instance_norm, loss_bf16=True)
    _, fb16 = grad(net, lnet, tasks, include=is_instance_norm, loss_bf16=True, frozen_dbl=True)
    assert rel(g32, ref) < 1e-3
    assert 0 < rel(fb16, ref) < 5e-2  # as loss_bf16 alone (tests/test_fastmeta.py)
    assert rel(fb16, b16) < 5e-2


def _counted(order: str, frozen_dbl: bool) -> dict:
    net, lnet, tasks = _setup(torch.float32)
    with LayerFlops() as counter:
        grad(net, lnet, tasks, include=is_instance_norm, second_order=order == "second", frozen_dbl=frozen_dbl)
    return {p: counter.by_phase.get(p, 0) for p in ("forward", "backward", "double_backward")}


def test_frozen_dbl_drops_one_vgg_forward_per_task_from_the_double_backward():
    """Second order, K tasks on one support batch: each task's inner gradient is differentiated again through the
    whole VGG (to relu4_3) on the B support images; with ``frozen_dbl`` that costs one VGG forward less per
    task, exactly, and nothing else changes. First order has no double backward: the counts are equal."""
    net, lnet, tasks = _setup(torch.float32)
    vgg = count_flops(lnet, tasks[0].support[0])
    before, after = _counted("second", False), _counted("second", True)
    assert after["forward"] == before["forward"] and after["backward"] == before["backward"]
    assert before["double_backward"] - after["double_backward"] == len(tasks) * vgg
    assert _counted("first", True) == _counted("first", False)
