"""Inference fast paths and a FLOP counter (used by ``metastyle.study.lab.bench``).

``fast_stylizer(net, ...)`` returns a callable ``images -> stylised images`` for one fixed input shape, with
the switches the benchmark measures: ``torch.inference_mode`` (always), ``channels_last`` memory format,
``torch.compile``, bf16 autocast (GPU only) and a CUDA-graph replay (GPU only, fixed shape). Every switch is
numerically the plain ``net(x)`` up to float rounding (bf16: up to bf16 rounding); ``tests/test_perf.py``
checks the CPU ones. ``count_flops`` counts conv/linear multiply-adds of one forward from the layer shapes;
``LayerFlops`` counts every convolution and matrix product that runs, forward, backward and double backward
(``step_flops(fn)``: one call of ``fn``, split by phase and dtype; docs/performance.md "Efficiency accounting").

``AutoStylizer(net)`` is the users' path (``metastyle stylize``, ``stylize-video``, the widget): ``net`` behind
the fastest numerically equivalent variant for each input size, chosen by ``COMPILE_MIN_PIXELS`` from the
committed bench measurements, never by timing at run time (docs/performance.md, "The users' fast path").
"""
from __future__ import annotations

import contextlib
import copy
import os
import warnings
from collections import Counter
from typing import Callable

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


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


#: Phase of an operator by the depth of the autograd node it runs under: none (0), a node recorded by the forward
#: (1), a node recorded while a backward ran with ``create_graph=True`` (2), and so on.
PHASES = ("forward", "backward", "double_backward")
_DEPTH = "metastyle_phase_depth"  # key in ``torch.autograd.graph.Node.metadata``
MATMUL_OPS = ("mm", "bmm", "addmm", "baddbmm", "_scaled_mm")


class LayerFlops(TorchDispatchMode):
    """Counts the FLOPs (2 per multiply-add) of every convolution and matrix product run inside it.

    The formulas are torch's own (``torch.utils.flop_counter.flop_registry``, those of ``FlopCounterMode``:
    ``convolution`` 2·Cin/groups·Cout·k·k·Hout·Wout·B; ``convolution_backward`` that once per gradient it
    computes, input and/or weight; ``mm``/``bmm``/``addmm``), applied below autograd, so backward and double
    backward passes are counted as they run. ``FlopCounterMode`` itself is not used: its module tracker breaks
    ``torch.autograd.grad`` on leaf tensors (``meta_step``'s inner step). Elementwise work, norms, pooling and
    bias additions are not counted.

    Totals: ``total``; ``by_phase`` (``PHASES``: an op outside any autograd node is ``forward``; inside a node
    recorded by the forward, ``backward``; inside a node recorded by a backward with ``create_graph=True``, i.e.
    the derivative of a backward formula, ``double_backward``); ``by_dtype`` (of the op's first tensor argument:
    ``float32``, ``bfloat16``, ...); ``by_kind`` (``conv`` / ``matmul``). A node's depth is stored in its
    ``metadata`` when the tensor it belongs to is made, so nesting is exact, not guessed from node names.
    """

    def __init__(self):
        super().__init__()
        self.total = 0
        self.by_phase: Counter = Counter()
        self.by_dtype: Counter = Counter()
        self.by_kind: Counter = Counter()
        self._pending: list[tuple[torch.Tensor, int]] = []

    def _tag(self) -> None:
        """Autograd attaches a node to an op's outputs after dispatch returns: tag them at the next op."""
        for t, depth in self._pending:
            if t.grad_fn is not None:
                t.grad_fn.metadata.setdefault(_DEPTH, depth)
        self._pending = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        self._tag()
        packet = func._overloadpacket
        if packet not in flop_registry and func is not torch.ops.prim.device.default:
            with self:
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        out = func(*args, **kwargs)
        node = torch._C._current_autograd_node()
        depth = 0 if node is None else node.metadata.get(_DEPTH, 0) + 1
        if depth and torch.is_grad_enabled():  # a backward with create_graph: its outputs get nodes of this depth
            self._pending = [(t, depth) for t in (out if isinstance(out, (tuple, list)) else (out,))
                             if isinstance(t, torch.Tensor)]
        if packet in flop_registry:
            n = int(flop_registry[packet](*args, **kwargs, out_val=out))
            if n:
                first = next((a for a in args if isinstance(a, torch.Tensor)), None)
                self.total += n
                self.by_phase[PHASES[depth] if depth < len(PHASES) else f"backward_{depth}"] += n
                self.by_dtype[str(first.dtype).removeprefix("torch.") if first is not None else "?"] += n
                self.by_kind["matmul" if packet.__name__ in MATMUL_OPS else
                             "conv" if "conv" in packet.__name__ else packet.__name__] += n
        return out

    def __exit__(self, *exc):
        self._tag()
        return super().__exit__(*exc)

    def summary(self) -> dict:
        """JSON-ready: ``total`` and the three splits (every phase listed, 0 where none ran)."""
        return {"total": self.total, "by_phase": {p: self.by_phase.get(p, 0) for p in PHASES} | {
                    k: v for k, v in self.by_phase.items() if k not in PHASES},
                "by_dtype": dict(self.by_dtype), "by_kind": dict(self.by_kind)}


