"""The default meta-step: Algorithm 1 with the work the K tasks share done once (docs/performance.md).

Every task starts its fast weights at theta (Psi = identity, paper Algorithm 1), and in the official loop
every task's first inner step sees the same support batch (one content batch per iteration, docs/paper-vs-code.md
§3). So the un-adapted transformer output and its loss-network features at the first inner step
are *the same tensors* for all K tasks: they are computed once, and each task only adds its own Gram loss
and its own inner gradient (``autograd.grad`` with ``retain_graph``) on top of that shared graph. The
meta-gradient is the sum of the same terms as the per-task loop; only the summation order differs
(``tests/test_fastmeta.py`` checks it against the per-task fp32/float64 reference).

Switches (both change numerics, both off by default):

* ``one_backward``: back-propagate the K query losses in a single ``backward`` so the shared forward graph is
  differentiated once instead of K times; all K task graphs are alive at once (more memory).
* ``loss_bf16``: run the loss-network (VGG) passes under CPU/GPU bf16 autocast; Grams and losses are taken in
  fp32, the transformer and the optimiser stay fp32.

``meta.meta_step``'s ``frozen_dbl`` switch (exact up to float rounding, off by default until timed) hands
this path a loss network whose convolutions have a one-convolution double backward
(``metastyle.method.frozenconv``).
"""
from __future__ import annotations

import contextlib

import torch

from metastyle.errors import MetaStyleError
from metastyle.method.functional import call, inner_step, params_of
from metastyle.method.losses import Loss, loss_of_features


def loss_autocast(device: torch.device, bf16: bool):
    """bf16 autocast for the loss-network passes when ``bf16``; a no-op otherwise."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def features(loss_net, x: torch.Tensor, *, bf16: bool, upto: str | None = None) -> dict:
    """Loss-net features of ``x`` in its dtype (bf16 inside the network when asked); stop at ``upto`` if given."""
    with loss_autocast(x.device, bf16):
        feats = loss_net(x, upto=upto) if upto else loss_net(x)
    return {k: v.to(x.dtype) for k, v in feats.items()}  # bf16 features back to the caller's dtype


def content_features(loss_net, x: torch.Tensor, spec, *, bf16: bool) -> dict:
    """Content targets, running VGG only up to the content layer (relu2_2 needs a third of its FLOPs)."""
    with torch.no_grad():
        feats = features(loss_net, x, bf16=bf16, upto=spec.content_layer)
    return {spec.content_layer: feats[spec.content_layer]}


def task_loss(net, loss_net, spec, fast, x, task, feats, *, bf16: bool) -> Loss:
    out = call(net, fast, x)
    return loss_of_features(features(loss_net, out, bf16=bf16), out, feats[id(x)], task.style_grams, spec)


def meta_step(net, loss_net, spec, tasks, *, inner_lr: float, steps: int, include, second_order: bool,
              one_backward: bool = False, loss_bf16: bool = False) -> tuple[list, list]:
    """Accumulate the mean query-loss meta-gradient of ``tasks`` into ``.grad``; return (inner, query) losses.

    Same contract as ``meta.meta_step`` (which calls this by default); ``steps`` >= 1.
    """
    k, theta = len(tasks), params_of(net, include)
    feats = {}
    for task in tasks:
        for x in (*task.support, task.query):
            if id(x) not in feats:
                feats[id(x)] = content_features(loss_net, x, spec, bf16=loss_bf16)
    shared = {}  # id(first support batch) -> (theta's output, its loss-net features): once per batch
    inners, queries, pending = [], [], []
    for i, task in enumerate(tasks):
        x = task.support[0]
        if id(x) not in shared:
            out = net(x)
            shared[id(x)] = out, features(loss_net, out, bf16=loss_bf16)
        out, f = shared[id(x)]
        inner = loss_of_features(f, out, feats[id(x)], task.style_grams, spec)
        last_user = all(t.support[0] is not x for t in tasks[i + 1:])
        keep = second_order or not last_user  # the shared graph serves later tasks / the outer backward
        fast = inner_step(theta, inner.total, inner_lr, differentiable=second_order, retain_graph=keep)
        for t in range(1, steps):
            inner = task_loss(net, loss_net, spec, fast, task.support[t], task, feats, bf16=loss_bf16)
            fast = inner_step(fast, inner.total, inner_lr, differentiable=second_order)
        query = task_loss(net, loss_net, spec, fast, task.query, task, feats, bf16=loss_bf16)
        check_finite(query.total)
        inners.append(_detached(inner))
        queries.append(_detached(query))
        if one_backward:
            pending.append(query.total)
            continue
        (query.total / k).backward(retain_graph=second_order and not last_user)
        if last_user:  # no later task needs this first step: free its graph now (fresh batches)
            del shared[id(x)]
    if pending:
        (torch.stack(pending).sum() / k).backward()
    return inners, queries


def _detached(loss: Loss) -> Loss:
    return Loss(*(v.detach() for v in loss))


def check_finite(loss: torch.Tensor) -> None:
    """One line for a diverged meta-training (both meta-steps check their query loss with it)."""
    if not torch.isfinite(loss).all():
        raise MetaStyleError("meta-training diverged: the query loss is not finite (lower the learning rates)")
