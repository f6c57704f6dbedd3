"""Configuration: frozen dataclasses whose defaults are the published (official-code) settings.

Profiles are short, commented diffs over those defaults (nanoGPT's ``config/*.py`` idea, without ``exec``):
``paper`` is the defaults, ``quick`` is a real but small CPU run (2 cores, the default of ``make reproduce``),
``smoke`` runs every code path in seconds for CI. ``load(profile, {"meta.iterations": 10})`` applies dotted
overrides; unknown keys, unknown profiles, wrong types and out-of-range values raise ``ConfigError``.
``study_sizes(profile)``: how much the notebooks measure under each profile (styles compared, repetitions, grid
sizes, Johnson's steps), kept out of ``Config`` so that the run folders keyed by its hash keep their keys.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from typing import Any

from metastyle.errors import MetaStyleError


class ConfigError(MetaStyleError, ValueError):
    """A configuration key, value or profile is invalid."""


@dataclasses.dataclass(frozen=True)
class DataCfg:
    content: str = "coco"           # content source: embedded | examples | coco | a folder of images
    style: str = "wikiart"          # style source: embedded | examples | wikiart | a folder of images
    data_dir: str = "data"          # where examples/coco/wikiart live (see data/README.md)
    content_size: int = 256         # official: Resize(short side) + CenterCrop
    style_size: int = 256           # official meta-training: Resize((S, S)), aspect ignored
    split: str = "train-val"        # paper: disjoint D_tr / D_val contents; "single-pool" = official code
    val_fraction: float = 0.1       # share of contents held out as D_val (paper split only)
    test_contents: int = 0          # contents held out of both (for evaluation); 0 = none
    eval_styles: int = 0            # styles never seen in meta-training, used for adaptation/evaluation
    eval_style_names: tuple[str, ...] = ()  # explicit evaluation styles (file stems); overrides the count
    n_styles: int = 0               # procedurally generated styles (embedded source); 0 = source default
    max_contents: int = 0           # cap on contents used (0 = all)
    max_styles: int = 0             # cap on styles used (0 = all)


@dataclasses.dataclass(frozen=True)
class LossCfg:
    loss_net: str = "auto"          # auto | vgg16 | vgg16-caffe | vgg16-random (ablation); see metastyle.method.vgg
    vgg_weights: str = ""           # optional local torchvision-format VGG-16 state dict
    loss_net_seed: int = 0          # seed of vgg16-random
    content_weight: float = 1.0     # alpha (official)
    style_weight: float = 0.0       # beta; 0 = the calibrated default of the resolved loss network
    tv_weight: float = 0.0          # neither paper nor code uses TV
    norm: str = "official"          # official (MSE of Grams) | paper (squared Frobenius)


@dataclasses.dataclass(frozen=True)
class MetaCfg:
    iterations: int = 100_000       # "0.1 million training steps"
    meta_batch: int = 4             # styles (tasks) per outer update
    batch: int = 4                  # contents per inner / query batch
    inner_steps: int = 1            # T
    inner_lr: float = 0.0           # delta, plain SGD; 0 = the loss network's default (official 1e-5 for
                                    # ImageNet VGG-16; the inner step is tied to the loss scale, PAPER G.5)
    outer_lr: float = 1e-5          # eta, Adam
    lr_decay: float = 2.5e-5        # lr_t = lr_0 / (1 + lr_decay * t), both loops
    inner_params: str = "in"        # in = InstanceNorm affine only (official) | all (paper's equations)
    second_order: bool = True       # official: create_graph=True; False = first-order MAML
    fresh_batches: bool = False     # False = official: one content and one query batch per iteration
    one_backward: bool = False      # one backward for all K query losses (docs/performance.md): the shared
                                    # forward is differentiated once; all K task graphs in memory at once
    loss_bf16: bool = False         # loss-network (VGG) passes under bf16 autocast; transformer and Adam fp32
    log_every: int = 50
    ckpt_every: int = 2000
    eval_every: int = 0             # query loss on held-out styles every N iterations (0 = off)


@dataclasses.dataclass(frozen=True)
class AdaptCfg:
    steps: int = 200                # "100 to 200 steps suffice"
    lr: float = 1e-3                # Adam, no decay (official)
    batch: int = 4
    params: str = "all"             # all (official default) | in (--only-in 1)
    style_size: int = 512           # official `fast`: style resized to 512x512
    content_size: int = 256
    log_every: int = 10


@dataclasses.dataclass(frozen=True)
class RunCfg:
    seed: int = 12345               # official seed
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    precision: str = "fp32"         # fp32 | bf16 (autocast, GPU)
    runs_dir: str = "runs"          # checkpoints and logs ($METASTYLE_RUNS overrides at the CLI)
    workers: int = 0                # DataLoader workers


@dataclasses.dataclass(frozen=True)
class Config:
    data: DataCfg = DataCfg()
    loss: LossCfg = LossCfg()
    meta: MetaCfg = MetaCfg()
    adapt: AdaptCfg = AdaptCfg()
    run: RunCfg = RunCfg()
    profile: str = "paper"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


#: The loss networks MetaStyle trains with (VGG-16; ``metastyle.method.vgg.NAMES`` adds the arbitrary-style
#: encoders' VGG-19 names).
LOSS_NETS = ("auto", "vgg16", "vgg16-caffe", "vgg16-random")
#: Allowed values of the config keys that take a name.
CHOICES = {
    "data.split": ("train-val", "single-pool"),
    "loss.loss_net": LOSS_NETS,
    "loss.norm": ("official", "paper"),
    "meta.inner_params": ("in", "all"),
    "adapt.params": ("all", "in"),
    "run.precision": ("fp32", "bf16"),
}
POSITIVE = {"meta.iterations", "meta.meta_batch", "meta.batch", "meta.outer_lr",
            "adapt.lr", "adapt.batch", "data.content_size", "data.style_size", "adapt.style_size",
            "adapt.content_size", "loss.content_weight", "meta.log_every", "meta.ckpt_every",
            "adapt.log_every"}
#: Image sides the networks can take: the transformer's and VGG's minimum (three 2x poolings before relu4_3)
MIN_IMAGE_SIDE = 16
IMAGE_SIZES = {"data.content_size", "data.style_size", "adapt.style_size", "adapt.content_size"}
DEVICE_PATTERN = r"auto|cpu|mps|cuda(:\d+)?"
#: Upper bounds, checked with the rest before anything is allocated (docs/reliability.md, "no value unchecked");
#: what the machine's memory allows is checked on top (``method.context.check_memory``).
MAX_IMAGE_SIDE = 8192
MAXIMA = {**dict.fromkeys(IMAGE_SIZES, MAX_IMAGE_SIDE),
          "meta.batch": 1024, "adapt.batch": 1024, "meta.meta_batch": 1024, "meta.inner_steps": 1000,
          "data.n_styles": 4096, "data.eval_styles": 100_000, "data.test_contents": 1_000_000,
          "meta.iterations": 10**9, "adapt.steps": 10**9, "run.workers": 256,
          "run.seed": 2**63 - 1, "loss.loss_net_seed": 2**63 - 1}
NON_NEGATIVE = {"run.seed", "loss.loss_net_seed",
                "meta.inner_lr", "meta.inner_steps", "meta.lr_decay", "adapt.steps", "loss.style_weight",
                "loss.tv_weight", "data.val_fraction", "meta.eval_every", "data.eval_styles", "data.test_contents",
                "data.n_styles", "data.max_contents", "data.max_styles", "run.workers"}

PROFILES: dict[str, dict[str, Any]] = {
    "paper": {},  # the published settings: COCO contents, WikiArt styles, 100k iterations, GPU
    "quick": {
        # 2 CPU cores, `make reproduce` in under half an hour (issue 12). Meta-training at 64 px, first order,
        # where a meta-iteration costs ~0.6 s; adaptation, evaluation and every figure at 128 px, where a
        # 150-step adaptation (batch 1) costs ~30 s. Measured with vgg16-caffe on the 2 idle cores
        # (docs/performance.md).
        "data.content": "embedded",      # no download: photographs shipped with scikit-image
        "data.style": "embedded",        # no download: procedurally generated paintings
        "data.content_size": 64,
        "data.style_size": 64,
        "data.eval_styles": 4,           # four styles never seen in meta-training
        "data.test_contents": 4,         # four photos held out for evaluation figures
        "adapt.content_size": 128,       # figures and held-out losses at 128 px (64 px loses the content)
        "adapt.style_size": 128,         # paper: 512 for 256 px contents; 256 here coarsened the strokes
        # beta: at this budget (a few hundred Adam steps of a feed-forward network) the official 1e5 makes every
        # adapted and Johnson model lose the photo (lenna x la_muse, anything x en_campo_gris: style loss ~30x the
        # content loss). 2e4 still lost lenna and en_campo_gris, 1e4 en_campo_gris; at 5e3 all 4 x 4 framework
        # pairs keep the photo recognisable, still in the style's palette and strokes (150-200 steps).
        "loss.style_weight": 5e3,
        "meta.inner_lr": 0.118,          # the 5% rule at beta 5e3, 64 px (`python -m metastyle.study.lab.calibrate
                                         # --inner-only --beta 5e3`); 3.4e-3 is the rule's value at 1e5
        "meta.iterations": 200,          # 500x fewer outer steps than the paper ...
        "meta.outer_lr": 2e-4,           # ... so 20x the outer Adam rate (1e-3 oscillates from a random init)
        "meta.second_order": False,      # first-order MAML: 1.0 vs 2.4 s per 64 px iteration (fp32, batch 4)
        "meta.loss_bf16": True,          # VGG passes in bf16 (AVX-512 BF16 CPU): 0.92 vs 1.04 s (first order)
        "meta.batch": 2,                 # contents per support/query batch: halves meta (0.63 s/it) and
                                         # θ_plain (0.92 s/it) cost; 4 styles per iteration kept
        "meta.log_every": 10,
        "meta.ckpt_every": 50,
        "meta.eval_every": 25,           # query loss on the 4 held-out styles
        "adapt.steps": 150,              # inside the paper's "100 to 200"; 100 left en_campo_gris unrecognisable,
                                         # 200 does not fit: 02/03/05/09 run 26x adapt.steps steps in all
        "adapt.batch": 1,                # 0.20 s/step at 128 px vs 0.61 (batch 4): same look at 200 steps
        "loss.loss_net": "vgg16-caffe",  # the offline ImageNet VGG-16 (was auto, which picked it here): beta and
                                         # the inner step above were calibrated and timed with it
    },
    "long": {},  # filled below from quick: 2 idle CPU cores, at most 2 hours (make long, issue 19)
    "smoke": {
        "data.content": "embedded",
        "data.style": "embedded",
        "data.n_styles": 8,              # just enough for a train/eval style split
        "data.content_size": 32,         # CI: every code path in seconds
        "data.style_size": 32,
        "data.eval_styles": 2,
        "data.test_contents": 2,
        "adapt.style_size": 32,
        "adapt.content_size": 32,
        "meta.iterations": 4,
        "meta.meta_batch": 2,
        "meta.batch": 2,
        "meta.outer_lr": 1e-3,
        "meta.log_every": 1,
        "meta.ckpt_every": 2,
        "adapt.steps": 5,
        "adapt.batch": 2,
        "adapt.log_every": 1,
        "loss.loss_net": "vgg16-caffe",   # the offline ImageNet VGG-16: CI runs the real path, never a cache
    },
}

# long: the budget curve (notebook 11) on the 2 idle cores, where quick has no room for it. Meta-training as quick
# (64 px, first order, bf16 VGG), but longer and at the paper's beta; adaptation at the meta-training size.
PROFILES["long"] = {
    **PROFILES["quick"],
    "loss.style_weight": 1e5,        # the paper's beta: the regime the claim is about (issue 19: at 1e5 and 64 px,
                                     # 200 meta-iterations already gave theta a head start that beta 5e3 hides)
    "meta.inner_lr": 3.4e-3,         # the 5% rule at beta 1e5, 64 px (metastyle.method.context.LOSS_NET_DEFAULTS)
    "meta.iterations": 1000,         # snapshots 0, 10, 30, 100, 300, 1,000 (checkpoint.snapshot_steps): 100x span;
                                     # one thread each, meta and plain side by side, ~17 min (docs/performance.md)
    "meta.eval_every": 50,
    "data.eval_styles": 12,          # fallback without the example paintings: 12 held-out procedural styles
    "adapt.content_size": 64,        # adapt and evaluate at the meta-training size, as the paper does (256/256):
    "adapt.style_size": 64,          # 0.14 s per step at 64 px on one thread vs 0.31 at 128 px on two; the
                                     # budget curve runs 300+ adaptations, two at a time
    "adapt.steps": 200,              # the paper's step count: "theta reaches in N steps what scratch reaches in 200"
}
# long-b5e3: the same budget curve at quick's beta (issue 19: "at the paper's beta, and at quick's"). At 1e5 and
# 64 px every adapted and Johnson output is texture without the photo (results/11_budget_curve/long/adapted.png),
# so that curve measures adaptation speed where no output is a stylised photo. Measured (2026-11-29, 200 steps
# from scratch at 64 px on la_muse, scene_de_rue, woman_with_hat_matisse, en_campo_gris x 4 photos): 5e3 keeps
# the photos recognisable, 2e4 already loses them. `make long LONG=long-b5e3`.
PROFILES["long-b5e3"] = {
    **PROFILES["long"],
    "loss.style_weight": 5e3,        # quick's beta: the photo survives 200 steps at 64 px (above)
    "meta.inner_lr": 0.118,          # the 5% rule at beta 5e3, 64 px (as quick)
}


# ------------------------------------------------------------------------------------------- study sizes
@dataclasses.dataclass(frozen=True)
class StudySizes:
    """How much the notebooks measure under a profile: how many styles, repetitions, grid points. Deliberately
    not a section of ``Config``: run folders are keyed by a hash of ``Config.to_dict()`` (``shared.theta_dir``,
    ``plain.run_key``, ``budget.cells_dir``), and none of these sizes changes what a cached run computes.
    The defaults are ``paper``'s; ``STUDY_SIZES`` holds each profile's diff, as ``PROFILES`` does."""

    compare_styles: int | None = None  # 02: held-out styles adapted from θ, θ_plain and scratch (None = all)
    johnson_factor: int = 4            # 03, 04, 09: Johnson trained from scratch for this x adapt.steps
                                       # (johnson_steps); a GPU has room to train it well past adaptation
    timing_reps: int = 7               # 04: best of N timed runs per method and size (Table 1)
    time_arbitrary: bool = True        # 04: time the arbitrary-style methods too (Table 1)
    gatys_timed_steps: int | None = None  # 04: L-BFGS iterations of Gatys timed (None = the whole budget)
    gatys_rescale: bool = True         # 04: scale a partly timed Gatys to its budget (timing.rescale_gatys)
    interpolation_grid: int = 5        # 05: k x k points of the four-style bilinear grid
    video_gatys_steps: int = 20        # 06: Gatys iterations per frame, bounded for CPU (every Gatys budget is >= 20)
    preview_images: int = 4            # 00: images per row of the data preview


STUDY_SIZES: dict[str, dict[str, Any]] = {
    "paper": {},  # the defaults: a GPU has room for every style, a longer Johnson and the whole Gatys budget
    "quick": {
        "compare_styles": 2,         # three inits x 2 styles x adapt.steps: what 2 CPU cores afford in 02
        "johnson_factor": 2,         # twice MetaStyle's adaptation budget (300 steps at adapt.steps 150)
        "gatys_timed_steps": 5,      # a 512 px Gatys run takes minutes on a CPU; one L-BFGS iteration costs
                                     # about the same at any iteration, so 5 are timed and scaled to the budget
    },
    # long and long-b5e3 run 11 and 12 (and 03 under long, at quick's figure scale: prior_arts.FIGURE_PROFILE)
    "long": {"johnson_factor": 2},   # 2 CPU cores: as quick; all its held-out styles in 02 (not run under long)
    "long-b5e3": {"johnson_factor": 2},  # as long
    "smoke": {                       # CI: every code path in seconds
        "compare_styles": 1,
        "johnson_factor": 2,
        "timing_reps": 1,
        "time_arbitrary": False,     # the transformer and Gatys only
        "gatys_timed_steps": 1,      # one iteration, labelled as such, not scaled
        "gatys_rescale": False,
        "interpolation_grid": 3,
        "video_gatys_steps": 2,
    },
}


def study_sizes(profile: str) -> StudySizes:
    """The notebooks' sizes under ``profile`` (``STUDY_SIZES``); an unknown profile raises ``ConfigError``."""
    if profile not in STUDY_SIZES:
        raise ConfigError(f"no study sizes for profile {profile!r}; choose one of {', '.join(STUDY_SIZES)}")
    return StudySizes(**STUDY_SIZES[profile])


