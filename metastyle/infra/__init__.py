"""Run infrastructure, independent of the science: devices, seeds and provenance, atomic checkpoints,
training logs, progress bars, and data-parallel meta-training under torchrun."""
