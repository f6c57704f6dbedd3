"""The performance lab: the study's instruments that no notebook runs. The benchmark suite (``bench``: Table 1
speed, the meta-iteration against the authors' loop, adaptation, the machine's FLOP rate), the inference fast
paths and FLOP counters it measures (``perf``), the efficiency table made from its JSON (``efficiency``), the
profile of one meta-iteration (``metaprof``), the side-by-side with pytorch/examples (``peer``), the one-GPU
check (``gpucheck``), and the style-weight calibration of a loss network (``calibrate``)."""
