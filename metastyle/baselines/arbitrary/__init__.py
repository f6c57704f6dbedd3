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
        return common.settings_for(self.module.RECIPES, profile, overrides)

    def train(self, model, profile: str | common.TrainSettings, splits, out_dir=None, progress: bool = False,
              seed: int = 0) -> list[dict]:
        """Train the learned part on ``splits`` (``data.make_splits``); writes ``<out_dir>/<key>.pt`` if given.

        Writes: ``<out_dir>/<key>.pt`` (a ``metastyle-model`` checkpoint of the learned weights).
        """
        s = profile if isinstance(profile, common.TrainSettings) else self.settings(profile)
        batches = common.Batches.from_splits(splits, s.size, seed)
        model.learned.train()
        history = common.fit(model.learned.parameters(),
                             lambda step: self.module.loss(model, *batches.draw(step, s.batch), s),
                             s, progress, self.key)
        model.learned.eval()
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            self.save(model, Path(out_dir) / f"{self.key}.pt", settings=s.to_dict(), history=history)
        return history

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