def step_flops(fn: Callable[[], object]) -> dict:
    """``LayerFlops.summary()`` of one call of ``fn`` (e.g. a whole meta-iteration incl. the optimiser step)."""
    with LayerFlops() as counter:
        fn()
    return counter.summary()


def fast_stylizer(net: nn.Module, shape: tuple[int, ...], *, channels_last: bool = False,
                  compile: bool | str = False, bf16: bool | None = None, cuda_graph: bool | None = None,
                  copy_net: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable stylising float images of exactly ``shape`` (B, 3, H, W; H, W multiples of 4).

    ``bf16`` and ``cuda_graph`` default to True on CUDA and are ignored (False) elsewhere. ``compile``: True
    (torch.compile's default backend, inductor) or a backend name. ``net`` itself is not modified (a copy is
    converted) unless ``copy_net=False``: then the callable reads ``net``'s current weights on every call (the
    widget rewrites them in place), and ``net`` is put in eval mode without gradients. Outputs are float32 in
    the input's memory format (contiguous).
    """
    device = next(net.parameters()).device
    on_gpu = device.type == "cuda"
    bf16 = on_gpu if bf16 is None else (bf16 and on_gpu)
    cuda_graph = on_gpu if cuda_graph is None else (cuda_graph and on_gpu)
    model = (copy.deepcopy(net) if copy_net else net).eval().requires_grad_(False)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:
        model = model.to(memory_format=fmt)
    fn = (torch.compile(model, backend=compile) if isinstance(compile, str) else torch.compile(model)) \
        if compile else model
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


# ------------------------------------------------------------------------------------------ the users' path
#: Images (H x W of one input, batch aside) of at least this many pixels take the compiled path on CPU in
#: ``metastyle stylize``, ``stylize-video`` and the widget; smaller ones run eager under ``inference_mode``.
#: From the committed bench, results/bench/cpu-amd-epyc-2t.json (2 idle cores, batch 1; results/bench/meta holds
#: no stylisation rows): ``compile`` is the fastest exact variant at both measured sizes, 0.072 vs 0.103 s
#: (``inference_mode``) at 256 px and 0.304 vs 0.517 s at 512 px, but its first call, with the compile cache
#: warm, took 3.2 s at 256 px and 1.6 s at 512 px (eager: 0.10 / 0.51 s). That first call is repaid after ~5
#: images at 512 px (0.21 s saved per image) and only after ~100 at 256 px (0.03 s): so compile from 512 x 512
#: pixels, eager below (no size under 256 px was measured). A cold compile (empty cache) costs far more
#: (~135 s per shape in an earlier run on the loaded machine, docs/performance.md), hence also
#: ``EAGER_CALLS_BEFORE_COMPILE``.
COMPILE_MIN_PIXELS = 512 * 512
#: Calls of one input shape that run eager before that shape is compiled: a single image never waits for a
#: compile; a folder of same-sized photos or a video compiles once (cached on disk by torch's inductor cache
#: for later runs) and runs compiled from then on.
EAGER_CALLS_BEFORE_COMPILE = 1
#: ``METASTYLE_COMPILE=0`` keeps the users' path eager at every size (e.g. a machine without a C++ compiler).
COMPILE_ENV = "METASTYLE_COMPILE"


def compile_note(shape: tuple[int, ...]) -> None:
    """One line on stderr before a compile (the CLI's and the widget's ``on_compile``): the pause is explained."""
    import sys

    print(f"metastyle: note: compiling the network for {shape[-1]}x{shape[-2]} inputs, once per size (cached "
          f"for later runs; {COMPILE_ENV}=0 skips it)", file=sys.stderr, flush=True)


class AutoStylizer(nn.Module):
    """``net`` behind the fastest numerically equivalent inference path for each input shape.

    A drop-in for ``net`` wherever a model is called on images (``method.stylize.stylize``, ``method.video``,
    ``interpolate.Blender``): on CPU an input of at least ``min_pixels`` pixels (default
    ``COMPILE_MIN_PIXELS``) runs ``fast_stylizer(net, shape, compile=True)``, one per shape, after
    ``eager_calls`` eager calls of that shape; everything else runs ``net`` eager. The compiled callables read
    ``net``'s weights on every call (no copy), so a network whose weights change in place stays correct.
    Other devices stay eager until a GPU run of the bench says what pays there. A compile that fails (no C++
    compiler, say) warns once and leaves the path eager. ``compiled_shapes`` lists what was compiled.
    """

    def __init__(self, net: nn.Module, *, min_pixels: int | None = None, eager_calls: int | None = None,
                 backend: str | None = None, on_compile: Callable[[tuple[int, ...]], None] | None = None):
        super().__init__()
        self.net = net
        self.min_pixels = COMPILE_MIN_PIXELS if min_pixels is None else min_pixels
        self.eager_calls = EAGER_CALLS_BEFORE_COMPILE if eager_calls is None else eager_calls
        self.backend = backend  # None: torch.compile's default (inductor)
        self.on_compile = on_compile
        self.enabled = os.environ.get(COMPILE_ENV, "auto").strip().lower() not in ("0", "false", "no", "off")
        self._calls: Counter = Counter()
        self._fast: dict[tuple[int, ...], Callable] = {}

    @property
    def compiled_shapes(self) -> list[tuple[int, ...]]:
        return list(self._fast)

    def compiles(self, shape: tuple[int, ...]) -> bool:
        """Whether inputs of ``shape`` (B, 3, H, W) take the compiled path (after ``eager_calls`` eager calls)."""
        device = next(self.net.parameters()).device
        return self.enabled and device.type == "cpu" and shape[-1] * shape[-2] >= self.min_pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        if not self.compiles(shape):
            return self.net(x)
        self._calls[shape] += 1
        if self._calls[shape] <= self.eager_calls:
            return self.net(x)
        try:
            fn = self._fast.get(shape)
            if fn is None:
                if self.on_compile is not None:
                    self.on_compile(shape)
                fn = fast_stylizer(self.net, shape, compile=self.backend or True, copy_net=False)
                self._fast[shape] = fn
            return fn(x)
        except Exception as err:  # noqa: BLE001 - the compiled path is an optimisation, never a failure
            self._fast.pop(shape, None)
            self.enabled = False
            warnings.warn(f"torch.compile failed ({type(err).__name__}: {str(err)[:200]}); stylising eager "
                          f"from now on (set {COMPILE_ENV}=0 to skip the attempt)", RuntimeWarning, stacklevel=2)
            return self.net(x)
