"""Benchmark suite: stylisation speed (paper Table 1), meta-training iteration, adaptation, machine FLOP rate.

``python -m metastyle.study.lab.bench [--quick] [--device auto] [--out results/bench]`` (or ``metastyle bench``)
prints a table and writes ``<out>/<device-slug>.json`` (``<slug>-quick.json`` with ``--quick``); the JSON keys are
documented in ``docs/performance.md`` and read by notebook 04. Protocol: warm-up runs, then the median of
timed repeats, ``torch.cuda.synchronize()`` around every timed region on GPU, image I/O excluded, batch 1
for stylisation. Also timed: Gatys et al. (``metastyle.baselines.gatys``) and every arbitrary-style method
(``metastyle.baselines.arbitrary.METHODS``; one that fails, e.g. without its encoder's weights, is reported).

The meta-iteration is timed against ``method.official.official_meta_step``, the mirror of the official code's loop
(docs/paper-vs-code.md §3): the speed-up of ``meta.meta_step`` is reported against it.

Efficiency accounting (schema 3): the FLOPs of one meta-iteration (each variant and order), one adaptation step
and one stylisation, counted as they run (``perf.LayerFlops``: forward, backward and double backward, fp32 and
bf16), against the machine's fp32 and bf16 convolution rates measured in the same run; ``efficiency``
turns the JSON into ``<slug>[-quick]-efficiency.md`` next to it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from metastyle.baselines import arbitrary
from metastyle.baselines.gatys import gatys
from metastyle.data.sets import ImageSet, Item
from metastyle.errors import MetaStyleError
from metastyle.infra import files, runtime
from metastyle.infra.claims import make_folder
from metastyle.method.adapt import fit_style
from metastyle.method.context import Objective
from metastyle.method.losses import LossSpec, style_targets
from metastyle.method.meta import Task, meta_step
from metastyle.method.nets import TransformerNet, count_parameters, is_instance_norm
from metastyle.method.official import official_meta_step
from metastyle.method.vgg import load_loss_net
from metastyle.study.lab import efficiency
from metastyle.study.lab.perf import count_flops, fast_stylizer, step_flops
from metastyle.study.timing import sync, timed

#: 2: meta.sizes[S] with the official-loop mirror, child-process memory; 3: efficiency accounting (FLOPs counted
#: per phase and dtype for meta, adapt and stylize; machine.conv3x3_bf16; frac_conv_bf16; every schema-2 key kept)
SCHEMA = "metastyle-bench/3"


MEMORY_METHOD = {"cuda": "torch.cuda.max_memory_allocated of a child process per meta variant",
                 "cpu": "VmHWM (peak RSS of the process's own memory) of a child process per meta variant (setup "
                        "included; peak_over_setup_bytes subtracts a child that only sets up)"}


def peak_rss_bytes() -> int:
    """This process's peak resident memory: ``VmHWM`` of /proc/self/status on Linux, else ``ru_maxrss``.

    Not ``ru_maxrss`` where VmHWM exists: Linux carries the spawning parent's high-water mark into a child across
    fork and exec, so a child of a 5 GiB bench process reports >= 5 GiB however little it uses (seen in the
    schema-3 run of 2026-12-07: every variant read 5370 MiB); VmHWM belongs to the child's own address space."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # macOS: bytes, Linux and BSD: kB


