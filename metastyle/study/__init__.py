"""The reproducibility study around the method: what the notebooks call. Shared evaluation images and cached
models, metrics and evaluations, the comparisons and timings of the paper's experiments, and the report that
gives each claim a verdict (one slice per claim in ``claims/``). Two sub-packages hold the rest: ``lab/``, the
performance lab (benchmarks, profiling, calibration), and ``nb/``, the notebook machinery (setup cell, pairs,
headless runner)."""
