"""One-release aliases for the flat module paths of metastyle 0.1 (removed in 0.3).

``import metastyle.meta``, ``from metastyle.gatys import gatys`` and ``from metastyle.data import load_image``
keep working and warn once with the new path (``metastyle.method.meta``, ...). A module that was split
(``metastyle.video``, ``metastyle.plain``, ...) becomes a stand-in that finds each name where it lives now.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

#: old module (under ``metastyle.``) -> the modules that hold its names now, the main one first
MOVED: dict[str, tuple[str, ...]] = {
    "nets": ("method.nets",), "vgg": ("method.vgg",), "caffe_vgg": ("method.caffe_vgg",),
    "losses": ("method.losses",), "functional": ("method.functional",), "meta": ("method.meta",),
    "fastmeta": ("method.fastmeta",), "adapt": ("method.adapt",), "stylize": ("method.stylize",),
    "interpolate": ("method.interpolate",),
    "gatys": ("baselines.gatys",), "johnson": ("baselines.johnson",),
    "plain": ("baselines.plain", "study.compare"), "arbitrary": ("baselines.arbitrary",),
    "embedded": ("data.embedded",), "painterly": ("data.painterly",), "sources": ("data.sources",),
    "video": ("data.video_io", "method.video"),
    "temporal": ("study.temporal",), "compare": ("study.compare",), "metrics": ("study.metrics",),
    "results": ("study.results",), "report": ("study.report",), "reproduce": ("study.reproduce",),
    "bench": ("study.bench",), "metaprof": ("study.metaprof",), "calibrate": ("study.calibrate",),
    "perf": ("study.perf",),
    "cli": ("app.cli", "app.flags"), "widget": ("app.widget",),
    "runtime": ("infra.runtime",), "checkpoint": ("infra.checkpoint",), "runlog": ("infra.runlog",),
    "distributed": ("infra.distributed",), "progress": ("infra.progress",),
}
#: names of the old ``metastyle.data`` / ``metastyle.study`` modules, now packages of the same name
PACKAGE_NAMES: dict[str, tuple[str, ...]] = {
    "data": ("data.images", "data.sets"),
    "study": ("study.shared", "study.evaluation", "study.notebook", "study.prior_arts", "study.timing"),
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"metastyle.{old} moved to metastyle.{new}; the old path goes in metastyle 0.3",
                  DeprecationWarning, stacklevel=3)


def _lookup(old: str, parts: tuple[str, ...], name: str):
    for part in parts:
        mod = importlib.import_module(f"metastyle.{part}")
        if hasattr(mod, name):
            _warn(f"{old}.{name}", f"{part}.{name}")
            return getattr(mod, name)
    raise AttributeError(f"module 'metastyle.{old}' has no attribute {name!r}")


def package_getattr(old: str):
    """A module ``__getattr__`` (PEP 562) for a package that replaced the old module ``old``."""
    return lambda name: _lookup(old, PACKAGE_NAMES[old], name)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        old = fullname.removeprefix("metastyle.")
        return importlib.util.spec_from_loader(fullname, self) if old in MOVED and old != fullname else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        old = module.__name__.removeprefix("metastyle.")
        parts = MOVED[old]
        if len(parts) == 1:
            _warn(old, parts[0])
            sys.modules[module.__name__] = importlib.import_module(f"metastyle.{parts[0]}")
        else:
            stand_in = types.ModuleType(module.__name__, f"moved to {', '.join('metastyle.' + p for p in parts)}")
            stand_in.__getattr__ = lambda name: _lookup(old, parts, name)
            sys.modules[module.__name__] = stand_in


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
