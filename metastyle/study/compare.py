"""The paper's two initialisation experiments (poster only; docs/paper-vs-code.md §5) as library calls;
notebooks only draw.

- ``gatys_inits``: Gatys et al. started from the content, from noise, and from MetaStyle's style-free
  output M(I_c; theta) ("contents preprocessed by MetaStyle"): loss against iteration and seconds, snapshots.
- ``johnson_inits``: the single-style loop (``adapt.fit_style``) started from a random init (Johnson et al.)
  and from theta (MetaStyle's adaptation, i.e. "Johnson initialised by MetaStyle"): training loss per step,
  held-out-content loss every ``eval_every`` steps, snapshots. The two runs share data order, optimiser and
  settings, so "adapt 200 steps" and "Johnson 200 steps from scratch" are directly comparable.

The published text of these experiments was not found (docs/paper-vs-code.md §5): they are extensions, not
reproductions.
Every curve and snapshot is written as data (CSV, JSON, PNG) into ``out_dir``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import torch

from metastyle.baselines.gatys import gatys
from metastyle.data.images import save_image
from metastyle.data.sets import ImageSet
from metastyle.errors import MetaStyleError
from metastyle.infra.files import write_csv, write_json
from metastyle.method.adapt import fit_style
from metastyle.method.context import Context, Objective
from metastyle.method.losses import LossSpec
from metastyle.method.nets import TransformerNet, random_init
from metastyle.method.stylize import stylize
from metastyle.study.metrics import perceptual


# ------------------------------------------------------------------------------------------------ Gatys
def gatys_inits(content: torch.Tensor, style: torch.Tensor, loss_net, spec: LossSpec, out_dir: str | Path, *,
                theta: TransformerNet | None = None, inits: tuple[str, ...] = ("content", "noise", "metastyle"),
                iterations: int, optimizer: str = "lbfgs", snapshot_at: tuple[int, ...] = (0, 10, 50, 100),
                seed: int = 0, progress: bool = False) -> dict:
    """Gatys from each start in ``inits`` (``content``, ``noise``, ``metastyle`` = M(content; theta)).

    Returns ``{"rows": [...], "summary": [...], "paths": {...}}``: ``rows`` one dict per (init, iteration)
    with loss, content, style, seconds, evaluations; ``summary`` one dict per init.
    Writes:
        ``out_dir/gatys_curves.csv`` (the rows), ``out_dir/gatys_summary.json`` (summary + loss network +
        spec), ``out_dir/gatys_snapshots/<init>_it<k>.png`` (iterations in ``snapshot_at`` that were reached,
        and the final image as ``<init>_final.png``).
    """
    if "metastyle" in inits and theta is None:
        raise MetaStyleError("gatys_inits: the 'metastyle' start needs theta (M(I_c; theta))")
    out = Path(out_dir)
    snaps = out / "gatys_snapshots"
    snaps.mkdir(parents=True, exist_ok=True)
    rows, summary = [], []
    objective = Objective(loss_net, spec, content.device)
    for name in inits:
        start = stylize(theta, content).to(content.device) if name == "metastyle" else name
        res = gatys(content, style, objective, iterations=iterations, optimizer=optimizer, init=start,
                    seed=seed, snapshot_at=snapshot_at, progress=progress)
        rows += [{"init": name, **h} for h in res.history_rows()]
        files = {k: str(save_image(img, snaps / f"{name}_it{k}.png")) for k, img in sorted(res.snapshots.items())}
        files["final"] = str(save_image(res.image, snaps / f"{name}_final.png"))
        summary.append({"init": name, "optimizer": optimizer, "iterations": iterations, "seconds": res.seconds,
                        "initial_loss": res.history[0].loss, "final_loss": res.history[-1].loss,
                        "evaluations": res.history[-1].evaluations, "snapshots": files})
    paths = {"curves": write_csv(out / "gatys_curves.csv", rows),
             "summary": write_json(out / "gatys_summary.json",
                                   {"runs": summary, "loss_net": loss_net.info.to_dict(),
                                    "loss_net_label": loss_net.info.label(), "loss_spec": dataclasses.asdict(spec)}),
             "snapshots": snaps}
    return {"rows": rows, "summary": summary, "paths": paths}


# ---------------------------------------------------------------------------------------------- Johnson
def johnson_inits(ctx: Context, style: torch.Tensor, train_contents: ImageSet,
                  eval_contents: ImageSet | Sequence[tuple[str, torch.Tensor]], out_dir: str | Path, *,
                  theta: TransformerNet | None = None, starts: tuple[str, ...] = ("random", "theta"),
                  nets: dict[str, TransformerNet] | None = None, steps: int | None = None, eval_every: int = 10,
                  snapshot_at: tuple[int, ...] = (0, 50, 100, 200), max_snapshots: int = 4,
                  progress: bool = False) -> dict:
    """Single-style training from each start (``random`` = Johnson et al., ``theta`` = MetaStyle's init, or
    any name in ``nets``, e.g. ``{"plain": theta_plain}``).

    Uses the config's adaptation settings (Adam ``adapt.lr``, ``adapt.batch``, every parameter) for both;
    ``steps`` defaults to ``adapt.steps``. Held-out loss is measured at step 0, every ``eval_every`` steps and
    at the end, on all of ``eval_contents`` (an ImageSet, or ``(name, image (1, 3, H, W))`` pairs of one size;
    time excluded from ``seconds``).
    Returns ``{"train": [...], "eval": [...], "summary": [...], "paths": {...}, "snapshots": {start: {step:
    [png per content]}}}``.
    Writes:
        ``out_dir/johnson_train.csv`` (start, step, loss, content, style, seconds),
        ``out_dir/johnson_eval.csv`` (start, step, loss, content, style),
        ``out_dir/johnson_summary.json``, and ``out_dir/johnson_snapshots/<start>_step<k>_<content>.png``
        for steps in ``snapshot_at`` (first ``max_snapshots`` held-out contents).
    """
    if "theta" in starts and theta is None:
        raise MetaStyleError("johnson_inits: the 'theta' start needs theta")
    known = {"random", "theta", *(nets or {})}
    unknown = [s for s in starts if s not in known]
    if unknown:
        raise MetaStyleError(f"johnson_inits: unknown start(s) {unknown}; known: {sorted(known)}")
    cfg, a = ctx.cfg, ctx.cfg.adapt
    steps = a.steps if steps is None else steps
    out = Path(out_dir)
    snaps = out / "johnson_snapshots"
    snaps.mkdir(parents=True, exist_ok=True)
    style = style.to(ctx.device)
    if isinstance(eval_contents, ImageSet):
        held, eval_names = eval_contents.all(ctx.device), eval_contents.names()
    else:
        held = torch.cat([x.to(ctx.device) for _, x in eval_contents])
        eval_names = [n for n, _ in eval_contents]
    names = eval_names[:max_snapshots]
    train_rows, eval_rows, summary = [], [], []
    shots: dict[str, dict[int, list[str]]] = {s: {} for s in starts}
    for start in starts:
        net = (random_init(cfg.run.seed) if start == "random" else {"theta": theta, **(nets or {})}[start])
        net = net.to(ctx.device)

        def hook(step, model, _opt=None, start=start):
            if step % eval_every == 0 or step == steps:
                was_training = model.training
                with torch.no_grad():
                    out = model.eval()(held)
                model.train(was_training)
                loss = perceptual(out, held, style, ctx)
                eval_rows.append({"start": start, "step": step, "loss": loss["total"], "content": loss["content"],
                                  "style": loss["style"]})
            if step in snapshot_at:
                imgs = stylize(model, held[: len(names)])
                shots[start][step] = [str(save_image(img, snaps / f"{start}_step{step}_{name}.png"))
                                      for img, name in zip(imgs, names)]

        hook(0, net)
        history = []
        fit_style(net, ctx, style, train_contents, steps=steps, params="all", callback=history.append,
                  progress=progress, desc=f"fit [{start}]", hook_every=1, hook=hook)
        train_rows += [{"start": start, "step": h.step, "loss": h.loss, "content": h.content, "style": h.style,
                        "seconds": h.seconds} for h in history]
        ev = [r for r in eval_rows if r["start"] == start]
        summary.append({"start": start, "steps": steps, "eval_loss_0": ev[0]["loss"],
                        "eval_loss_final": ev[-1]["loss"],
                        "train_seconds": history[-1].seconds if history else 0.0})
    record = {**ctx.record(), "summary": summary, "eval_contents": eval_names,
              "loss_net_label": ctx.loss_net.info.label()}
    paths = {"train": write_csv(out / "johnson_train.csv", train_rows),
             "eval": write_csv(out / "johnson_eval.csv", eval_rows),
             "summary": write_json(out / "johnson_summary.json", record), "snapshots": snaps}
    return {"train": train_rows, "eval": eval_rows, "summary": summary, "paths": paths, "snapshots": shots}


#: Held-out adaptation curves are evaluated at ``points`` evenly spaced steps (``study.adaptation_curve``);
#: the meta-vs-plain rule compares the first one after step 0 (speed) and the last (the profile's budget).
POINTS = 6


# ------------------------------------------------------------------------------------------ comparison
def comparison_steps(steps: int, points: int = POINTS) -> list[int]:
    """The adaptation steps the meta-vs-plain rule compares: the first evaluated step after 0 (how fast;
    the paper's claim is fast adaptation, Sec. 4) and ``steps`` (the profile's budget, paper "100-200")."""
    return sorted({round(steps * 1 / (points - 1)), steps})


def init_curves(ctx: Context, inits: dict[str, TransformerNet], styles: Sequence[tuple[str, torch.Tensor]],
                eval_contents: torch.Tensor, *, steps: int | None = None, points: int = POINTS,
                contents=None) -> list[dict]:
    """Adapt every init in ``inits`` (e.g. meta / plain / scratch) to every held-out style with the same
    steps, data order and optimiser, and return the held-out-content loss curves.

    Each row: ``style`` (name), ``init``, ``step``, ``loss``, ``content_loss``, ``style_loss``
    (``study.adaptation_curve`` at ``points`` evenly spaced steps, ``adapt`` settings of the config).
    """
    from metastyle.study.evaluation import adaptation_curve

    steps = ctx.cfg.adapt.steps if steps is None else steps
    rows = []
    for name, style in styles:
        for init_name, init in inits.items():
            for r in adaptation_curve(init.to(ctx.device), style, ctx, eval_contents, steps=steps, points=points,
                                      contents=contents):
                rows.append({"style": name, "init": init_name, "step": r["step"], "loss": r["loss_total"],
                             "content_loss": r["loss_content"], "style_loss": r["loss_style"]})
    return rows


def summarize(rows: list[dict], steps: Sequence[int]) -> dict:
    """``{"steps": [...], "styles": {style: {init: [held-out loss at each step]}}}`` from ``init_curves``
    rows: the numbers ``report``'s meta-vs-plain rule reads. A step missing from a curve is an error."""
    table = {(r["style"], r["init"], r["step"]): r["loss"] for r in rows}
    styles: dict[str, dict] = {}
    for style, init, _ in table:
        styles.setdefault(style, {}).setdefault(init, [])
    for style, by_init in styles.items():
        for init in by_init:
            missing = [s for s in steps if (style, init, s) not in table]
            if missing:
                raise MetaStyleError(f"no held-out loss at step(s) {missing} for style {style!r}, init {init!r}")
            by_init[init] = [float(table[style, init, s]) for s in steps]
    return {"steps": [int(s) for s in steps], "styles": styles}
