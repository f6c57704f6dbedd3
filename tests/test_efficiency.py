"""Efficiency accounting: the FLOP counter against analytic counts, and the table generated from a bench JSON."""
import json

import pytest
import torch

from metastyle.method.nets import TransformerNet
from metastyle.study.lab import efficiency, perf

pytestmark = pytest.mark.usefixtures("one_thread")

B, CIN, COUT, K, H = 2, 3, 8, 3, 8
#: one 3x3 conv, padding 1 (Hout = H): 2 * Cin * Cout * k * k * Hout * Wout * B
F = 2 * CIN * COUT * K * K * H * H * B


def _conv(trainable: bool) -> torch.nn.Conv2d:
    torch.manual_seed(0)
    return torch.nn.Conv2d(CIN, COUT, K, padding=1).requires_grad_(trainable)


def test_forward_count_is_the_analytic_one():
    lin = torch.nn.Linear(7, 5)
    got = perf.step_flops(lambda: (_conv(False)(torch.rand(B, CIN, H, H)), lin(torch.rand(4, 7))))
    assert got["total"] == F + 2 * 7 * 5 * 4
    assert got["by_phase"] == {"forward": got["total"], "backward": 0, "double_backward": 0}
    assert got["by_kind"] == {"conv": F, "matmul": 2 * 7 * 5 * 4} and got["by_dtype"] == {"float32": got["total"]}


@pytest.mark.parametrize("weights, inputs, backward", [(True, True, 2 * F), (False, True, F), (True, False, F)])
def test_backward_costs_one_forward_per_gradient(weights, inputs, backward):
    conv, x = _conv(weights), torch.rand(B, CIN, H, H, requires_grad=inputs)
    got = perf.step_flops(lambda: conv(x).square().sum().backward())
    assert got["by_phase"] == {"forward": F, "backward": backward, "double_backward": 0}


def test_double_backward_is_its_own_phase():
    """A frozen conv differentiated twice w.r.t. its input (as VGG in second-order meta-training): the inner
    gradient is a backward (F), the outer pass runs the conv's backward again (F) and the double backward of the
    first one. torch 2.x's conv double backward runs two convolutions (the gradient w.r.t. the incoming gradient,
    F, and a weight-gradient term, F, computed although the weight is frozen): 2F, where F would do."""
    conv, x = _conv(False), torch.rand(B, CIN, H, H, requires_grad=True)

    def second_order():
        (g,) = torch.autograd.grad(conv(x).square().sum() / 2, x, create_graph=True)
        torch.autograd.grad(g.square().sum(), x)

    def first_order():
        (g,) = torch.autograd.grad(conv(x).square().sum() / 2, x)
        return g

    assert perf.step_flops(second_order)["by_phase"] == {"forward": F, "backward": 2 * F, "double_backward": 2 * F}
    assert perf.step_flops(first_order)["by_phase"] == {"forward": F, "backward": F, "double_backward": 0}


def test_layer_flops_agree_with_the_hook_count_and_see_bf16():
    net, x = TransformerNet().eval(), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        counted = perf.step_flops(lambda: net(x))
    assert counted["total"] == perf.count_flops(net, x) > 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = perf.step_flops(lambda: net(x))
    assert bf16["by_dtype"] == {"bfloat16": counted["total"]}


def test_difference_subtracts_every_split():
    a = {"total": 10, "by_phase": {"forward": 6, "backward": 4, "double_backward": 0},
         "by_dtype": {"float32": 10}, "by_kind": {"conv": 8, "matmul": 2}}
    b = {"total": 3, "by_phase": {"forward": 3, "backward": 0, "double_backward": 0},
         "by_dtype": {"float32": 3}, "by_kind": {"conv": 3}}
    assert efficiency.difference(a, b) == {"total": 7, "by_phase": {"forward": 3, "backward": 4, "double_backward": 0},
                                           "by_dtype": {"float32": 7}, "by_kind": {"conv": 5, "matmul": 2}}


