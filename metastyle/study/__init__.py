"""The reproducibility study around the method: what the notebooks call. Shared evaluation images and cached
models, metrics and evaluations, the comparisons and timings of the paper's experiments, the report that
gives each claim a verdict, the benchmarks and calibration, and the headless runner of the notebooks."""

from metastyle._moved import package_getattr

__getattr__ = package_getattr("study")  # the names of the old metastyle.study module, for one release
