"""Fast paths agree with the plain paths; the benchmark's --quick run writes the documented JSON keys."""
import json

import pytest
import torch

from metastyle.method.losses import LossSpec, style_targets
from metastyle.method.meta import Task, meta_step
from metastyle.method.nets import TransformerNet, is_instance_norm
from metastyle.method.vgg import load_loss_net
from metastyle.study.lab import bench, perf

SPEC = LossSpec()


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loss_net():
    return load_loss_net("vgg16-random", SPEC.layers)


def _tasks(loss_net, k=3, b=2, size=32, steps=1, fresh=False):
    g = torch.Generator().manual_seed(1)
    rand = lambda n: torch.rand(n, 3, size, size, generator=g)  # noqa: E731
    shared_support, shared_query = [rand(b) for _ in range(steps)], rand(b)
    return [Task(style_targets(loss_net, rand(1), SPEC),
                 [rand(b) for _ in range(steps)] if fresh else shared_support,
                 rand(b) if fresh else shared_query) for _ in range(k)]


def _meta_grad(net, loss_net, tasks, **kw):
    net.zero_grad(set_to_none=True)
    stats = meta_step(net, loss_net, SPEC, tasks, inner_lr=1e-3, include=is_instance_norm, **kw)
    return stats, torch.cat([p.grad.flatten() for p in net.parameters()])


@pytest.mark.parametrize("opts", [dict(channels_last=False), dict(channels_last=True)])
def test_fast_stylizer_matches_plain(opts):
    torch.manual_seed(0)
    net = TransformerNet().eval()
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        ref = net(x)
    torch.testing.assert_close(perf.fast_stylizer(net, tuple(x.shape), **opts)(x), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA-graph and bf16 paths need a CUDA device")
def test_cuda_graph_stylizer_matches_plain():
    net = TransformerNet().cuda().eval()
    x = torch.rand(1, 3, 64, 64, device="cuda")
    with torch.no_grad():
        ref = net(x)
    fp32 = perf.fast_stylizer(net, tuple(x.shape), bf16=False, cuda_graph=True)
    torch.testing.assert_close(fp32(x), ref, rtol=1e-4, atol=1e-4)
    bf16 = perf.fast_stylizer(net, tuple(x.shape), bf16=True, cuda_graph=True)
    assert (bf16(x) - ref).abs().max() < 5e-2


def test_flop_counter_counts_conv_shapes():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 8 * 8, 10))
    expected = 2 * 3 * 8 * 9 * 8 * 8 + 2 * 512 * 10
    assert perf.count_flops(net, torch.rand(1, 3, 16, 16)) == expected


def test_quick_bench_writes_documented_keys(tmp_path):
    # --threads 1: on a shared 2-core machine OpenMP's spin-waiting makes 2 threads 10-50x slower
    assert bench.main(["--quick", "--threads", "1", "--out", str(tmp_path), "--meta-variants", "official,default"]) == 0
    (path,) = tmp_path.glob("*-quick.json")
    r = json.loads(path.read_text())
    assert r["schema"] == bench.SCHEMA and r["quick"] is True
    assert {"type", "name", "slug", "threads"} <= set(r["device"])
    assert {"matmul", "conv3x3", "conv3x3_bf16"} <= set(r["machine"]) and r["machine"]["matmul"]["gflops"] > 0
    assert r["machine"]["conv3x3_bf16"].get("dtype") == "bfloat16" or "error" in r["machine"]["conv3x3_bf16"]
    t = r["stylize"]["transformer"]
    assert t["params"] == 1_679_235
    for size in ("32", "64"):
        row = t["sizes"][size]
        assert {"flops", "variants", "best", "median_s", "frac_matmul"} <= set(row)
        assert row["variants"]["plain"]["max_abs_diff"] == 0.0
    assert "available" in r["stylize"]["gatys"] and "available" in r["stylize"]["arbitrary"]
    meta = r["meta"]["sizes"]["32"]
    runs = meta["runs"]
    assert set(runs) == {f"{o}-{v}" for o in ("second", "first") for v in ("official", "default")}
    for v in runs.values():  # each from its own child process: its peak RSS holds torch and VGG, never 0
        assert {"median_s", "min_s", "max_s", "times_s", "peak_memory_bytes"} <= set(v)
        assert v["min_s"] <= v["median_s"] <= v["max_s"] and v["peak_memory_bytes"] > 50 * 2**20
        assert v["flops"]["total"] == sum(v["flops"]["by_phase"].values()) > 0  # counted, schema 3
        assert v["efficiency"]["gflops"] == pytest.approx(v["flops"]["total"] / v["median_s"] / 1e9)
    for order in ("second", "first"):  # the mirror runs more FLOPs; only second order has a double backward
        assert runs[f"{order}-official"]["flops"]["total"] > runs[f"{order}-default"]["flops"]["total"]
        assert (runs[f"{order}-default"]["flops"]["by_phase"]["double_backward"] > 0) == (order == "second")
    assert meta["setup_peak_memory_bytes"] > 0
    assert set(meta["speedup_vs_official"]) == {"second", "first"}
    assert set(meta["speedup_vs_official"]["second"]) == {"default"}
    assert r["adapt"]["extrapolated"] is True and r["adapt"]["s_per_step"] > 0
    step = r["adapt"]["flops_per_step"]  # one step: forward and backward, no double backward
    assert step["by_phase"]["forward"] > 0 and step["by_phase"]["backward"] > 0 and step["by_phase"][
        "double_backward"] == 0 and "efficiency" in r["adapt"]
    table = path.with_name(path.stem + "-efficiency.md").read_text()
    assert "| adaptation step |" in table and "authors' loop (mirror)" in table


def test_a_failing_variant_is_reported_and_a_failing_baseline_is_an_error(monkeypatch):
    import argparse

    args = argparse.Namespace(compile=False, warmup=0, repeats=1)
    machine = {"matmul": {"gflops": 1.0}, "conv3x3": {"gflops": 1.0}}

    def no_compiler(*a, **k):
        raise RuntimeError("no compiler")
    monkeypatch.setattr(bench, "fast_stylizer", no_compiler)
    row = bench.bench_transformer(torch.device("cpu"), [16], machine, args)["sizes"]["16"]
    assert row["best"] == "plain" and row["variants"]["channels_last"] == {"error": "RuntimeError: no compiler"}

    def out_of_memory(*a, **k):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(bench, "timeit", out_of_memory)  # the plain baseline too: no table without it
    with pytest.raises(RuntimeError, match="out of memory"):
        bench.bench_transformer(torch.device("cpu"), [16], machine, args)


@pytest.mark.skipif(not __import__("pathlib").Path("/proc/self/status").exists(), reason="Linux /proc only")
def test_a_childs_peak_memory_is_its_own_not_its_parents():
    """The meta variants' peak RSS is read in child processes. Linux's ru_maxrss carries the parent's high-water
    mark into a child across fork + exec (a child of a big parent reads the parent's peak); bench.peak_rss_bytes
    must read the child's own (VmHWM)."""
    import subprocess
    import sys

    gib = 2 ** 30
    ballast = bytearray(gib)  # the parent's resident memory grows by 1 GiB: every page touched
    ballast[::4096] = b"x" * len(range(0, gib, 4096))
    code = "from metastyle.study.lab.bench import peak_rss_bytes; print(peak_rss_bytes())"
    own = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    parent = bench.peak_rss_bytes()
    del ballast
    assert parent > gib
    assert own < parent - gib * 3 // 4, (own, parent)
