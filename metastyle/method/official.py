"""A mirror of the official code's meta-training iteration, its loop structure as the authors wrote it
(docs/paper-vs-code.md §3). Beside it: ``meta.meta_step(shared=False)``, the plain per-task reference that the
tests hold every path to, and ``fastmeta``, the default fast path. This one trains nothing: the bench times it as
the baseline of the meta-step's speed-up (``study.lab.bench``, docs/performance.md), and
``tests/test_fastmeta.py`` checks that the gradient it applies equals ``meta_step``'s.
"""
from __future__ import annotations

import torch

from metastyle.method.functional import call, params_of
from metastyle.method.losses import content_targets, perceptual_loss, style_targets
from metastyle.method.nets import is_instance_norm


def official_meta_step(net, loss_net, spec, styles, contents, query, opt, *, inner_lr, second_order) -> None:
    """One iteration of the authors' ``train()``, timed as written, for comparison only.

    Per style: the style image repeated to the batch size through VGG, content and query features recomputed,
    T=1 inner step on the IN affine parameters, ``autograd.grad`` of the query loss over all parameters; then
    one dummy forward/backward of the un-adapted model whose hooks swap in the summed meta-gradients, and the
    optimiser step.
    """
    params = list(net.parameters())
    total = [torch.zeros_like(p) for p in params]
    for style in styles:
        grams = style_targets(loss_net, style.repeat(len(contents), 1, 1, 1), spec)  # official: batch of repeats
        fast = params_of(net, is_instance_norm)
        loss = perceptual_loss(loss_net, call(net, fast, contents), content_targets(loss_net, contents, spec),
                               grams, spec).total
        grads = torch.autograd.grad(loss, list(fast.values()), create_graph=second_order)
        fast = {n: w - inner_lr * g for (n, w), g in zip(fast.items(), grads)}
        q = perceptual_loss(loss_net, call(net, fast, query), content_targets(loss_net, query, spec), grams,
                            spec).total
        for acc, g in zip(total, torch.autograd.grad(q / len(styles), params, allow_unused=True)):
            if g is not None:
                acc += g
    dummy = perceptual_loss(loss_net, net(query), content_targets(loss_net, query, spec), grams, spec).total
    hooks = [p.register_hook(lambda _, g=g: g) for p, g in zip(params, total)]
    opt.zero_grad()
    dummy.backward()
    for h in hooks:
        h.remove()
    opt.step()
