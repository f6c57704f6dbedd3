"""The paper's other methods (Table 1) as the study runs them: Gatys et al. at a profile's iteration budget,
and the arbitrary-style methods trained at the profile's scale and cached under ``runs/``."""
from __future__ import annotations

from pathlib import Path

import torch

from metastyle.baselines import arbitrary, gatys
from metastyle.config import ConfigError

#: ``metastyle.baselines.arbitrary.METHODS`` keys -> Table 1 names (paper Table 1).
TABLE1_NAMES = {"adain": "AdaIN", "wct": "WCT", "styleswap": "StyleSwap", "metanet": "MetaNetworks",
                "avatar": "AvatarNet"}


def gatys_iterations(profile: str) -> int:
    if profile not in gatys.BUDGETS:
        raise ConfigError(f"no Gatys budget for profile {profile!r} (metastyle.baselines.gatys.BUDGETS has "
                                     f"{', '.join(gatys.BUDGETS)})")
    return gatys.BUDGETS[profile].iterations


def ensure_arbitrary(key: str, ctx, runs_dir="runs", *, train: bool = True):
    """``metastyle.baselines.arbitrary.METHODS[key]`` trained at the profile's scale (cached in
    runs/arbitrary-<profile>/)."""
    m = arbitrary.METHODS[key]
    folder = Path(runs_dir) / f"arbitrary-{ctx.cfg.profile}-{ctx.cfg.run.seed}"
    path = folder / f"{key}.pt"
    if path.is_file():
        model, _ = m.load(path)
        return m, model.to(ctx.device)
    model = m.build()
    if train:
        m.train(model, ctx.cfg.profile, ctx.splits, folder, seed=ctx.cfg.run.seed, progress=True)
    return m, model.to(ctx.device)


def arbitrary_budget(name: str, profile: str) -> tuple[int, int]:
    """``(iterations trained under profile, iterations of the published recipe)`` of an arbitrary-style method
    (Table 1 name or ``metastyle.baselines.arbitrary.METHODS`` key); ``ensure_arbitrary`` trains at the first."""
    m = arbitrary.METHODS[{v: k for k, v in TABLE1_NAMES.items()}.get(name, name)]
    return m.settings(profile).iterations, m.settings("paper").iterations


def budget_label(name: str, ctx, *, johnson_steps: int = 0) -> str:
    """A panel title saying how much training or optimisation the method's output got (figure 03)."""
    cfg = ctx.cfg
    if name == "MetaStyle":
        return f"MetaStyle\n{cfg.adapt.steps} steps from θ"
    if name == "Johnson":
        return f"Johnson\n{johnson_steps} steps, scratch"
    if name == "Gatys":
        return f"Gatys\n{gatys_iterations(cfg.profile)} L-BFGS it."
    done, recipe = arbitrary_budget(name, cfg.profile)
    return f"{name}\n{done:,}/{recipe:,} it." + ("" if done >= recipe else " (under-trained)")


def run_method(name: str, content: torch.Tensor, style: torch.Tensor, ctx, *, runs_dir="runs",
               steps: int | None = None, **_) -> torch.Tensor:
    """One stylisation ``(1, 3, H, W)`` by a baseline: ``Gatys`` (``metastyle.baselines.gatys``) or a Table 1 name /
    key of ``metastyle.baselines.arbitrary.METHODS`` (trained at the profile's scale, cached)."""
    if name == "Gatys":
        res = gatys.gatys(content, style, ctx, iterations=steps or gatys_iterations(ctx.cfg.profile),
                          seed=ctx.cfg.run.seed)
        return res.image.detach().cpu()
    key = {v: k for k, v in TABLE1_NAMES.items()}.get(name, name)
    m, model = ensure_arbitrary(key, ctx, runs_dir)
    with torch.no_grad():
        return m.stylize(model, content.to(ctx.device), style.to(ctx.device)).detach().cpu()
