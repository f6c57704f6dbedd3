"""Where one meta-iteration spends its time: ``python -m metastyle.study.lab.metaprof --size 128 --variant default``.

Runs one untimed iteration, then one under ``torch.profiler`` (CPU, shapes recorded), and splits the self
time of every operator by *phase* (``forward`` op, or the autograd node it ran under: ``ConvolutionBackward``
is a backward, ``ConvolutionBackwardBackward`` a double backward) and by *network*: a convolution whose
input side is a power of two is VGG's (zero padding inside the conv); the transformer's convs see reflection-
padded, non-power-of-two inputs. Allocation ops (``aten::empty*``, ``zeros``, ``copy_``...) are their own
phase. Prints fractions of the profiled total (docs/performance.md reproduces them).

``--flops`` prints the convolution FLOP budget of each path estimated from ``PASSES``; ``--counted`` runs one
iteration of each path under ``perf.LayerFlops`` and prints the FLOPs that actually ran, by phase and dtype, next
to that estimate (``counted_budget``; docs/performance.md "Efficiency accounting").
"""
from __future__ import annotations

import argparse
import collections
import json

import torch
from torch.profiler import ProfilerActivity, profile

from metastyle.infra import files
from metastyle.study.lab import bench

CONV_OPS = ("aten::convolution", "aten::_convolution", "aten::convolution_backward", "aten::mkldnn_convolution",
            "aten::conv2d")
ALLOC_OPS = ("aten::empty", "aten::empty_strided", "aten::zeros", "aten::zeros_like", "aten::empty_like",
             "aten::resize_", "aten::zero_", "aten::fill_")


def _net(event) -> str:
    e = event
    while e is not None:
        if e.name in CONV_OPS and e.input_shapes:
            four = [s for s in e.input_shapes if isinstance(s, list) and len(s) == 4]
            if four:
                side = four[1][2] if e.name == "aten::convolution_backward" and len(four) > 1 else four[0][2]
                return "vgg" if side & (side - 1) == 0 else "transformer"
        e = e.cpu_parent
    return "-"


def _phase(event) -> str:
    if event.name in ALLOC_OPS:
        return "allocation"
    e, top = event, event
    while e is not None:
        if e.name.startswith("autograd::engine::evaluate_function: "):
            return e.name.split(": ", 1)[1].rstrip("0123456789")
        top, e = e, e.cpu_parent
    return "forward " + top.name


def breakdown(prof) -> dict:
    totals = collections.Counter()
    for e in prof.events():
        if e.self_cpu_time_total > 0 and e.name.startswith("aten::"):
            totals[(_phase(e), _net(e))] += e.self_cpu_time_total
    whole = sum(totals.values())
    return {"total_self_s": whole / 1e6,
            "rows": [{"phase": p, "net": n, "fraction": t / whole} for (p, n), t in totals.most_common()]}


#: Convolution passes per meta-iteration (T=1, IN-only fast weights), in units of one forward of the loss net
#: (V), of the content-layer-truncated loss net (Vc), of one style image through it (Vs, batch 1) and of the
#: transformer (T), all on a batch of B. A backward costs 1 forward for the input gradient only (frozen VGG,
#: inner VJP), 2 with weight gradients; a double backward of a conv backward costs 1 (VGG) or 2 (transformer,
#: whose weights also receive gradients). Derivation: docs/performance.md "Where the floor is".
PASSES = {
    "second": {
        # per style: style (B repeats) + content + query features, inner fwd/VJP, query fwd, bwd, double bwd
        "official": lambda k: dict(V=9 * k + 3, T=9 * k + 3),
        "default": lambda k: dict(V=5 * k + 1, Vc=2, Vs=k, T=8 * k + 1),
        "one_backward": lambda k: dict(V=4 * k + 2, Vc=2, Vs=k, T=6 * k + 3),
        "frozen_dbl": lambda k: dict(V=5 * k + 1, Vc=2, Vs=k, T=8 * k + 1),  # default's passes, as counted
    },
    "first": {
        "official": lambda k: dict(V=7 * k + 3, T=5 * k + 3),
        "default": lambda k: dict(V=3 * k + 1, Vc=2, Vs=k, T=4 * k + 1),
    },
}


