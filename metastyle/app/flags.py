"""Flags and argument checks shared by every ``metastyle`` subcommand: config flags generated from the
``Config`` dataclasses (defaults are never restated here), ``--overwrite``, and one-line argument errors."""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from metastyle import config as cfgmod
from metastyle.errors import MetaStyleError

#: the ``Config`` sections whose flags each core subcommand takes
SECTIONS = {"train": ("data", "loss", "meta", "run"), "adapt": ("data", "loss", "adapt", "run"),
            "info": ("loss", "run")}


def add_config_flags(p: argparse.ArgumentParser, sections) -> None:
    """``--profile`` plus one ``--section.field`` flag per config field of ``sections``."""
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(cfgmod.PROFILES)} (default quick)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any config override, e.g. --set meta.iterations=10")
    for section in sections:
        group = p.add_argument_group(f"{section} settings")
        for f in dataclasses.fields(getattr(cfgmod.Config, section)):
            group.add_argument(f"--{section}.{f.name}", dest=f"cfg__{section}__{f.name}", default=None,
                               metavar=type(f.default).__name__.upper(), help=f"default {f.default!r}")
    p.add_argument("--device", dest="cfg__run__device", default=None, help="shortcut for --run.device")
    p.add_argument("--loss-net", dest="cfg__loss__loss_net", default=None,
                   help="shortcut for --loss.loss_net: auto | vgg16 | vgg16-caffe | vgg16-random (ablation)")
    p.add_argument("--vgg-weights", dest="cfg__loss__vgg_weights", default=None,
                   help="local torchvision VGG-16 state dict (shortcut for --loss.vgg_weights)")


def config_from_args(args) -> cfgmod.Config:
    overrides = {k[5:].replace("__", "."): v for k, v in vars(args).items()
                 if k.startswith("cfg__") and v is not None}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise cfgmod.ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key] = value
    cfg = cfgmod.load(args.profile, overrides)
    from metastyle.infra.runtime import resolve_device

    resolve_device(cfg.run.device)  # a device this torch build cannot use is refused before any work
    return cfg


def default_runs_dir(cfg) -> Path:
    return Path(os.environ.get("METASTYLE_RUNS", cfg.run.runs_dir))


# ------------------------------------------------------------------------------------------ subcommands
def require(ok: bool, flag: str, value, must: str) -> None:
    """One-line refusal of a command-line value (``--max-side must be >= 0, got -5``)."""
    if not ok:
        raise MetaStyleError(f"{flag} must be {must}, got {value!r}")


def bounded(value, flag: str, lo, hi):
    """``value`` within [lo, hi] (NaN fails), else one line with both limits; returns ``value``."""
    require(value is None or lo <= value <= hi, flag, value, f"between {lo:,} and {hi:,}")
    return value


def check_max_side(value: int, flag: str = "--max-side") -> int:
    """0 keeps the size; otherwise at least the network's minimum side."""
    from metastyle.method.nets import MIN_SIDE

    require(value == 0 or value >= MIN_SIDE, flag, value, f"0 (keep the size) or >= {MIN_SIDE}")
    return value


def single_image(path: str, what: str = "style") -> Path:
    """One image file: a folder is refused rather than silently reduced to its first image."""
    p = Path(path)
    if p.is_dir():
        raise MetaStyleError(f"the {what} must be one image file, got a folder: {p}")
    from metastyle.data.images import find_images

    return find_images(p)[0]


def add_overwrite_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
