"""Meta-step test fixtures shared by tests/test_fastmeta.py and tests/test_frozenconv.py: seeded tasks on a
random VGG, the meta-gradient of one ``meta_step`` and the relative L2 distance their tolerances use."""
from __future__ import annotations

import torch

from metastyle.method.losses import LossSpec, style_targets
from metastyle.method.meta import Task, meta_step
from metastyle.method.nets import TransformerNet
from metastyle.method.vgg import load_loss_net

SPEC = LossSpec()


def setup(dtype, *, k=3, b=2, size=32, steps=1, fresh=False):
    """(net, loss net, k tasks): each task's style a random image; support/query batches shared unless ``fresh``."""
    torch.manual_seed(0)
    net, lnet = TransformerNet().to(dtype), load_loss_net("vgg16-random", SPEC.layers).to(dtype)
    g = torch.Generator().manual_seed(1)
    rand = lambda n: torch.rand(n, 3, size, size, generator=g).to(dtype)  # noqa: E731
    support, query = [rand(b) for _ in range(steps)], rand(b)
    tasks = [Task(style_targets(lnet, rand(1), SPEC), [rand(b) for _ in range(steps)] if fresh else support,
                  rand(b) if fresh else query) for _ in range(k)]
    return net, lnet, tasks


def grad(net, lnet, tasks, **kw):
    """(stats, flattened meta-gradient) of one ``meta_step`` on ``tasks``."""
    net.zero_grad(set_to_none=True)
    kw.setdefault("steps", len(tasks[0].support))
    stats = meta_step(net, lnet, SPEC, tasks, inner_lr=1e-3, **kw)
    return stats, torch.cat([p.grad.flatten() for p in net.parameters()])


def rel(a, b):
    return ((a - b).norm() / b.norm()).item()
