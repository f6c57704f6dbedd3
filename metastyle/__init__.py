"""MetaStyle reproducibility study: meta-learned initialisation for fast-adapting style transfer."""
import os as _os

__version__ = "0.1.0"


def passive_openmp_default() -> str:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it; returns the policy in effect.

    OpenMP threads that spin-wait (the default) make torch many times slower when other processes share the
    cores (docs/performance.md). The OpenMP runtime reads the variable when torch loads, so the CLI and
    ``make reproduce`` call this before importing torch; papermill kernels inherit it. Override by setting
    ``OMP_WAIT_POLICY`` yourself (e.g. ``ACTIVE`` on a dedicated machine).
    """
    return _os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
