"""Inference fast paths and a FLOP counter (used by ``metastyle.study.bench``).

``fast_stylizer(net, ...)`` returns a callable ``images -> stylised images`` for one fixed input shape, with
the switches the benchmark measures: ``torch.inference_mode`` (always), ``channels_last`` memory format,
``torch.compile``, bf16 autocast (GPU only) and a CUDA-graph replay (GPU only, fixed shape). Every switch is
numerically the plain ``net(x)`` up to float rounding (bf16: up to bf16 rounding); ``tests/test_perf.py``
checks the CPU ones. ``count_flops`` counts conv/linear multiply-adds from the layer shapes.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Callable

import torch
from torch import nn


def count_flops(model: nn.Module, *inputs, **kwargs) -> int:
    """FLOPs (2 per multiply-add) of Conv2d and Linear layers in one forward of ``model(*inputs)``.

    Conv: 2 * Cin/groups * Cout * kh * kw * Hout * Wout * B; Linear: 2 * in * out * rows. Norms, activations,
    padding and upsampling are not counted (they are memory-bound and a few percent of the work).
    """
    total = 0

    def conv_hook(m, _, out):
        nonlocal total
        kh, kw = m.kernel_size
        total += 2 * (m.in_channels // m.groups) * m.out_channels * kh * kw * out.numel() // m.out_channels

    def linear_hook(m, _, out):
        nonlocal total
        total += 2 * m.in_features * out.numel()

    handles = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
               for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(*inputs, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return total


def fast_stylizer(net: nn.Module, shape: tuple[int, ...], *, channels_last: bool = False,
                  compile: bool = False, bf16: bool | None = None, cuda_graph: bool | None = None,
                  ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable stylising float images of exactly ``shape`` (B, 3, H, W; H, W multiples of 4).

    ``bf16`` and ``cuda_graph`` default to True on CUDA and are ignored (False) elsewhere. ``net`` itself is
    not modified (a copy is converted). Outputs are float32 in the input's memory format (contiguous).
    """
    device = next(net.parameters()).device
    on_gpu = device.type == "cuda"
    bf16 = on_gpu if bf16 is None else (bf16 and on_gpu)
    cuda_graph = on_gpu if cuda_graph is None else (cuda_graph and on_gpu)
    model = copy.deepcopy(net).eval().requires_grad_(False)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    fn = torch.compile(model) if compile else model
    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), amp():
            return fn(x.to(device, memory_format=fmt)).float().contiguous()

    if not cuda_graph:
        return run
    return _cuda_graph(run, shape, device)


def _cuda_graph(run, shape, device) -> Callable[[torch.Tensor], torch.Tensor]:
    """Capture ``run`` on a static input of ``shape`` and replay it (fixed sizes only; GPU only)."""
    static_in = torch.zeros(shape, device=device)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up on a side stream, as the CUDA-graph docs require
        for _ in range(3):
            run(static_in)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = run(static_in)

    def replay(x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape) != tuple(shape):
            raise ValueError(f"CUDA-graph stylizer was captured for {tuple(shape)}, got {tuple(x.shape)}")
        static_in.copy_(x)
        graph.replay()
        return static_out.clone()

    return replay
