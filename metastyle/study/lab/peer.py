"""Adaptation against a peer: one ``metastyle adapt`` step vs one training step of pytorch/examples'
fast_neural_style, as whole processes, at the same image size, batch, loss network, layers and loss weights.

``python -m metastyle.study.lab.peer --examples PATH [--work DIR] [--size 256] [--style-size 256] [--batch 4]
[--steps 10,30] [--run [--repeats 3]]`` (or ``make peer-adapt PEER=PATH``) prepares a work folder and prints the
four commands to time: each side at two step counts, so that start-up (imports, building VGG, reading the style)
cancels in ``(T(n2) - T(n1)) / (n2 - n1)``. ``--run`` also runs them, interleaved, under ``/usr/bin/time`` where
it exists, and prints the per-step estimates (a figure only on idle cores: docs/performance.md, "Adaptation
against pytorch/examples").

Their code stays outside this project and is never copied into it: ``PATH`` is a checkout of pytorch/examples (or
its ``fast_neural_style`` folder), and their ``neural_style/neural_style.py train`` runs unmodified, as published.
What they need and cannot have here is prepared in the work folder instead:

* **Loss network.** Their ``Vgg16`` calls torchvision's ``vgg16(weights=IMAGENET1K_V1)``, which reads
  ``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth`` when it exists (the hash is checked only on download).
  ``hub_state()`` writes that file from our offline ``vgg16-caffe`` weights (``method.caffe_vgg``), torchvision's
  key names and shapes, with Caffe's input convention and our feature scale folded into conv1_1 (weights scaled
  per input channel, bias shifted), so their network computes ``vgg16-caffe``'s features from torchvision-normalised
  input, up to the one-pixel zero-padded border of conv1_1. Layers the loss never reads (the classifier; conv5_x
  where only the carried prefix exists) are zeros stored as one broadcast element, so the file stays small. The
  FLOPs are identical; their loss values are not ours (their transformer takes and returns [0, 255] images without
  a sigmoid): that is irrelevant to timing.
* **Data.** Their loop runs ``--epochs 1`` over an ``ImageFolder``: ``<work>/data-<n>/photos/`` holds exactly
  ``n * batch`` embedded photographs at ``size`` x ``size`` pixels, so it runs exactly ``n`` steps. Our side reads
  the same folder (``--contents``) for the same ``n`` steps (``--adapt.steps``).
* **Style.** ``<work>/style.png`` at ``style_size`` x ``style_size``, given to both without a resize flag of
  theirs (their ``--style-size`` path calls ``Image.ANTIALIAS``, gone since Pillow 10).

Our side: ``metastyle adapt`` from a seeded random theta (``<work>/theta.pt``; the step's cost does not depend on
the weights), all parameters, Adam 1e-3, ``vgg16-caffe``, content weight 1 and style weight 1e5 on both sides
(relu2_2 content, relu1_2 ... relu4_3 style, Grams normalised by C*H*W, MSE: the same loss form as theirs).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from metastyle.errors import MetaStyleError

ROOT = Path(__file__).resolve().parents[3]
#: torchvision's file name for ``VGG16_Weights.IMAGENET1K_V1`` (its hub cache reads it without a hash check)
HUB_FILE = "vgg16-397923af.pth"
#: torchvision's ``vgg16`` state dict: features conv layers (index: (out, in)) and the classifier's linears
VGG16_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256),
               14: (256, 256), 17: (512, 256), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512),
               28: (512, 512)}
VGG16_LINEARS = {0: (4096, 512 * 7 * 7), 3: (4096, 4096), 6: (1000, 4096)}
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's normalisation, the one their normalize_batch applies
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS = {"content": 1.0, "style": 1e5}


def _zeros(*shape: int) -> torch.Tensor:
    """Zeros of ``shape`` held in one element (stride 0): torch.save stores the storage, not the view."""
    return torch.zeros(1).expand(*shape)


def hub_state() -> dict[str, torch.Tensor]:
    """A torchvision ``vgg16`` state dict (every key, every shape) computing ``vgg16-caffe``'s features from
    torchvision-normalised input ``(x - mean) / std``, x in [0, 1] (module docstring)."""
    from metastyle.method import caffe_vgg
    from metastyle.method.vgg import CAFFE_FEATURE_SCALE

    caffe, _ = caffe_vgg.features_state()  # RGB conv1_1, input 255 * x - MEAN_RGB
    s = CAFFE_FEATURE_SCALE
    state = {}
    for i, (cout, cin) in VGG16_CONVS.items():
        w, b = caffe.get(f"{i}.weight"), caffe.get(f"{i}.bias")
        if w is None:  # only the carried conv1_1 ... conv4_3 prefix exists: deeper layers are never read
            state[f"features.{i}.weight"], state[f"features.{i}.bias"] = _zeros(cout, cin, 3, 3), _zeros(cout)
            continue
        w, b = w.double(), b.double()
        if i == 0:  # 255 * x - MEAN_RGB = 255 * std * n + (255 * mean - MEAN_RGB), n the normalised input
            std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
            shift = 255 * torch.tensor(IMAGENET_MEAN, dtype=torch.float64) - torch.tensor(caffe_vgg.MEAN_RGB)
            b = b + (w * shift.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
            w = w * 255 * std / s
        b = b / s  # the feature scale: conv1_1's weights and every bias divided by s (vgg._caffe)
        state[f"features.{i}.weight"], state[f"features.{i}.bias"] = w.float().contiguous(), b.float().contiguous()
    for i, (out, inp) in VGG16_LINEARS.items():
        state[f"classifier.{i}.weight"], state[f"classifier.{i}.bias"] = _zeros(out, inp), _zeros(out)
    return state


def write_hub_cache(torch_home: Path) -> Path:
    """``<torch_home>/hub/checkpoints/vgg16-397923af.pth`` from ``hub_state()``."""
    path = torch_home / "hub" / "checkpoints" / HUB_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(hub_state(), path)
    return path


def photos(size: int) -> list:
    """The embedded content photographs, each resized (short side) and centre-cropped to ``size`` x ``size``."""
    from metastyle.data import embedded
    from metastyle.data.images import resize_crop

    return [resize_crop(img, size) for _, img in embedded.content_images()]


def write_dataset(folder: Path, count: int, size: int) -> Path:
    """An ImageFolder root ``folder`` with one class, ``photos/``, of exactly ``count`` PNG files of ``size``
    px (the embedded photos, cycled). Returns the class folder (our ``--contents``)."""
    pics = photos(size)
    cls = folder / "photos"
    if folder.exists():
        shutil.rmtree(folder)
    cls.mkdir(parents=True)
    for i in range(count):
        pics[i % len(pics)].save(cls / f"{i:05d}.png")
    return cls


def write_style(path: Path, size: int) -> Path:
    from metastyle.data import embedded

    _, img = embedded.style_images(1, seed=0, size=size)[0]
    img.convert("RGB").resize((size, size)).save(path)
    return path


def write_theta(path: Path, seed: int = 0) -> Path:
    """A seeded random ``TransformerNet`` as a metastyle model file (what ``metastyle adapt --theta`` reads)."""
    from metastyle.infra import checkpoint
    from metastyle.method.nets import TransformerNet

    torch.manual_seed(seed)
    return checkpoint.save(checkpoint.model_record(TransformerNet(), role="peer-timing theta", seed=seed), path)


def find_script(examples: Path) -> Path:
    """``neural_style/neural_style.py`` under a pytorch/examples checkout or its ``fast_neural_style`` folder."""
    examples = examples.expanduser().resolve()
    for cand in (examples / "fast_neural_style" / "neural_style" / "neural_style.py",
                 examples / "neural_style" / "neural_style.py"):
        if cand.is_file():
            if ROOT in cand.parents:
                raise MetaStyleError(f"{cand} lies inside this project: keep pytorch/examples outside it")
            return cand
    raise MetaStyleError(f"no fast_neural_style/neural_style/neural_style.py under {examples}: pass a checkout of "
                         f"pytorch/examples (or its fast_neural_style folder)")


def commands(plan: dict, steps: int) -> dict[str, dict]:
    """The two whole-process commands for ``steps`` steps: ``{"theirs"|"ours": {"argv", "env"}}`` (env: what is
    set on top of the caller's environment)."""
    work, b = Path(plan["work"]), plan["batch"]
    data = work / f"data-{steps}"
    theirs = [sys.executable, plan["script"], "train", "--dataset", str(data), "--style-image", plan["style"],
              "--save-model-dir", str(work / f"out-theirs-{steps}"), "--epochs", "1", "--batch-size", str(b),
              "--image-size", str(plan["size"]), "--content-weight", str(WEIGHTS["content"]),
              "--style-weight", str(WEIGHTS["style"]), "--lr", "1e-3", "--log-interval", str(10 ** 9)]
    ours = [sys.executable, "-m", "metastyle", "adapt", plan["style"], "--theta", plan["theta"],
            "-o", str(work / f"out-ours-{steps}.pt"), "--contents", str(data / "photos"), "--no-progress",
            "--overwrite", "--device", "cpu", "--loss-net", "vgg16-caffe", "--adapt.steps", str(steps),
            "--adapt.batch", str(b), "--adapt.content_size", str(plan["size"]),
            "--adapt.style_size", str(plan["style_size"]), "--adapt.params", "all", "--adapt.lr", "1e-3",
            "--loss.content_weight", str(WEIGHTS["content"]), "--loss.style_weight", str(WEIGHTS["style"])]
    return {"theirs": {"argv": theirs, "env": {"TORCH_HOME": str(work / "torch_home")}},
            "ours": {"argv": ours, "env": {"PYTHONPATH": str(ROOT)}}}


def prepare(examples: Path, work: Path, *, size: int, style_size: int, batch: int, steps: tuple[int, int]) -> dict:
    """Everything both sides need in ``work`` (module docstring); returns the plan, also in ``<work>/plan.json``."""
    script = find_script(examples)
    if size % 4 or size < 16:
        raise MetaStyleError(f"--size must be a multiple of 4 and at least 16, got {size}")
    if len(steps) != 2 or not 0 < steps[0] < steps[1]:
        raise MetaStyleError(f"--steps takes two increasing step counts, e.g. 10,30; got {steps}")
    work = work.expanduser().resolve()
    work.mkdir(parents=True, exist_ok=True)
    plan = {"work": str(work), "script": str(script), "size": size, "style_size": style_size, "batch": batch,
            "steps": list(steps), "hub_file": str(write_hub_cache(work / "torch_home")),
            "style": str(write_style(work / "style.png", style_size)),
            "theta": str(write_theta(work / "theta.pt"))}
    for n in steps:
        write_dataset(work / f"data-{n}", n * batch, size)
    (work / "plan.json").write_text(json.dumps(plan, indent=1))
    return plan


def shell_line(cmd: dict) -> str:
    return " ".join([f"{k}={shlex.quote(v)}" for k, v in cmd["env"].items()] + [shlex.quote(a) for a in cmd["argv"]])


def run_one(cmd: dict) -> dict:
    """Run one command as a whole process (under ``/usr/bin/time`` where it exists); wall and CPU seconds, peak
    RSS (``os.wait4``), return code."""
    argv = (["/usr/bin/time", "-f", "time: wall %e s, user %U s, sys %S s, max RSS %M KiB"] if
            Path("/usr/bin/time").is_file() else []) + cmd["argv"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=os.environ | cmd["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return {"rc": proc.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_kib": usage.ru_maxrss, "tail": out.strip().splitlines()[-3:]}


def run(plan: dict, repeats: int, warmup: int = 1) -> dict:
    """Each side at both step counts, interleaved (theirs, ours, theirs, ours ...), ``repeats`` rounds after
    ``warmup`` untimed rounds of the shorter command (cold file caches: torch, the weights, the photos); per-step
    seconds from the medians: ``(T(n2) - T(n1)) / (n2 - n1)``."""
    import statistics

    n1, n2 = plan["steps"]
    cmds = {n: commands(plan, n) for n in (n1, n2)}
    times: dict = {side: {n1: [], n2: []} for side in ("theirs", "ours")}
    def run(side: str, n: int, label: str) -> dict:
        res = run_one(cmds[n][side])
        print(f"[peer] {label} {side:<6} {n:>4} steps: rc {res['rc']}, {res['wall_s']:.2f} s wall, "
              f"{res['cpu_s']:.2f} s CPU", flush=True)
        if res["rc"] != 0:
            raise MetaStyleError(f"{side} failed (rc {res['rc']}): {' / '.join(res['tail'])}")
        return res

    for r in range(warmup):
        for side in ("theirs", "ours"):
            run(side, n1, f"warm-up {r + 1}/{warmup} (not counted)")
    load = os.getloadavg()
    for r in range(repeats):
        for n in (n1, n2):
            for side in ("theirs", "ours"):
                times[side][n].append(run(side, n, f"round {r + 1}/{repeats}"))
    out = {"plan": plan, "load_average_start": load, "load_average_end": os.getloadavg(), "runs": {
        side: {str(n): v for n, v in t.items()} for side, t in times.items()}, "s_per_step": {}}
    for side, t in times.items():
        for key in ("wall_s", "cpu_s"):
            med = {n: statistics.median(x[key] for x in t[n]) for n in (n1, n2)}
            out["s_per_step"].setdefault(side, {})[key] = (med[n2] - med[n1]) / (n2 - n1)
    out["theirs_over_ours"] = {k: out["s_per_step"]["theirs"][k] / out["s_per_step"]["ours"][k]
                               for k in ("wall_s", "cpu_s")}
    out["valid"] = all(v > 0 for side in out["s_per_step"].values() for v in side.values())
    if not out["valid"]:
        print("[peer] warning: a per-step estimate is not positive: start-up varied more than the extra steps cost "
              "(a loaded machine, or too few steps); use idle cores and/or more --steps", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m metastyle.study.lab.peer", description=__doc__.split("\n")[0])
    p.add_argument("--examples", required=True, help="a checkout of pytorch/examples, or its fast_neural_style")
    p.add_argument("--work", default=None, help="work folder (default: a new temporary one)")
    p.add_argument("--size", type=int, default=256, help="content size, both sides (default 256)")
    p.add_argument("--style-size", type=int, default=256, help="style image side, both sides (default 256)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", default="10,30", help="the two step counts (default 10,30)")
    p.add_argument("--run", action="store_true", help="also run the four commands and print per-step times")
    p.add_argument("--repeats", type=int, default=3, help="with --run: interleaved rounds (default 3)")
    p.add_argument("--warmup-runs", type=int, default=1,
                   help="with --run: untimed rounds of the shorter command first (default 1)")
    a = p.parse_args(argv)
    try:
        steps = tuple(int(s) for s in a.steps.split(","))
        work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="metastyle-peer-"))
        plan = prepare(Path(a.examples), work, size=a.size, style_size=a.style_size, batch=a.batch, steps=steps)
        print(f"prepared {plan['work']} (plan.json): {a.size} px, style {a.style_size} px, batch {a.batch}, "
              f"steps {steps[0]} and {steps[1]}; per step = (T({steps[1]}) - T({steps[0]})) / {steps[1] - steps[0]}")
        for n in steps:
            for side, cmd in commands(plan, n).items():
                print(f"# {side}, {n} steps\n{shell_line(cmd)}")
        if a.run:
            result = run(plan, a.repeats, a.warmup_runs)
            (work / "peer-times.json").write_text(json.dumps(result, indent=1))
            s = result["s_per_step"]
            print(f"per step (wall): theirs {s['theirs']['wall_s']:.3f} s, ours {s['ours']['wall_s']:.3f} s, "
                  f"theirs/ours {result['theirs_over_ours']['wall_s']:.2f}x; CPU: theirs/ours "
                  f"{result['theirs_over_ours']['cpu_s']:.2f}x; load average {result['load_average_start']} -> "
                  f"{result['load_average_end']} (written {work / 'peer-times.json'})")
    except MetaStyleError as err:
        print(f"metastyle: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