# ------------------------------------------------------------------------------------------ measuring
def timeit(fn, device: torch.device, *, warmup: int = 1, repeats: int = 3) -> dict:
    """Median (and min, all) wall seconds of ``fn()`` (``timing.timed``) after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = [timed(fn, device)[0] for _ in range(repeats)]
    return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times}


def machine_rates(device: torch.device, quick: bool) -> dict:
    """Dense fp32 GEMM, and 3x3-conv FLOP rates in fp32 and in bf16 (``conv3x3_bf16``: the same conv with bf16
    weights and input; AVX-512 BF16 / AMX on CPUs that have them, tensor cores on GPUs), measured now."""
    n = 512 if quick else (8192 if device.type == "cuda" else 2048)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    mm = timeit(lambda: a @ b, device, warmup=2, repeats=3 if quick else 5)
    mm.update(shape=[n, n, n], flops=2 * n ** 3, gflops=2 * n ** 3 / mm["median_s"] / 1e9)
    # The residual-block conv of TransformerNet at a 512 px input: 128 -> 128 channels on 128 x 128.
    side = 32 if quick else 128
    conv = torch.nn.Conv2d(128, 128, 3, padding=1).to(device).requires_grad_(False)
    x = torch.randn(1, 128, side, side, device=device)
    flops = 2 * 128 * 128 * 9 * side * side
    with torch.inference_mode():
        cv = timeit(lambda: conv(x), device, warmup=2, repeats=3 if quick else 5)
    cv.update(shape=[1, 128, side, side, 128, 3], flops=flops, gflops=flops / cv["median_s"] / 1e9)
    out = {"matmul": mm, "conv3x3": cv}
    try:
        conv16, x16 = conv.to(torch.bfloat16), x.to(torch.bfloat16)
        with torch.inference_mode():
            h = timeit(lambda: conv16(x16), device, warmup=2, repeats=3 if quick else 5)
        out["conv3x3_bf16"] = h | dict(shape=cv["shape"], dtype="bfloat16", flops=flops,
                                       gflops=flops / h["median_s"] / 1e9)
    except RuntimeError as err:  # a device without bf16 convolutions: reported, fp32 fractions still hold
        out["conv3x3_bf16"] = {"error": f"{type(err).__name__}: {err}"[:300]}
    return out


def _rate(entry: dict, flops: int, machine: dict) -> dict:
    """A stylisation row's rates (``efficiency.rates``) under the keys schema 2 gave them (notebook 04 reads them)."""
    r = efficiency.rates({"total": flops}, entry["median_s"], machine)
    return entry | {"gflops": r["gflops"], "frac_matmul": r["gflops"] / machine["matmul"]["gflops"],
                    "frac_conv": r["frac_conv_fp32"], "frac_conv_bf16": r["frac_conv_bf16"]}


# ------------------------------------------------------------------------------------------ stylisation
INFERENCE_VARIANTS = {  # name -> fast_stylizer switches (bf16 / CUDA graph apply on GPU only)
    "plain": None,  # net.eval() under torch.no_grad(): the straightforward baseline
    "inference_mode": dict(channels_last=False, bf16=False, cuda_graph=False),
    "channels_last": dict(channels_last=True, bf16=False, cuda_graph=False),
    "compile": dict(channels_last=False, compile=True, bf16=False, cuda_graph=False),
    "bf16": dict(channels_last=True, bf16=True, cuda_graph=False),
    "bf16_cuda_graph": dict(channels_last=True, bf16=True, cuda_graph=True),
}


def _plain(net):
    def run(x):
        with torch.no_grad():
            return net(x)
    return run


def bench_transformer(device, sizes, machine, args, variants=None) -> dict:
    """Each ``INFERENCE_VARIANTS`` entry (or those in ``variants``) at each size; ``best``: the fastest exact one."""
    net = TransformerNet().to(device).eval()
    out = {"params": count_parameters(net), "sizes": {}}
    for size in sizes:
        x = torch.rand(1, 3, size, size, device=device)
        flops = count_flops(net, x)
        rows, ref = {}, _plain(net)(x)
        for name, opts in INFERENCE_VARIANTS.items():
            if (name.startswith("bf16") and device.type != "cuda") or (name == "compile" and not args.compile) \
                    or (variants is not None and name not in variants):
                continue
            try:
                t0 = time.perf_counter()
                fn = _plain(net) if opts is None else fast_stylizer(net, tuple(x.shape), **opts)
                y = fn(x)  # first call (compilation / capture) is timed separately
                first = time.perf_counter() - t0
                timed = timeit(lambda fn=fn, x=x: fn(x), device, warmup=args.warmup, repeats=args.repeats)
                row = _rate(timed, flops, machine)
                row.update(first_call_s=first, max_abs_diff=(y.float() - ref).abs().max().item())
                rows[name] = row
            except Exception as err:  # an optional variant failing (e.g. no compiler for torch.compile) is reported
                if opts is None:
                    raise  # the plain baseline: every other variant is checked and ranked against it
                rows[name] = {"error": f"{type(err).__name__}: {err}"[:300]}
        exact = {k: v for k, v in rows.items() if "median_s" in v and v["max_abs_diff"] < 1e-4}
        best = min(exact, key=lambda k: exact[k]["median_s"])
        out["sizes"][str(size)] = {"flops": flops, "variants": rows, "best": best,
                                   "median_s": rows[best]["median_s"], "frac_matmul": rows[best]["frac_matmul"]}
    return out


