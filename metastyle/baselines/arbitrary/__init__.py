"""The arbitrary-style methods of MetaStyle's Table 1, implemented from their papers behind one interface.

Example:
    >>> from metastyle.baselines import arbitrary
    >>> m = arbitrary.METHODS["adain"]
    >>> model = m.build("vgg19-random")
    >>> history = m.train(model, "smoke", splits, "runs/adain")      # writes runs/adain/adain.pt
    >>> out = m.stylize(model, content, style, alpha=0.8)            # (1, 3, H, W) in [0, 1]

See docs/arbitrary.md for architectures, parameter-count conventions and deviations.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType

import torch

from metastyle.baselines.arbitrary import adain, avatar, common, metanet, styleswap, wct
from metastyle.config import ConfigError
from metastyle.errors import CheckpointError
from metastyle.infra import checkpoint, runtime


@dataclasses.dataclass(frozen=True)
class Method:
    key: str
    name: str
    citation: str
    paper_params: float            # Table 1, millions
    module: ModuleType
    knobs: tuple[str, ...] = ()    # keyword arguments of ``stylize``

    def build(self, loss_net_name: str = "auto-vgg19", **kw) -> torch.nn.Module:
        return self.module.build(loss_net_name, **kw)

    def count_params(self, model) -> dict:
        """{"total" (the Table-1 convention), "learned", "parts", "convention"}, computed from the modules."""
        return self.module.count_params(model)

    def settings(self, profile: str = "quick", **overrides) -> common.TrainSettings:
        """The profile's ``TrainSettings``; a schedule whose iteration count waits on a measurement is an error
        (``ConfigError``, one line) unless ``iterations`` is given."""
        if "iterations" not in overrides and self.module.RECIPES.get(profile, {}).get("iterations", 0) is None:
            raise ConfigError(f"{self.key}: the {profile} schedule's iterations wait on its measured s/iteration: "
                              f"run `python -m metastyle.study.prior_arts measure {self.key}` on the idle cores, "
                              f"then set {self.module.__name__}.LONG_SECONDS_PER_ITERATION")
        return common.settings_for(self.module.RECIPES, profile, overrides)

    def train(self, model, profile: str | common.TrainSettings, splits, out_dir=None, progress: bool = False,
              seed: int = 0, *, resume: bool = True, budget_s: float | None = None) -> list[dict]:
        """Train the learned part on ``splits`` (``data.make_splits``); writes ``<out_dir>/<key>.pt`` if given.

        With ``out_dir`` the run is resumable: its state goes to ``<out_dir>/<key>.train.pt`` every
        ``common.STATE_EVERY_S`` seconds, and a rerun (``resume``) continues from it when it was made with the
        same settings, seed and training images (else ``CheckpointError``: move it away). A finished
        ``<key>.pt`` is never replaced: ``CheckpointError``. The model file records ``settings``, ``history``,
        ``iterations`` (trained), ``seconds`` (training time) and ``styles`` (the training styles' names).

        Writes: ``<out_dir>/<key>.pt`` (a ``metastyle-model`` checkpoint of the learned weights) and, while
        training, ``<out_dir>/<key>.train.pt`` (removed when the model is written).
        """
        s = profile if isinstance(profile, common.TrainSettings) else self.settings(profile)
        batches = common.Batches.from_splits(splits, s.size, seed)
        run = {"settings": s.to_dict(), "seed": seed, "styles": batches.styles.names(),
               "contents": batches.contents.names()}
        final = state_path = None
        if out_dir is not None:
            final, state_path = Path(out_dir) / f"{self.key}.pt", Path(out_dir) / f"{self.key}.train.pt"
            if final.exists():
                raise CheckpointError(f"{final} is a finished model and is never replaced: load it, or move it "
                                      "away to train again")
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        state = self._resume_state(model, state_path, run) if resume and state_path and state_path.is_file() else None

        def save_state(st):
            checkpoint.save({"kind": "metastyle-train", "format": checkpoint.FORMAT, "arch": self.key, **run,
                             "model": {k: v.detach().cpu().clone() for k, v in model.learned.state_dict().items()},
                             **st}, state_path)

        model.learned.train()
        history = common.fit(model.learned.parameters(),
                             lambda step: self.module.loss(model, *batches.draw(step, s.batch), s),
                             s, progress, self.key, state=state, save_state=save_state if state_path else None,
                             budget_s=budget_s)
        model.learned.eval()
        if final is not None:
            self.save(model, final, **run, history=history, iterations=len(history),
                      seconds=history[-1]["seconds"] if history else 0.0)
            if state_path.exists():
                state_path.unlink()
        return history

    def _resume_state(self, model, path: Path, run: dict) -> dict:
        """The training state at ``path`` (weights loaded into ``model``), checked to belong to this ``run``."""
        obj = checkpoint.load(path, "metastyle-train")
        differ = [k for k in run if obj.get(k) != run[k]] + ([] if obj.get("arch") == self.key else ["arch"])
        if differ:
            raise CheckpointError(f"{path} was made with other {', '.join(differ)}; move it away to start again")
        checkpoint.load_weights(model.learned, obj.get("model"), path, self.key)
        print(f"[{self.key}] resuming at step {obj['step']} ({obj['seconds'] / 60:.1f} min done)", flush=True)
        return obj

    def stylize(self, model, content, style, **knobs) -> torch.Tensor:
        """Stylise ``content`` (3, H, W) or (B, 3, H, W) in [0, 1], any size >= 16 px, with one style image."""
        unknown = set(knobs) - set(self.knobs)
        if unknown:
            raise TypeError(f"{self.key} has no knob(s) {sorted(unknown)}; it has {list(self.knobs) or 'none'}")
        c = common.as_batch(content)
        out = self.module.stylize(model.eval(), c, common.as_batch(style)[:1], **knobs)
        return out[0] if content.dim() == 3 else out

    def save(self, model, path, **meta) -> Path:
        record = {"kind": "metastyle-model", "format": checkpoint.FORMAT, "arch": self.key,
                  "model": {k: v.detach().cpu().clone() for k, v in model.learned.state_dict().items()},
                  "loss_net": model.encoder.info.to_dict(), "params": self.count_params(model),
                  "provenance": runtime.provenance(), **meta}
        return checkpoint.save(record, path)

    def load(self, path, loss_net_name: str | None = None, **kw):
        """(model, meta) from a file written by ``save``; the encoder is rebuilt as recorded (or as given)."""
        obj = checkpoint.load(path, "metastyle-model")
        if obj.get("arch") != self.key:
            raise CheckpointError(f"{path} holds a {obj.get('arch')} model, not {self.key}")
        name, seed = _recorded_encoder(obj.get("loss_net"), path)
        name = loss_net_name or name
        if self.key == "metanet":
            name = {"vgg16": "vgg19", "vgg16-random": "vgg19-random"}.get(name, name)
        model = self.build(name, seed=seed, **kw)
        checkpoint.load_weights(model.learned, obj.get("model"), Path(path), self.key)
        return model.eval(), {k: v for k, v in obj.items() if k != "model"}


def _recorded_encoder(info, path) -> tuple[str, int]:
    """(encoder name, seed of a random-init encoder) as a weights file records them; damage is one line."""
    info = info if isinstance(info, dict) else {}
    name, source = str(info.get("name", "auto-vgg19")), str(info.get("source", ""))
    if not source.startswith("random-init"):
        return name, 0
    try:
        return name, int(source.split("=")[1])
    except (IndexError, ValueError):
        raise CheckpointError(f"{path} records a damaged encoder source {source!r}") from None


METHODS: dict[str, Method] = {
    "adain": Method("adain", "AdaIN (Huang & Belongie)", "Huang & Belongie, ICCV 2017, arXiv:1703.06868",
                    7.01, adain, ("alpha",)),
    "wct": Method("wct", "WCT (Li et al.)", "Li et al., NeurIPS 2017, arXiv:1705.08086", 34.23, wct, ("alpha",)),
    "styleswap": Method("styleswap", "Style-Swap (Chen & Schmidt)", "Chen & Schmidt, 2016, arXiv:1612.04337",
                        1.48, styleswap, ("patch",)),
    "metanet": Method("metanet", "Meta Networks (Shen et al.)", "Shen, Yan & Zeng, CVPR 2018, arXiv:1709.04111",
                      219.32, metanet),
    "avatar": Method("avatar", "Avatar-Net (Sheng et al.)", "Sheng et al., CVPR 2018, arXiv:1805.03857",
                     147.22, avatar, ("alpha",)),
}

__all__ = ["METHODS", "Method", "common"]
