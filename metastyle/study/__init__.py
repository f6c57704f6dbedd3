"""The reproducibility study around the method: what the notebooks call. Shared evaluation images and cached
models, metrics and evaluations, the comparisons and timings of the paper's experiments, the report that
gives each claim a verdict, the benchmarks and calibration, and the headless runner of the notebooks."""