def bench_gatys(device, sizes, loss_net, spec, args) -> dict:
    """Seconds per Gatys iteration (``metastyle.baselines.gatys.gatys``, L-BFGS from the content)."""
    out, steps = {"available": True, "function": "gatys", "sizes": {}}, args.gatys_steps
    for size in sizes:
        c, s = torch.rand(1, 3, size, size, device=device), torch.rand(1, 3, size, size, device=device)
        r = timeit(lambda c=c, s=s: gatys(c, s, Objective(loss_net, spec, device), iterations=steps), device,
                   repeats=1 if args.quick else 2)
        out["sizes"][str(size)] = r | {"steps": steps, "s_per_iteration": r["median_s"] / steps}
    return out


def bench_arbitrary(device, sizes, args) -> dict:
    """Stylisation time of each method in ``metastyle.baselines.arbitrary.METHODS`` (``build(...)``, ``stylize``)."""
    out = {"available": True, "methods": {}}
    for name, m in arbitrary.METHODS.items():
        row = {}
        try:
            model = m.build().to(device).eval()  # untrained weights: timing only
            row["params"] = m.count_params(model)["total"]
            for size in sizes:
                c, s = torch.rand(1, 3, size, size, device=device), torch.rand(1, 3, size, size, device=device)
                with torch.inference_mode():
                    row[str(size)] = timeit(lambda m=m, model=model, c=c, s=s: m.stylize(model, c, s), device,
                                            warmup=args.warmup, repeats=args.repeats)
        except Exception as err:  # noqa: BLE001 - a method failing (e.g. its encoder's weights) is reported
            row["error"] = f"{type(err).__name__}: {err}"[:300]
        out["methods"][name] = row
    return out


# ------------------------------------------------------------------------------------------ meta-training
#: meta-step variants timed by the bench: name -> ``meta.meta_step`` keyword arguments (``official``: the mirror)
META_VARIANTS = {
    "official": None,
    "plain": dict(shared=False),
    "default": dict(),
    "one_backward": dict(one_backward=True),
    "loss_bf16": dict(loss_bf16=True),
    "frozen_dbl": dict(frozen_dbl=True),  # VGG convs with a one-conv double backward (method/frozenconv.py)
}


ORDERS = ("second", "first")


def _meta_inputs(device, size, k=4, b=4):
    g = torch.Generator().manual_seed(0)
    styles = [torch.rand(1, 3, size, size, generator=g).to(device) for _ in range(k)]
    contents, query = (torch.rand(b, 3, size, size, generator=g).to(device) for _ in range(2))
    return styles, contents, query


def meta_stepper(variant: str, order: str, size: int, device: str = "cpu"):
    """A closure running one meta-iteration of ``variant`` (incl. the optimiser step) on fixed random inputs."""
    dev = runtime.resolve_device(device)
    torch.manual_seed(0)
    spec = LossSpec()
    loss_net = load_loss_net("vgg16-caffe", spec.layers, device=dev)
    styles, contents, query = _meta_inputs(dev, size)
    net = TransformerNet().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-5)
    so = order == "second"
    if variant == "official":
        def step():
            official_meta_step(net, loss_net, spec, styles, contents, query, opt, inner_lr=1e-5, second_order=so)
    else:
        kw = META_VARIANTS[variant]

        def step():
            opt.zero_grad(set_to_none=True)
            tasks = [Task(style_targets(loss_net, s, spec), [contents], query) for s in styles]
            meta_step(net, loss_net, spec, tasks, inner_lr=1e-5, steps=1, second_order=so,
                      include=is_instance_norm, **kw)
            opt.step()
    step.device = dev
    return step


