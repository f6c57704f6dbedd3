"""The K tasks of a meta-step as one batched forward/backward (fast path of ``meta.meta_step``).

With the official InstanceNorm-only inner loop the K tasks share every conv and differ only in their IN
affine parameters (gamma, beta). So the support batches of all tasks are stacked into one ``(K*B, 3, H, W)``
batch and each InstanceNorm applies its task's fast gamma/beta per sample ("batched instance norm"): one big
forward/backward through the transformer and VGG instead of K small ones. The inner gradient of the *sum*
of per-task losses with respect to task k's gamma/beta is exactly task k's own gradient (the other tasks'
losses do not depend on it), so the inner step, the query loss and the meta-gradient are those of the
per-task loop (``tests/test_perf.py`` checks them to rtol 1e-4). Memory: all K task graphs are alive at
once (K times the per-task peak), which is why this is a switch. The all-parameter inner loop (paper's
equations) has per-task convs and is not batched here; it keeps the per-task path.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .functional import inner_step, params_of
from .losses import Loss, LossSpec, gram, tv_loss
from .nets import TransformerNet, is_instance_norm

IN_EPS = 1e-5  # nn.InstanceNorm2d's default eps, used by TransformerNet


def task_norm(y: torch.Tensor, fast: dict, name: str, k: int) -> torch.Tensor:
    """Instance norm of ``y`` (K*B, C, H, W) with per-task affine ``fast[name.weight]`` of shape (K, C)."""
    w = fast[f"{name}.weight"].repeat_interleave(y.shape[0] // k, dim=0)  # (K*B, C)
    b = fast[f"{name}.bias"].repeat_interleave(y.shape[0] // k, dim=0)
    return torch.addcmul(b[:, :, None, None], F.instance_norm(y, eps=IN_EPS), w[:, :, None, None])


def forward(net: TransformerNet, fast: dict, x: torch.Tensor, k: int) -> torch.Tensor:
    """``TransformerNet.forward`` on ``x`` (K*B images, task-major) with each task's fast IN parameters."""
    def conv(layer, y):
        return layer.conv(layer.pad(y))

    def res(block, name, y):
        h = F.relu(task_norm(conv(block.conv1, y), fast, f"{name}.in1", k))
        return y + task_norm(conv(block.conv2, h), fast, f"{name}.in2", k)

    y = x * net.input_scale
    y = F.relu(task_norm(conv(net.conv1, y), fast, "in1", k))
    y = F.relu(task_norm(conv(net.conv2, y), fast, "in2", k))
    y = F.relu(task_norm(conv(net.conv3, y), fast, "in3", k))
    for i in range(1, 6):
        y = res(getattr(net, f"res{i}"), f"res{i}", y)
    y = F.relu(task_norm(conv(net.deconv1.conv, F.interpolate(y, scale_factor=2, mode="nearest")), fast, "in4", k))
    y = F.relu(task_norm(conv(net.deconv2.conv, F.interpolate(y, scale_factor=2, mode="nearest")), fast, "in5", k))
    return torch.sigmoid(conv(net.deconv3, y))


def task_losses(loss_net, out: torch.Tensor, content_feats: dict, style_grams: dict, spec: LossSpec,
                k: int) -> Loss:
    """Per-task perceptual losses, each a (K,) vector equal to ``losses.perceptual_loss`` of that task."""
    feats = loss_net(out)
    f, t = feats[spec.content_layer], content_feats[spec.content_layer]
    c = spec.content_weight * ((f - t) ** 2).reshape(k, -1).mean(1)
    s = 0.0
    for name in spec.style_layers:
        g = gram(feats[name])
        sq = (g.reshape(k, -1, *g.shape[1:]) - style_grams[name][:, None]) ** 2  # (K, B, C, C)
        s = s + (sq.mean(dim=(1, 2, 3)) if spec.norm == "official" else sq.sum(dim=(2, 3)).mean(1))
    s = spec.style_weight * s
    if spec.tv_weight:
        tv = spec.tv_weight * torch.stack([tv_loss(o) for o in out.chunk(k)])
    else:
        tv = out.new_zeros(k)
    return Loss(c + s + tv, c, s, tv)


def meta_step(net, loss_net, spec: LossSpec, tasks, feats: dict, *, inner_lr: float, steps: int,
              second_order: bool) -> tuple[Loss | None, Loss]:
    """Batched Algorithm 1 for IN-only fast weights: (last inner, query) losses, each a (K,) vector per task."""
    k = len(tasks)
    theta = params_of(net, is_instance_norm)
    fast = {n: p.unsqueeze(0).expand(k, *p.shape) for n, p in theta.items()}  # (K, C) views of theta
    grams = {n: torch.cat([t.style_grams[n] for t in tasks]) for n in spec.style_layers}  # (K, C, C)
    inner = None
    for step in range(steps):
        xs = [t.support[step] for t in tasks]
        x, target = torch.cat(xs), {spec.content_layer: torch.cat([feats[id(s)][spec.content_layer] for s in xs])}
        inner = task_losses(loss_net, forward(net, fast, x, k), target, grams, spec, k)
        fast = inner_step(fast, inner.total.sum(), inner_lr, differentiable=second_order)
    qs = [t.query for t in tasks]
    target = {spec.content_layer: torch.cat([feats[id(q)][spec.content_layer] for q in qs])}
    query = task_losses(loss_net, forward(net, fast, torch.cat(qs), k), target, grams, spec, k)
    return inner, query
