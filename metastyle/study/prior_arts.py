"""The paper's other methods (Table 1) as the study runs them: Gatys et al. at a profile's iteration budget,
and the arbitrary-style methods trained at the profile's scale and cached under ``runs/``."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from metastyle import config
from metastyle.baselines import arbitrary, gatys
from metastyle.baselines.arbitrary import common
from metastyle.config import ConfigError
from metastyle.data.images import find_images
from metastyle.data.sets import Item
from metastyle.infra import checkpoint
from metastyle.method.vgg import LossNetInfo
from metastyle.study.shared import FRAMEWORK_STYLES, INTERPOLATION

#: ``metastyle.baselines.arbitrary.METHODS`` keys -> Table 1 names (paper Table 1).
TABLE1_NAMES = {"adain": "AdaIN", "wct": "WCT", "styleswap": "StyleSwap", "metanet": "MetaNetworks",
                "avatar": "AvatarNet"}


def gatys_iterations(profile: str) -> int:
    if profile not in gatys.BUDGETS:
        raise ConfigError(f"no Gatys budget for profile {profile!r} (metastyle.baselines.gatys.BUDGETS has "
                                     f"{', '.join(gatys.BUDGETS)})")
    return gatys.BUDGETS[profile].iterations


#: The profile whose arbitrary-style schedules are the planned budget (issue 20): claim 6 is judged only when every
#: method was trained for its ``long`` schedule (``make baselines``).
PLANNED_PROFILE = "long"


#: Profiles whose single-style columns of the comparison (Gatys, Johnson, MetaStyle) are drawn at another
#: profile's scale. long's beta 1e5 and 64 px adaptation are the budget curve's regime (notebook 11), where every
#: adapted and Johnson model loses the photo (issue 19); the comparison under long is quick's figure, with long's
#: training for the arbitrary-style methods only (issue 20: every column shows each photo in its style).
FIGURE_PROFILE = {"long": "quick"}


def figure_context(ctx):
    """The Context of the comparison's single-style columns: ``ctx`` itself, or that of
    ``FIGURE_PROFILE[profile]`` (same seed, same loss network)."""
    other = FIGURE_PROFILE.get(ctx.cfg.profile)
    if other is None:
        return ctx
    from metastyle.method.context import make_context

    return make_context(config.load(other, seed=ctx.cfg.run.seed), loss_net=ctx.loss_net)


def arbitrary_dir(profile: str, seed: int, runs_dir="runs") -> Path:
    """``runs/arbitrary-<profile>-<seed>``: the trained arbitrary-style models of a profile (notebook 03's cache)."""
    return Path(runs_dir) / f"arbitrary-{profile}-{seed}"


def figure_style(name: str) -> bool:
    """A style some figure shows (``shared.FRAMEWORK_STYLES``, the interpolation's), or a crop of one
    (``mondrian_cropped``): never a training style of the baselines."""
    shown = (*FRAMEWORK_STYLES, *INTERPOLATION[1:])
    return any(name == s or name.startswith(f"{s}_") for s in shown)


def training_splits(splits, data_dir="data/examples"):
    """``splits`` with the baselines' training styles: the profile's training styles (procedural under
    quick/long, never its evaluation styles) plus the example paintings under ``data_dir/style`` that no figure
    shows (``figure_style``), when that folder exists. Every figure, with embedded or example images, then shows
    the baselines unseen styles, as it shows MetaStyle's."""
    extra = []
    folder = Path(data_dir) / "style"
    if folder.is_dir():
        extra = [Item(p.stem, p) for p in find_images(folder) if not figure_style(p.stem)]
    train = [i for i in splits.style_train if not figure_style(i.name)]
    return dataclasses.replace(splits, style_train=tuple(train + extra))


def ensure_arbitrary(key: str, ctx, runs_dir="runs", *, train: bool = True, data_dir="data/examples"):
    """``metastyle.baselines.arbitrary.METHODS[key]`` trained at the profile's schedule, cached in
    ``arbitrary_dir``; training resumes a stopped run there (``Method.train``). Returns ``(method, model)``."""
    m = arbitrary.METHODS[key]
    folder = arbitrary_dir(ctx.cfg.profile, ctx.cfg.run.seed, runs_dir)
    path = folder / f"{key}.pt"
    if path.is_file():
        model, _ = m.load(path)
        return m, model.to(ctx.device)
    model = m.build()
    if train:
        m.train(model, ctx.cfg.profile, training_splits(ctx.splits, data_dir), folder, seed=ctx.cfg.run.seed,
                progress=True, budget_s=common.LONG_CAP_MINUTES * 60 if ctx.cfg.profile == PLANNED_PROFILE else None)
    return m, model.to(ctx.device)


def _key(name: str) -> str:
    return {v: k for k, v in TABLE1_NAMES.items()}.get(name, name)


def planned_iterations(name: str) -> int | None:
    """The iterations of the method's ``long`` schedule (None while it waits on a measurement)."""
    return arbitrary.METHODS[_key(name)].module.RECIPES[PLANNED_PROFILE]["iterations"]


def arbitrary_budget(name: str, profile: str) -> tuple[int, int]:
    """``(iterations of the profile's schedule, iterations of the published recipe)`` of an arbitrary-style method
    (Table 1 name or ``metastyle.baselines.arbitrary.METHODS`` key)."""
    m = arbitrary.METHODS[_key(name)]
    return m.settings(profile).iterations, m.settings("paper").iterations


def trained(name: str, ctx, runs_dir="runs") -> dict:
    """How much training the cached model of ``name`` had, from its file: ``iterations``, ``planned`` (the long
    schedule's), ``recipe`` (the paper's), ``seconds``, ``size``, ``batch``, ``profile`` and ``encoder`` (its
    label, "vgg16-caffe (..., in place of vgg19)" where VGG-19 weights were missing); ``{}`` when no file."""
    key = _key(name)
    path = arbitrary_dir(ctx.cfg.profile, ctx.cfg.run.seed, runs_dir) / f"{key}.pt"
    if not path.is_file():
        return {}
    meta = checkpoint.load(path, "metastyle-model")
    s = meta.get("settings", {})
    history = meta.get("history") or []
    return {"iterations": int(meta.get("iterations", len(history))), "planned": planned_iterations(key),
            "recipe": arbitrary.METHODS[key].settings("paper").iterations,
            "seconds": float(meta.get("seconds", history[-1]["seconds"] if history else 0.0)),
            "size": s.get("size"), "batch": s.get("batch"), "profile": s.get("profile"),
            "encoder": LossNetInfo(**meta["loss_net"]).label() if meta.get("loss_net") else "unknown"}


def budget_label(name: str, ctx, *, johnson_steps: int = 0, done: dict | None = None) -> str:
    """A panel title saying how much training or optimisation the method's output got (figure 03); for an
    arbitrary-style method ``done`` is its ``trained`` record."""
    cfg = ctx.cfg
    if name == "MetaStyle":
        return f"MetaStyle\n{cfg.adapt.steps} steps from θ"
    if name == "Johnson":
        return f"Johnson\n{johnson_steps} steps, scratch"
    if name == "Gatys":
        return f"Gatys\n{gatys_iterations(cfg.profile)} L-BFGS it."
    if not done:
        return f"{name}\nnot trained"
    return (f"{name}\ntrained {done['iterations']:,} of the\nrecipe's {done['recipe']:,} it.\n"
            f"{done['size']} px, {done['seconds'] / 60:.0f} min")


def run_method(name: str, content: torch.Tensor, style: torch.Tensor, ctx, *, runs_dir="runs",
               steps: int | None = None, data_dir="data/examples", **_) -> torch.Tensor:
    """One stylisation ``(1, 3, H, W)`` by a baseline: ``Gatys`` (``metastyle.baselines.gatys``) or a Table 1 name /
    key of ``metastyle.baselines.arbitrary.METHODS`` (trained at the profile's scale, cached)."""
    if name == "Gatys":
        res = gatys.gatys(content, style, ctx, iterations=steps or gatys_iterations(ctx.cfg.profile),
                          seed=ctx.cfg.run.seed)
        return res.image.detach().cpu()
    m, model = ensure_arbitrary(_key(name), ctx, runs_dir, data_dir=data_dir)
    with torch.no_grad():
        return m.stylize(model, content.to(ctx.device), style.to(ctx.device)).detach().cpu()


# ----------------------------------------------------------------------------- make baselines (issue 20)
def train_all(profile: str = PLANNED_PROFILE, runs_dir="runs", data_dir="data/examples", only=None,
              seed: int = 0, encoder: str = "auto-vgg19") -> list[str]:
    """Train every arbitrary-style method (or those in ``only``) at the profile's schedule into
    ``arbitrary_dir``, where notebook 03 finds them. Resumable: a rerun continues a stopped method and keeps
    every finished one (a finished model made with other settings is reported, never replaced). Every schedule
    is checked first, so a method still waiting on its measurement stops the run before any training.

    Writes: ``runs/arbitrary-<profile>-<seed>/<key>.pt`` (``<key>.train.pt`` while training). Returns the keys
    trained now.
    """
    from metastyle.data.sets import make_splits

    cfg = config.load(profile, seed=seed)
    keys = list(only or arbitrary.METHODS)
    settings = {k: arbitrary.METHODS[k].settings(profile) for k in keys}
    splits = training_splits(make_splits(cfg.data, cfg.run.seed), data_dir)
    folder = arbitrary_dir(profile, cfg.run.seed, runs_dir)
    print(f"[baselines] {profile}: {', '.join(keys)} into {folder}; {len(splits.style_train)} training styles "
          f"(figure styles excluded), {len(splits.content_train)} contents", flush=True)
    done = []
    for k in keys:
        path = folder / f"{k}.pt"
        if path.is_file():
            meta = checkpoint.load(path, "metastyle-model")
            same = meta.get("settings") == settings[k].to_dict()
            print(f"[baselines] {k}: finished ({meta.get('iterations', '?')} iterations, "
                  f"{float(meta.get('seconds', 0)) / 60:.0f} min), kept"
                  + ("" if same else "; made with other settings than the current schedule: move it away to "
                                     "train again"), flush=True)
            continue
        m = arbitrary.METHODS[k]
        m.train(m.build(encoder), settings[k], splits, folder, progress=True, seed=cfg.run.seed,
                budget_s=common.LONG_CAP_MINUTES * 60)
        done.append(k)
    return done


def measure(key: str, profile: str = PLANNED_PROFILE, n: int = 3, data_dir="data/examples",
            encoder: str = "auto-vgg19") -> float:
    """Seconds per iteration of ``key``'s ``profile`` schedule (size, batch, loss), over ``n`` iterations after a
    first one (image decoding, allocation); the schedule's iteration count is not needed, so this works before
    it is set. Prints what the schedule's iterations would take against ``common.LONG_CAP_MINUTES``."""
    from metastyle.data.sets import make_splits

    m = arbitrary.METHODS[key]
    s = common.settings_for(m.module.RECIPES, profile, {"iterations": n + 1, "log_every": 10 ** 9})
    cfg = config.load(profile)
    splits = training_splits(make_splits(cfg.data, cfg.run.seed), data_dir)
    model = m.build(encoder)
    batches = common.Batches.from_splits(splits, s.size, cfg.run.seed)
    history = common.fit(model.learned.parameters(), lambda step: m.module.loss(model, *batches.draw(step, s.batch), s),
                         s)
    per = (history[-1]["seconds"] - history[0]["seconds"]) / n
    planned = m.module.RECIPES[profile].get("iterations")
    at = f"{planned} iterations take {planned * per / 60:.0f} min" if planned else "iterations not set yet"
    print(f"{key}: {per:.3g} s/iteration ({s.size} px, batch {s.batch}, {torch.get_num_threads()} threads); "
          f"{at} (cap {common.LONG_CAP_MINUTES} min); {m.module.__name__}.LONG_SECONDS_PER_ITERATION = {per:.2g} "
          f"plans {common.iterations_within(per)} iterations", flush=True)
    return per


def main(argv=None) -> int:
    import argparse
    import sys

    from metastyle.errors import MetaStyleError

    p = argparse.ArgumentParser(prog="python -m metastyle.study.prior_arts",
                                description="train (resumably) or time the arbitrary-style baselines' schedules")
    p.add_argument("action", choices=("train", "measure"))
    p.add_argument("methods", nargs="*", help=f"some of {', '.join(arbitrary.METHODS)} (default: all five)")
    p.add_argument("--profile", default=PLANNED_PROFILE)
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--data-dir", default="data/examples", help="example paintings no figure shows join training")
    p.add_argument("--seed", type=int, default=0, help="0 = the profile's seed")
    p.add_argument("--iterations", type=int, default=3, help="measure: iterations timed after the first")
    args = p.parse_args(argv)
    unknown = sorted(set(args.methods) - set(arbitrary.METHODS))
    if unknown:
        p.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(arbitrary.METHODS)}")
    try:
        if args.action == "train":
            train_all(args.profile, args.runs_dir, args.data_dir, args.methods or None, args.seed)
        else:
            for key in args.methods or arbitrary.METHODS:
                measure(key, args.profile, args.iterations, args.data_dir)
    except MetaStyleError as err:
        print(f"metastyle: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