def flop_budget(size: int, k: int = 4, b: int = 4) -> dict:
    """Convolution GFLOPs per meta-iteration of each path from ``PASSES`` and ``perf.count_flops``."""
    from metastyle.method.nets import TransformerNet
    from metastyle.method.vgg import VGG16_LAYERS, load_loss_net
    from metastyle.study.lab.perf import count_flops

    x = torch.rand(b, 3, size, size)
    unit = {"V": count_flops(load_loss_net("vgg16-random", VGG16_LAYERS), x),
            "Vc": count_flops(load_loss_net("vgg16-random", ("relu2_2",)), x),
            "Vs": count_flops(load_loss_net("vgg16-random", VGG16_LAYERS), x[:1]),
            "T": count_flops(TransformerNet(), x)}
    out = {"size": size, "tasks": k, "batch": b, "unit_gflops": {n: f / 1e9 for n, f in unit.items()}}
    for order, paths in PASSES.items():
        g = {p: sum(n * unit[u] for u, n in f(k).items()) / 1e9 for p, f in paths.items()}
        # the same passes if the loss network (V*) ran at twice the fp32 rate (ideal bf16), transformer fp32
        h = {p: sum(n * unit[u] * (0.5 if u.startswith("V") else 1) for u, n in f(k).items()) / 1e9
             for p, f in paths.items()}
        out[order] = {p: {"gflops": v, "official_over_this": g["official"] / v,
                          "official_over_this_if_vgg_2x": g["official"] / h[p]} for p, v in g.items()}
    return out


def counted_budget(size: int, paths=None, device: str = "cpu") -> dict:
    """Per order and path of ``PASSES`` (or ``paths``: ``{order: [variant, ...]}``): the FLOPs one iteration
    runs, counted by ``perf.LayerFlops`` (``vgg16-caffe``, K = 4, B = 4), with the ``PASSES`` estimate of its
    convolutions (``flop_budget``) and their ratio."""
    from metastyle.study.lab.perf import step_flops

    estimate = flop_budget(size)
    out = {"size": size, "tasks": 4, "batch": 4}
    for order, variants in (paths or {o: list(p) for o, p in PASSES.items()}).items():
        for v in variants:
            counted = step_flops(bench.meta_stepper(v, order, size, device))
            est = estimate.get(order, {}).get(v, {}).get("gflops")
            conv = counted["by_kind"].get("conv", 0) / 1e9
            out.setdefault(order, {})[v] = {"counted": counted, "counted_conv_gflops": conv,
                                            "passes_estimate_gflops": est,
                                            "counted_over_estimate": conv / est if est else None}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m metastyle.study.lab.metaprof", description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--variant", default="default", choices=list(bench.META_VARIANTS))
    p.add_argument("--order", default="second", choices=bench.ORDERS)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--json", default=None, help="also write the breakdown here")
    p.add_argument("--flops", action="store_true", help="print the convolution FLOP budget of each path and exit")
    p.add_argument("--counted", action="store_true",
                   help="count the FLOPs one iteration of each path runs (perf.LayerFlops) and exit")
    a = p.parse_args(argv)
    if a.flops:
        print(json.dumps(flop_budget(a.size), indent=1))
        return 0
    if a.counted:
        out = counted_budget(a.size)
        for order in PASSES:
            for v, r in out[order].items():
                c = r["counted"]
                print(f"{order:<6} {v:<13} counted {c['total'] / 1e9:8.1f} GFLOP (conv {r['counted_conv_gflops']:.1f}, "
                      f"PASSES estimate {r['passes_estimate_gflops']:.1f}, x{r['counted_over_estimate']:.2f}); phases "
                      + ", ".join(f"{k} {x / 1e9:.1f}" for k, x in c["by_phase"].items()))
        if a.json:
            files.write_json(a.json, out)
        return 0
    step = bench.meta_stepper(a.variant, a.order, a.size, "cpu")
    step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step()
    out = breakdown(prof)
    print(f"{a.variant} {a.order} order {a.size}px: {out['total_self_s']:.2f} s operator self time")
    for r in out["rows"][: a.top]:
        print(f"{100 * r['fraction']:6.1f}%  {r['net']:<12} {r['phase']}")
    if a.json:
        files.write_json(a.json, out | vars(a))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
