"""Everything a run needs besides its loop: device, loss network, loss weights, data splits."""
from __future__ import annotations

import dataclasses

import torch

from metastyle.config import Config, apply
from metastyle.data.sets import Splits, make_splits
from metastyle.infra import runtime
from metastyle.method.losses import LossSpec
from metastyle.method.vgg import LossNet, load_loss_net

#: Settings tied to the loss network's feature scale, used where the config leaves them at 0 (README, "Loss
#: networks"). vgg16 (torchvision): the official code's beta=1e5 and inner SGD step 1e-5. vgg16-caffe: features
#: scaled so that the official beta applies (``vgg.CAFFE_FEATURE_SCALE``); inner step from the rule "one SGD
#: step on the IN parameters predicts a 5% decrease of the inner loss at a random init"
#: (``python -m metastyle.study.lab.calibrate --inner-only``: 3.41e-3 at 64 px, 4.85e-3 at 128 px). vgg16-random
#: (ablation): beta from ``metastyle.study.lab.calibrate``'s sweep, inner step from the same 5% rule at 64 px.
LOSS_NET_DEFAULTS = {
    "vgg16": {"style_weight": 1e5, "inner_lr": 1e-5},
    "vgg16-caffe": {"style_weight": 1e5, "inner_lr": 3.4e-3},
    "vgg16-random": {"style_weight": 1e5, "inner_lr": 40.0},
}


@dataclasses.dataclass(frozen=True)
class Objective:
    """The loss a single-style fit or an evaluation measures, and where: loss network, weights, device.

    A ``Context`` carries the same three; build an ``Objective`` where there is no config (calibration
    sweeps, benchmarks, tests). ``device`` defaults to the loss network's.
    """

    loss_net: LossNet
    spec: LossSpec
    device: torch.device | None = None

    def __post_init__(self):
        if self.device is None:
            object.__setattr__(self, "device", next(iter(self.loss_net.buffers())).device)
        else:
            object.__setattr__(self, "device", torch.device(self.device))


@dataclasses.dataclass
class Context:
    """Everything a run needs besides its loop. Functions that only evaluate or fit the loss read its
    ``loss_net``, ``spec`` and ``device`` (an ``Objective`` serves them too) and move their inputs to
    ``device`` themselves."""

    cfg: Config
    device: torch.device
    loss_net: LossNet
    spec: LossSpec
    splits: Splits | None = None

    def record(self) -> dict:
        """What every checkpoint, log and run.json records about how the numbers were made."""
        return {"config": self.cfg.to_dict(), "loss_net": self.loss_net.info.to_dict(),
                "loss_spec": dataclasses.asdict(self.spec), "provenance": runtime.provenance(self.device)}


#: What ``fit_style`` and the evaluation helpers take: anything with ``loss_net``, ``spec`` and ``device``.
LossSetup = Context | Objective


def loss_spec(cfg: Config, loss_net_name: str) -> LossSpec:
    """The perceptual loss of ``cfg`` for the resolved loss network (beta=0 means its calibrated default)."""
    beta = cfg.loss.style_weight or LOSS_NET_DEFAULTS[loss_net_name]["style_weight"]
    return LossSpec(content_weight=cfg.loss.content_weight, style_weight=beta, tv_weight=cfg.loss.tv_weight,
                    norm=cfg.loss.norm)


def resolve(cfg: Config, loss_net_name: str) -> Config:
    """``cfg`` with the loss-network-dependent defaults (fields left at 0) filled in, so records show them."""
    defaults = LOSS_NET_DEFAULTS[loss_net_name]
    overrides = {}
    if not cfg.loss.style_weight:
        overrides["loss.style_weight"] = defaults["style_weight"]
    if not cfg.meta.inner_lr:
        overrides["meta.inner_lr"] = defaults["inner_lr"]
    return apply(cfg, overrides)


#: Lower bounds (bytes) of what one image pixel costs: a training step keeps at least the transformer's and
#: VGG's full-resolution activations (32 and 64 channels, float32, several tensors each) for its backward pass;
#: stylising keeps at least two 32-channel full-resolution maps at once.
TRAIN_BYTES_PER_PIXEL = 1024
INFER_BYTES_PER_PIXEL = 256


def check_memory(cfg: Config, device) -> None:
    """Refuse a config whose steps cannot fit in the device's available memory (by the lower bounds above),
    before anything is allocated; the message names the keys to lower."""
    d, m, a = cfg.data, cfg.meta, cfg.adapt
    tasks = m.meta_batch if m.one_backward else 1  # one_backward keeps every task's graph until the end
    needs = {
        "meta.batch, data.content_size": m.batch * d.content_size ** 2 * (m.inner_steps + 1) * tasks,
        "adapt.batch, adapt.content_size, adapt.style_size": a.batch * a.content_size ** 2 + a.style_size ** 2,
    }
    for keys, pixels in needs.items():
        runtime.check_fits(f"a training step at these settings ({keys})", pixels * TRAIN_BYTES_PER_PIXEL, device,
                           f"lower {keys.replace(', ', ' or ')}")
    runtime.check_fits("the style images (data.n_styles, data.style_size)", (d.n_styles or 64) * d.style_size ** 2 * 3,
                       runtime.resolve_device("cpu"), "lower data.n_styles or data.style_size")  # kept in RAM


def make_context(cfg: Config, *, splits: Splits | None = None, loss_net: LossNet | None = None,
                 with_data: bool = True) -> Context:
    device = runtime.resolve_device(cfg.run.device)
    check_memory(cfg, device)
    spec0 = LossSpec()
    if loss_net is None:
        loss_net = load_loss_net(cfg.loss.loss_net, spec0.layers, weights=cfg.loss.vgg_weights or None,
                                 seed=cfg.loss.loss_net_seed, device=device)
    cfg = resolve(cfg, loss_net.info.name)
    spec = loss_spec(cfg, loss_net.info.name)
    if splits is None and with_data:
        splits = make_splits(cfg.data, cfg.run.seed)
    return Context(cfg, device, loss_net.to(device), spec, splits)