def _fake_result() -> dict:
    g = 1e9
    return {
        "schema": "metastyle-bench/3", "git_commit": "abc", "device": {"name": "Fake CPU", "threads": 2},
        "machine": {"matmul": {"gflops": 80.0}, "conv3x3": {"gflops": 100.0}, "conv3x3_bf16": {"gflops": 200.0}},
        "stylize": {"transformer": {"sizes": {"256": {"flops": 50 * g, "variants": {
            "plain": {"median_s": 1.0}, "compile": {"error": "no compiler"}}}}}},
        "meta": {"sizes": {"128": {"runs": {
            "second-official": {"median_s": 4.0, "flops": {
                "total": 200 * g, "by_phase": {"forward": 100 * g, "backward": 60 * g, "double_backward": 40 * g},
                "by_dtype": {"float32": 200 * g}, "by_kind": {"conv": 200 * g}}},
            "second-loss_bf16": {"median_s": 2.0, "flops": {
                "total": 100 * g, "by_phase": {"forward": 50 * g, "backward": 50 * g, "double_backward": 0},
                "by_dtype": {"float32": 20 * g, "bfloat16": 80 * g}, "by_kind": {"conv": 100 * g}}},
            "first-default": {"median_s": 1.5},  # a schema-2 row: timed, not counted
            "first-plain": {"error": "out of memory"}}}}},
        "adapt": {"content_size": 128, "style_size": 256, "batch": 4, "s_per_step": 0.5,
                  "flops_per_step": {"total": 10 * g, "by_phase": {"forward": 6 * g, "backward": 4 * g},
                                     "by_dtype": {"float32": 10 * g}}}}


def test_rates_divide_by_the_conv_rate_of_each_dtype():
    r = efficiency.rates({"total": 100e9, "by_dtype": {"float32": 20e9, "bfloat16": 80e9}}, 2.0,
                         _fake_result()["machine"])
    assert r["gflops"] == pytest.approx(50) and r["frac_conv_fp32"] == pytest.approx(0.5)
    assert r["frac_conv_bf16"] == pytest.approx(0.25)
    assert r["conv_bound_s"] == pytest.approx(20 / 100 + 80 / 200) and r["frac_of_conv_bound"] == pytest.approx(0.3)
    no_bf16 = efficiency.rates({"total": 100e9}, 2.0, {"conv3x3": {"gflops": 100.0}, "conv3x3_bf16": {"error": "x"}})
    assert no_bf16["frac_conv_bf16"] is None and no_bf16["frac_of_conv_bound"] == pytest.approx(0.5)


def test_efficiency_table_from_a_small_json(tmp_path):
    path = tmp_path / "cpu-fake-2t.json"
    path.write_text(json.dumps(_fake_result()))
    assert efficiency.main([str(path)]) == 0
    text = (tmp_path / "cpu-fake-2t-efficiency.md").read_text()
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| ") and " px" in line}
    assert set(rows) == {"256 px, batch 1, plain", "128 px, second order, authors' loop (mirror)",
                         "128 px, second order, loss_bf16", "128 px, first order, default",
                         "128 px (style 256), batch 4"}  # failed variants have no row
    assert "| fp32 | 50.0 | 100 / 0 / 0 | 1 | 50.0 | 50.0% | 25.0% | 50.0% |" in rows["256 px, batch 1, plain"]
    assert "| fp32 | 200.0 | 50 / 30 / 20 | 4 | 50.0 | 50.0% | 25.0% | 50.0% |" in \
        rows["128 px, second order, authors' loop (mirror)"]
    assert "| mixed, 80% bf16 | 100.0 | 50 / 50 / 0 | 2 | 50.0 | 50.0% | 25.0% | 30.0% |" in \
        rows["128 px, second order, loss_bf16"]
    assert "| fp32 | not counted | - | 1.5 | - |" in rows["128 px, first order, default"]
    assert "| 20.0 | 20.0% | 10.0% | 20.0% |" in rows["128 px (style 256), batch 4"]
    assert "3x3 conv fp32 **100.0** GFLOP/s, bf16 **200.0** GFLOP/s" in text