def johnson_steps(cfg: Config) -> int:
    """The one Johnson step policy of the notebooks (03, 04, 09): ``cfg``'s profile's ``johnson_factor`` times
    its ``adapt.steps``, so 03 and 04 share one cached model."""
    return study_sizes(cfg.profile).johnson_factor * cfg.adapt.steps


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(key: str, value: Any, typ: Any) -> Any:
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif typ is str:
        if isinstance(value, str):
            return value
    elif typing.get_origin(typ) is tuple:
        if isinstance(value, str):
            value = tuple(v for v in value.split(",") if v)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
    raise ConfigError(f"config key {key}: expected {getattr(typ, '__name__', typ)}, got {value!r}")


def _check(key: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key {key}: must be finite, got {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"config key {key}: must be one of {', '.join(CHOICES[key])}, got {value!r}")
    if key in POSITIVE and not value > 0:
        raise ConfigError(f"config key {key}: must be > 0, got {value!r}")
    if key in NON_NEGATIVE and not value >= 0:
        raise ConfigError(f"config key {key}: must be >= 0, got {value!r}")
    if key in MAXIMA and value > MAXIMA[key]:
        raise ConfigError(f"config key {key}: must be <= {MAXIMA[key]:,}, got {value!r}")
    if key in IMAGE_SIZES and value < MIN_IMAGE_SIDE:
        raise ConfigError(f"config key {key}: must be >= {MIN_IMAGE_SIDE} px (the networks' minimum side), "
                          f"got {value!r}")
    if key == "run.device" and not re.fullmatch(DEVICE_PATTERN, value):
        raise ConfigError(f"config key {key}: must be auto, cpu, cuda or cuda:N, got {value!r}")
    if key == "data.val_fraction" and not value < 1:
        raise ConfigError(f"config key {key}: must be < 1, got {value!r}")


def keys() -> list[str]:
    """Every valid dotted key, e.g. ``meta.iterations``."""
    return [f"{s.name}.{f.name}" for s in dataclasses.fields(Config) if s.name != "profile"
            for f in dataclasses.fields(s.type if isinstance(s.type, type) else _field_types(Config)[s.name])]


def apply(cfg: Config, overrides: dict[str, Any]) -> Config:
    """Return ``cfg`` with dotted ``overrides`` applied, validated and type-coerced."""
    sections = {s: dataclasses.asdict(getattr(cfg, s)) for s in ("data", "loss", "meta", "adapt", "run")}
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if section not in sections or name not in sections[section]:
            raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(keys())}")
        typ = _field_types(type(getattr(cfg, section)))[name]
        sections[section][name] = _coerce(key, value, typ)
    for section, values in sections.items():
        for name, value in values.items():
            _check(f"{section}.{name}", value)
    built = {s: type(getattr(cfg, s))(**v) for s, v in sections.items()}
    return dataclasses.replace(cfg, **built)


