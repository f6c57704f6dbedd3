"""Fast weights as plain dicts (the ``torch.func`` MAML idiom): nothing here mutates a module or its inputs.

``params_of(net)`` gives ``{name: tensor}``; ``call(net, params, x)`` runs the module with those tensors
(any parameter missing from ``params`` falls back to the module's own); ``inner_step`` returns a *new* dict.
With ``differentiable=True`` (second order, the official default) the graph back to the meta-parameters is
kept, so the outer loss differentiates through the inner updates; with ``False`` (first order) each step's
gradient is detached and no second-order graph is built.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

Params = dict[str, torch.Tensor]


def params_of(net: nn.Module, include: Callable[[str], bool] | None = None) -> Params:
    """The module's parameters (not copies) whose names pass ``include``."""
    return {n: p for n, p in net.named_parameters() if include is None or include(n)}


def call(net: nn.Module, params: Params, *args, **kwargs):
    """``net(*args)`` with ``params`` substituted for the module's parameters of the same name."""
    return functional_call(net, params, args, kwargs, strict=False)


def inner_step(params: Params, loss: torch.Tensor, lr: float, *, differentiable: bool = True,
               retain_graph: bool | None = None) -> Params:
    """One SGD step ``w - lr * grad(loss, w)``, returned as a new dict (``retain_graph``: as autograd's)."""
    names = list(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names], create_graph=differentiable,
                                retain_graph=retain_graph)
    if not differentiable:
        grads = [g.detach() for g in grads]
    return {n: params[n] - lr * g for n, g in zip(names, grads)}