def meta_child(variant: str, order: str, size: int, repeats: int, warmup: int, device: str = "cpu", *,
               count: bool = True) -> dict:
    """One process, one variant: seconds per meta-iteration (incl. the Adam step) and this process's peak RSS;
    with ``count`` (and ``repeats``), then ``flops``: one more iteration under ``perf.LayerFlops``, untimed, after
    the peak memory was read (``perf.step_flops``: total, by phase, by dtype, by kind)."""
    step = meta_stepper(variant, order, size, device)
    dev = step.device
    row = timeit(step, dev, warmup=warmup, repeats=repeats) if repeats else {"times_s": []}
    peak = torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else peak_rss_bytes()
    row = row | {"peak_memory_bytes": peak}
    if count and repeats:
        row["flops"] = step_flops(step)
    return row


def _run_child(variant, order, args) -> dict:
    import subprocess

    cmd = [sys.executable, "-m", "metastyle.study.lab.bench", "--meta-child", variant, "--meta-order", order,
           "--meta-size", str(args.meta_size), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
           "--device", args.device_str, "--threads", str(args.threads),
           "--count-flops" if getattr(args, "count_flops", True) else "--no-count-flops"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_meta(device, loss_net, spec, args, *, runner=None) -> dict:
    """Every variant x order in its own child process (a clean peak RSS), against the official-loop mirror.

    ``runner(variant, order, args) -> row``: how one variant is run (default ``_run_child``; ``make gpu-check``
    runs them in its own process, resetting CUDA's peak-memory counter between them)."""
    run_one = runner or _run_child
    variants = [v for v in META_VARIANTS if v in args.meta_variants]
    idle = run_one("default", "second", argparse.Namespace(**{**vars(args), "repeats": 0, "warmup": 0}))
    runs = {f"{order}-{v}": run_one(v, order, args) for order in ORDERS for v in variants}
    for row in runs.values():
        if "times_s" in row and row["times_s"]:
            t = row["times_s"]
            row.update(median_s=statistics.median(t), min_s=min(t), max_s=max(t))
            if "peak_memory_bytes" in idle:
                row["peak_over_setup_bytes"] = row["peak_memory_bytes"] - idle["peak_memory_bytes"]
    speedup = {}
    for order in ORDERS:
        ref = runs.get(f"{order}-official", {})
        for v in variants:
            row = runs[f"{order}-{v}"]
            if v != "official" and "median_s" in row and "median_s" in ref:
                speedup.setdefault(order, {})[v] = ref["median_s"] / row["median_s"]
    return {"size": args.meta_size, "tasks": 4, "batch": 4, "inner_steps": 1, "inner_params": "in",
            "setup_peak_memory_bytes": idle.get("peak_memory_bytes"), "runs": runs,
            "speedup_vs_official": speedup}


def annotate_meta(meta: dict, machine: dict) -> dict:
    """Each counted run of ``meta.sizes[S].runs`` gains ``efficiency`` (``efficiency.rates``); in place."""
    for m in meta.get("sizes", {}).values():
        for row in m["runs"].values():
            if "flops" in row and "median_s" in row:
                row["efficiency"] = efficiency.rates(row["flops"], row["median_s"], machine)
    return meta


def adapt_step_flops(loss_net, spec, device, size: int, style_size: int, batch: int = 4) -> dict:
    """FLOPs of one adaptation step (``fit_style``: transformer forward/backward, VGG on output and contents,
    Adam), counted as the difference of a 1-step and a 0-step run, so the style's Gram targets cancel."""
    contents = ImageSet([Item(f"c{i}", image=Image.new("RGB", (size, size), (i * 20, 90, 160)))
                         for i in range(batch)], size)
    style = torch.rand(1, 3, style_size, style_size, device=device)
    runs = [step_flops(lambda n=n: fit_style(TransformerNet(), Objective(loss_net, spec, device), style, contents,
                                             steps=n, lr=1e-3, batch=batch, params="all", seed=0))
            for n in (0, 1)]
    return efficiency.difference(runs[1], runs[0])


def bench_adapt(device, loss_net, spec, args) -> dict:
    """Seconds per adaptation step (Adam, all parameters, batch 4), extrapolated to 200 steps."""
    rng = np.random.default_rng(0)
    items = [Item(f"c{i}", image=Image.fromarray(rng.integers(0, 255, (args.adapt_size,) * 2 + (3,), np.uint8)))
             for i in range(8)]
    contents = ImageSet(items, args.adapt_size)
    style = torch.rand(1, 3, args.adapt_style_size, args.adapt_style_size, device=device)
    stamps, t0 = [], time.perf_counter()
    steps = args.warmup + args.adapt_steps
    fit_style(TransformerNet(), Objective(loss_net, spec, device), style, contents, steps=steps, lr=1e-3, batch=4,
              params="all", seed=0, callback=lambda s: (sync(device), stamps.append(time.perf_counter())))
    t_start = stamps[args.warmup - 1] if args.warmup else t0
    steps_s = np.diff([t_start, *stamps[args.warmup:]]).tolist()
    per_step = statistics.median(steps_s)
    out = {"content_size": args.adapt_size, "style_size": args.adapt_style_size, "batch": 4, "params": "all",
           "steps_timed": args.adapt_steps, "s_per_step": per_step, "timed_total_s": sum(steps_s),
           "extrapolated_200_steps_s": 200 * per_step, "extrapolated": args.adapt_steps < 200}
    if getattr(args, "count_flops", True):  # after the timing: the count runs one more (untimed) step
        out["flops_per_step"] = adapt_step_flops(loss_net, spec, device, args.adapt_size, args.adapt_style_size)
    return out


# ------------------------------------------------------------------------------------------ entry point
def device_info(device: torch.device) -> dict:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        try:
            name = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                        if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
    threads = torch.get_num_threads()
    slug = re.sub(r"[^a-z0-9]+", "-", f"{device.type}-{name}".lower()).strip("-")
    slug += f"-{threads}t" if device.type == "cpu" else ""
    env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")}
    return {"type": device.type, "name": name, "slug": slug, "threads": threads, "cpu_count": os.cpu_count(),
            "env": env, "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="metastyle bench", description=__doc__.split("\n")[0])
    add_arguments(p)
    return p.parse_args(argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: a smoke test in seconds")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="results/bench", help="folder for <device-slug>[-quick].json")
    p.add_argument("--sizes", default=None, help="stylisation sizes (default 256,512; quick 32,64)")
    p.add_argument("--meta-size", default=None, help="meta-iteration image sizes, comma list (GPU 256, CPU 64,128)")
    p.add_argument("--meta-variants", default=",".join(META_VARIANTS),
                   help=f"meta-step variants to time (default all: {','.join(META_VARIANTS)})")
    p.add_argument("--meta-child", choices=list(META_VARIANTS), default=None,
                   help="internal/standalone: time one meta variant in this process, print one JSON line, exit")
    p.add_argument("--meta-order", choices=ORDERS, default="second", help="with --meta-child: second/first order")
    p.add_argument("--adapt-size", type=int, default=None, help="adaptation content size (GPU 256, CPU 128)")
    p.add_argument("--adapt-style-size", type=int, default=None, help="adaptation style size (GPU 512, CPU 256)")
    p.add_argument("--adapt-steps", type=int, default=None, help="timed adaptation steps (GPU 20, CPU 3)")
    p.add_argument("--gatys-steps", type=int, default=None, help="Gatys iterations timed (default 10; quick 2)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats (default 5; quick 1)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up runs (default 1)")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: leave as is)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="also measure torch.compile (default: on, off with --quick)")
    p.add_argument("--skip", default="", help="comma list of sections to skip: stylize,methods,meta,adapt")
    p.add_argument("--overwrite", action="store_true", help="replace an existing <out>/<machine>.json")
    p.add_argument("--count-flops", action=argparse.BooleanOptionalAction, default=True,
                   help="count each meta variant's and the adaptation step's FLOPs (one untimed extra step each, "
                        "after the timing; default on)")


def _defaults(args, device) -> argparse.Namespace:
    gpu, q = device.type == "cuda", args.quick
    pick = lambda v, quick, g, c: v if v is not None else (quick if q else (g if gpu else c))  # noqa: E731
    args.sizes = [int(s) for s in (args.sizes or ("32,64" if q else "256,512")).split(",")]
    args.meta_sizes = [int(v) for v in str(pick(args.meta_size, 32, 256, "64,128")).split(",")]
    args.meta_variants = [v for v in str(args.meta_variants).split(",") if v]
    unknown = sorted(set(args.meta_variants) - set(META_VARIANTS))
    if unknown:
        raise SystemExit(f"metastyle bench: unknown --meta-variants {unknown}; choose from {list(META_VARIANTS)}")
    args.adapt_size = pick(args.adapt_size, 32, 256, 128)
    args.adapt_style_size = pick(args.adapt_style_size, 32, 512, 256)
    args.adapt_steps = pick(args.adapt_steps, 1, 20, 3)
    args.gatys_steps = pick(args.gatys_steps, 2, 10, 10)
    args.repeats = pick(args.repeats, 1, 10, 3)
    args.warmup = pick(args.warmup, 0, 2, 1)
    args.compile = pick(args.compile, False, True, True)
    return args


def run(args) -> dict:
    args.device_str = args.device
    device = runtime.resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    args = _defaults(args, device)
    skip = set(filter(None, args.skip.split(",")))
    torch.manual_seed(0)
    spec = LossSpec()
    loss_net = load_loss_net("vgg16-caffe", spec.layers, device=device)
    dev = device_info(device)
    result = {"schema": SCHEMA, "quick": args.quick, "device": dev, "versions": runtime.versions(),
              "git_commit": runtime.git_commit(), "loss_net": loss_net.info.label(),
              "memory_method": MEMORY_METHOD[device.type], "settings": {
                  k: v for k, v in vars(args).items() if k not in ("func", "out", "device")},
              "backends": {"mkldnn": torch.backends.mkldnn.is_available(),
                           "cudnn_benchmark": torch.backends.cudnn.benchmark}}
    t0 = time.perf_counter()
    result["machine"] = machine_rates(device, args.quick)
    if "stylize" not in skip:
        result["stylize"] = {"transformer": bench_transformer(device, args.sizes, result["machine"], args)}
    if "methods" not in skip:
        result.setdefault("stylize", {})["gatys"] = bench_gatys(device, args.sizes, loss_net, spec, args)
        result["stylize"]["arbitrary"] = bench_arbitrary(device, args.sizes, args)
    if "meta" not in skip:
        result["meta"] = annotate_meta({"sizes": {str(size): bench_meta(device, loss_net, spec, argparse.Namespace(
            **{**vars(args), "meta_size": size})) for size in args.meta_sizes}}, result["machine"])
    if "adapt" not in skip:
        result["adapt"] = bench_adapt(device, loss_net, spec, args)
        if "flops_per_step" in result["adapt"]:
            result["adapt"]["efficiency"] = efficiency.rates(result["adapt"]["flops_per_step"],
                                                             result["adapt"]["s_per_step"], result["machine"])
    result["device"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["wall_s"] = time.perf_counter() - t0
    return result


def format_table(r: dict) -> str:
    m = r["machine"]
    lines = [f"device: {r['device']['name']} ({r['device']['threads']} threads), torch {r['versions']['torch']}",
             f"machine: matmul {m['matmul']['gflops']:.1f} GFLOP/s, conv3x3 {m['conv3x3']['gflops']:.1f} GFLOP/s"
             + (f", conv3x3 bf16 {m['conv3x3_bf16']['gflops']:.1f} GFLOP/s" if "gflops" in m.get("conv3x3_bf16", {})
                else "")]
    for size, s in r.get("stylize", {}).get("transformer", {}).get("sizes", {}).items():
        for name, v in s["variants"].items():
            lines.append(f"stylize {size:>4} {name:<16} " + (
                f"{v['median_s'] * 1e3:9.2f} ms  {v['gflops']:7.1f} GFLOP/s  {100 * v['frac_matmul']:5.1f}% of matmul"
                if "median_s" in v else v["error"]))
    st = r.get("stylize", {})
    gatys_sizes = st.get("gatys", {}).get("sizes", {})
    lines += [f"gatys {k:>4} {x['s_per_iteration']:.3f} s/iteration" for k, x in gatys_sizes.items()]
    lines += [f"{n}: {x}" for n, x in st.get("arbitrary", {}).get("methods", {}).items()]
    for size, m in r.get("meta", {}).get("sizes", {}).items():
        for name, v in m["runs"].items():
            if "median_s" not in v:
                lines.append(f"meta {size}px {name:<20} {v.get('error', 'not run')}")
                continue
            e = v.get("efficiency")
            lines.append(f"meta {size}px {name:<20} median {v['median_s']:7.3f} s (min {v['min_s']:.3f}, max "
                         f"{v['max_s']:.3f})  peak RSS {v['peak_memory_bytes'] / 2**20:7.0f} MiB" + (
                             f"  {v['flops']['total'] / 1e9:.1f} GFLOP, {e['gflops']:.1f} GFLOP/s, "
                             f"{100 * e['frac_conv_fp32']:.0f}% of fp32 conv" if e else ""))
        for order, v in m["speedup_vs_official"].items():
            lines.append(f"meta {size}px speed-up vs official loop ({order} order): "
                         + ", ".join(f"{k} {x:.2f}x" for k, x in v.items()))
    if "adapt" in r:
        a = r["adapt"]
        lines.append(f"adapt {a['content_size']}px: {a['s_per_step']:.3f} s/step over {a['steps_timed']} steps; "
                     f"200 steps extrapolated: {a['extrapolated_200_steps_s']:.1f} s" + (
                         f"; {a['flops_per_step']['total'] / 1e9:.1f} GFLOP/step, {a['efficiency']['gflops']:.1f} "
                         f"GFLOP/s" if "efficiency" in a else ""))
    return "\n".join(lines)


def write(result: dict, out_dir: str | Path) -> Path:
    """``<out>/<slug>[-quick].json``, and its efficiency table next to it (``efficiency.table_path``)."""
    out = Path(out_dir)
    make_folder(out, "--out folder")
    path = out / f"{result['device']['slug']}{'-quick' if result['quick'] else ''}.json"
    files.write_json(path, result)
    efficiency.write_table(result, efficiency.table_path(path), source=path.name)
    return path


#: the sections ``--skip`` names
SECTIONS = ("stylize", "methods", "meta", "adapt")


def check_output(args) -> Path:
    """Before any timing: ``--skip`` names known sections, and ``<out>/<machine>.json`` may be written (an
    existing one, e.g. the committed results/bench file, needs ``--overwrite``; ``--out`` is a folder)."""
    unknown = sorted(set(filter(None, args.skip.split(","))) - set(SECTIONS))
    if unknown:
        raise MetaStyleError(f"--skip: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    device = runtime.resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MetaStyleError(f"--out {out} is a file, not a folder")
    path = out / f"{device_info(device)['slug']}{'-quick' if args.quick else ''}.json"
    if path.exists() and not getattr(args, "overwrite", False):
        raise MetaStyleError(f"{path} already exists; pass --overwrite to replace it")
    return path


def cmd_bench(args) -> int:
    check_output(args)
    result = run(args)
    print(format_table(result))
    print(f"written {write(result, args.out)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.meta_child:
        if args.threads:
            torch.set_num_threads(args.threads)
        size = int(args.meta_size or 64)
        print(json.dumps(meta_child(args.meta_child, args.meta_order, size, args.repeats if args.repeats is not None
                                    else 1, args.warmup or 0, args.device, count=args.count_flops)))
        return 0
    try:
        return cmd_bench(args)
    except MetaStyleError as err:
        print(f"metastyle: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