def load(profile: str = "quick", overrides: dict[str, Any] | None = None, seed: int = 0) -> Config:
    """The ``profile``'s configuration with ``overrides`` (dotted keys) applied on top; ``seed`` != 0 overrides
    ``run.seed`` (0 keeps the profile's seed: the notebooks' ``SEED`` parameter)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    over = dict(overrides or {})
    if seed:
        over["run.seed"] = int(seed)
    return apply(apply(Config(profile=profile), PROFILES[profile]), over)


def from_dict(d: dict) -> Config:
    """Rebuild a Config saved with ``to_dict`` (checkpoints, run.json); unknown keys are refused."""
    d = dict(d)
    profile = d.pop("profile", "paper")
    flat = {f"{s}.{k}": v for s, vals in d.items() for k, v in vals.items()}
    return apply(Config(profile=profile), flat)


def comparable(cfg_dict: dict) -> str:
    """A config (``Config.to_dict()``) as canonical JSON without its machine-local fields (device, runs folder,
    workers): two runs with the same ``comparable`` text compute the same thing, so they share a cache key."""
    d = json.loads(json.dumps(cfg_dict, default=str))
    for key in ("device", "runs_dir", "workers"):
        d.get("run", {}).pop(key, None)
    return json.dumps(d, sort_keys=True)
