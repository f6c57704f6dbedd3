"""The default (shared) meta-step and its switches against the per-task reference; the mirror of the
official loop against ours. Tolerances (docs/performance.md): float64 paths that only reorder sums agree to
1e-10 relative L2; the bf16 loss-network switch is checked in fp32 against the fp32 reference to 5e-2."""
import sys
from pathlib import Path

import pytest
import torch

from metastyle.method.losses import style_targets
from metastyle.method.meta import Task
from metastyle.method.nets import is_instance_norm
from metastyle.method.official import official_meta_step
from metastyle.study.lab import bench

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta_tasks import SPEC, grad, rel, setup  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")



CASES = [dict(second_order=True), dict(second_order=False), dict(second_order=True, include=None),
         dict(second_order=True, steps=2, fresh=True), dict(second_order=True, steps=2),
         dict(second_order=True, one_backward=True), dict(second_order=True, steps=2, fresh=True, one_backward=True)]


@pytest.mark.parametrize("case", CASES)
def test_shared_step_equals_per_task_float64(case):
    case = dict(case)
    one_backward = case.pop("one_backward", False)
    steps, fresh = case.pop("steps", 1), case.pop("fresh", False)
    include = case.pop("include", is_instance_norm)
    net, lnet, tasks = setup(torch.float64, steps=steps, fresh=fresh)
    s0, g0 = grad(net, lnet, tasks, include=include, shared=False, **case)
    s1, g1 = grad(net, lnet, tasks, include=include, shared=True, one_backward=one_backward, **case)
    assert rel(g1, g0) < 1e-10
    for key in s0:
        assert s1[key] == pytest.approx(s0[key], rel=1e-10)


def test_shared_step_fp32_close_to_float64_reference():
    """fp32 default path vs the float64 per-task reference (same seed, same inputs)."""
    net, lnet, tasks = setup(torch.float64)
    _, ref = grad(net, lnet, tasks, include=is_instance_norm, shared=False)
    net32, lnet32 = net.float(), lnet.float()
    tasks32 = [Task({k: v.float() for k, v in t.style_grams.items()}, [x.float() for x in t.support],
                    t.query.float()) for t in tasks]
    _, g = grad(net32, lnet32, tasks32, include=is_instance_norm)
    assert rel(g.double(), ref) < 1e-3


def test_loss_bf16_close_to_fp32_reference_and_not_identical():
    net, lnet, tasks = setup(torch.float32)
    _, ref = grad(net, lnet, tasks, include=is_instance_norm, shared=False)
    _, g = grad(net, lnet, tasks, include=is_instance_norm, loss_bf16=True)
    assert 0 < rel(g, ref) < 5e-2  # bf16 changes the numbers (not a silent no-op), but only a little


def test_mirror_of_official_loop_equals_ours_fp32():
    """``official.official_meta_step`` (repeats, per-style features, dummy pass, hooks) applies our gradient."""
    net, lnet, tasks = setup(torch.float32)
    styles = [torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    tasks = [Task(style_targets(lnet, s, SPEC), t.support, t.query) for s, t in zip(styles, tasks)]
    _, ours = grad(net, lnet, tasks, include=is_instance_norm)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: the step leaves theta, .grad is the hooks' result
    official_meta_step(net, lnet, SPEC, styles, tasks[0].support[0], tasks[0].query, opt, inner_lr=1e-3,
                       second_order=True)
    mirror = torch.cat([p.grad.flatten() for p in net.parameters()])
    assert rel(mirror, ours) < 1e-4


def test_bench_rejects_unknown_meta_variant_with_one_line():
    with pytest.raises(SystemExit, match="unknown --meta-variants \\['nope'\\]"):
        bench.run(bench.parse_args(["--quick", "--meta-variants", "official,nope", "--skip", "stylize,methods"]))


@pytest.mark.parametrize("shared,fresh,expected", [(True, False, 3 + 1), (False, False, 2 * 3), (True, True, 2 * 3)])
def test_shared_step_runs_the_common_first_step_forward_once(shared, fresh, expected):
    """K tasks on one support batch: K query forwards + 1 shared; per task (or fresh batches): 2K."""
    net, lnet, tasks = setup(torch.float32, fresh=fresh)
    calls = []
    net.register_forward_hook(lambda *_: calls.append(1))
    grad(net, lnet, tasks, include=is_instance_norm, shared=shared, second_order=False)
    assert len(calls) == expected


def test_flop_budget_orders_the_paths():
    """The pass model: the mirror does the most convolution work, one_backward the least (second order)."""
    from metastyle.study.lab.metaprof import flop_budget

    b = flop_budget(32)
    so = {p: v["gflops"] for p, v in b["second"].items()}
    assert so["official"] > so["default"] > so["one_backward"] > 0
    assert b["first"]["official"]["gflops"] > b["first"]["default"]["gflops"]
    assert b["second"]["official"]["official_over_this"] == 1.0


def test_a_diverged_query_loss_is_one_line_for_both_meta_steps():
    import pytest

    from metastyle.errors import MetaStyleError
    from metastyle.method import fastmeta

    fastmeta.check_finite(torch.tensor(1.0))
    with pytest.raises(MetaStyleError, match="diverged"):
        fastmeta.check_finite(torch.tensor(float("nan")))
