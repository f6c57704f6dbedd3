"""Everything a run needs besides its loop: device, loss network, loss weights, data splits."""
from __future__ import annotations

import dataclasses

import torch

from . import runtime
from .config import Config
from .data import Splits, make_splits
from .losses import LossSpec
from .vgg import LossNet, load_loss_net

#: Default style weight (beta) per loss network, with the official ``norm="official"`` losses.
#: vgg16: the official 1e5. vgg16-random: calibrated so that, on the embedded data at 96 px, the weighted
#: style term of an un-stylised content image has the same ratio to the weighted content term of a
#: mid-grey image as under ImageNet VGG-16 with beta=1e5 as reported by ``metastyle.calibrate``;
#: see README "Loss networks" for the procedure and the measured numbers.
STYLE_WEIGHTS = {"vgg16": 1e5, "vgg16-random": 1e5, "vgg19": 1e5, "vgg19-random": 1e5}


@dataclasses.dataclass
class Context:
    cfg: Config
    device: torch.device
    loss_net: LossNet
    spec: LossSpec
    splits: Splits | None = None

    def record(self) -> dict:
        """What every checkpoint, log and run.json records about how the numbers were made."""
        return {"config": self.cfg.to_dict(), "loss_net": self.loss_net.info.to_dict(),
                "loss_spec": dataclasses.asdict(self.spec), "provenance": runtime.provenance(self.device)}


def loss_spec(cfg: Config, loss_net_name: str) -> LossSpec:
    """The perceptual loss of ``cfg`` for the resolved loss network (beta=0 means its calibrated default)."""
    beta = cfg.loss.style_weight or STYLE_WEIGHTS[loss_net_name]
    return LossSpec(content_weight=cfg.loss.content_weight, style_weight=beta, tv_weight=cfg.loss.tv_weight,
                    norm=cfg.loss.norm)


def make_context(cfg: Config, *, splits: Splits | None = None, loss_net: LossNet | None = None,
                 with_data: bool = True) -> Context:
    device = runtime.resolve_device(cfg.run.device)
    spec0 = LossSpec()
    if loss_net is None:
        loss_net = load_loss_net(cfg.loss.loss_net, spec0.layers, weights=cfg.loss.vgg_weights or None,
                                 seed=cfg.loss.loss_net_seed, device=device)
    spec = loss_spec(cfg, loss_net.info.name)
    if splits is None and with_data:
        splits = make_splits(cfg.data, cfg.run.seed)
    return Context(cfg, device, loss_net.to(device), spec, splits)
