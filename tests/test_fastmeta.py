"""The default (shared) meta-step and its switches against the per-task reference; the mirror of the
official loop against ours. Tolerances (docs/performance.md): float64 paths that only reorder sums agree to
1e-10 relative L2; the bf16 loss-network switch is checked in fp32 against the fp32 reference to 5e-2."""
import pytest
import torch

from metastyle.method.losses import LossSpec, style_targets
from metastyle.method.meta import Task, meta_step
from metastyle.method.nets import TransformerNet, is_instance_norm
from metastyle.method.official import official_meta_step
from metastyle.method.vgg import load_loss_net
from metastyle.study.lab import bench

SPEC = LossSpec()
pytestmark = pytest.mark.usefixtures("one_thread")


def _setup(dtype, *, k=3, b=2, size=32, steps=1, fresh=False):
    torch.manual_seed(0)
    net, lnet = TransformerNet().to(dtype), load_loss_net("vgg16-random", SPEC.layers).to(dtype)
    g = torch.Generator().manual_seed(1)
    rand = lambda n: torch.rand(n, 3, size, size, generator=g).to(dtype)  # noqa: E731
    support, query = [rand(b) for _ in range(steps)], rand(b)
    tasks = [Task(style_targets(lnet, rand(1), SPEC), [rand(b) for _ in range(steps)] if fresh else support,
                  rand(b) if fresh else query) for _ in range(k)]
    return net, lnet, tasks


def _grad(net, lnet, tasks, **kw):
    net.zero_grad(set_to_none=True)
    kw.setdefault("steps", len(tasks[0].support))
    stats = meta_step(net, lnet, SPEC, tasks, inner_lr=1e-3, **kw)
    return stats, torch.cat([p.grad.flatten() for p in net.parameters()])


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


CASES = [dict(second_order=True), dict(second_order=False), dict(second_order=True, include=None),
         dict(second_order=True, steps=2, fresh=True), dict(second_order=True, steps=2),
         dict(second_order=True, one_backward=True), dict(second_order=True, steps=2, fresh=True, one_backward=True)]


@pytest.mark.parametrize("case", CASES)
def test_shared_step_equals_per_task_float64(case):
    case = dict(case)
    one_backward = case.pop("one_backward", False)
    steps, fresh = case.pop("steps", 1), case.pop("fresh", False)
    include = case.pop("include", is_instance_norm)
    net, lnet, tasks = _setup(torch.float64, steps=steps, fresh=fresh)
    s0, g0 = _grad(net, lnet, tasks, include=include, shared=False, **case)
    s1, g1 = _grad(net, lnet, tasks, include=include, shared=True, one_backward=one_backward, **case)
    assert _rel(g1, g0) < 1e-10
    for key in s0:
        assert s1[key] == pytest.approx(s0[key], rel=1e-10)


def test_shared_step_fp32_close_to_float64_reference():
    """fp32 default path vs the float64 per-task reference (same seed, same inputs)."""
    net, lnet, tasks = _setup(torch.float64)
    _, ref = _grad(net, lnet, tasks, include=is_instance_norm, shared=False)
    net32, lnet32 = net.float(), lnet.float()
    tasks32 = [Task({k: v.float() for k, v in t.style_grams.items()}, [x.float() for x in t.support],
                    t.query.float()) for t in tasks]
    _, g = _grad(net32, lnet32, tasks32, include=is_instance_norm)
    assert _rel(g.double(), ref) < 1e-3


def test_loss_bf16_close_to_fp32_reference_and_not_identical():
    net, lnet, tasks = _setup(torch.float32)
    _, ref = _grad(net, lnet, tasks, include=is_instance_norm, shared=False)
    _, g = _grad(net, lnet, tasks, include=is_instance_norm, loss_bf16=True)
    assert 0 < _rel(g, ref) < 5e-2  # bf16 changes the numbers (not a silent no-op), but only a little


def test_mirror_of_official_loop_equals_ours_fp32():
    """``official.official_meta_step`` (repeats, per-style features, dummy pass, hooks) applies our gradient."""
    net, lnet, tasks = _setup(torch.float32)
    styles = [torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    tasks = [Task(style_targets(lnet, s, SPEC), t.support, t.query) for s, t in zip(styles, tasks)]
    _, ours = _grad(net, lnet, tasks, include=is_instance_norm)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: the step leaves theta, .grad is the hooks' result
    official_meta_step(net, lnet, SPEC, styles, tasks[0].support[0], tasks[0].query, opt, inner_lr=1e-3,
                       second_order=True)
    mirror = torch.cat([p.grad.flatten() for p in net.parameters()])
    assert _rel(mirror, ours) < 1e-4


def test_bench_rejects_unknown_meta_variant_with_one_line():
    with pytest.raises(SystemExit, match="unknown --meta-variants \\['nope'\\]"):
        bench.run(bench.parse_args(["--quick", "--meta-variants", "official,nope", "--skip", "stylize,methods"]))


@pytest.mark.parametrize("shared,fresh,expected", [(True, False, 3 + 1), (False, False, 2 * 3), (True, True, 2 * 3)])
def test_shared_step_runs_the_common_first_step_forward_once(shared, fresh, expected):
    """K tasks on one support batch: K query forwards + 1 shared; per task (or fresh batches): 2K."""
    net, lnet, tasks = _setup(torch.float32, fresh=fresh)
    calls = []
    net.register_forward_hook(lambda *_: calls.append(1))
    _grad(net, lnet, tasks, include=is_instance_norm, shared=shared, second_order=False)
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
