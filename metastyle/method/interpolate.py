"""Style interpolation in weight space (paper section E.5): ``w = sum_k lambda_k w_k`` over *whole* models.

MetaStyle interpolates styles by a convex combination of every parameter of models adapted from the same
theta (lambda_k >= 0, sum 1). ``blend`` and ``strength`` work on state dicts; ``Blender`` is the fast path
used by the interactive widget: the models' flattened parameter vectors are stacked once into a
``(K, P)`` matrix, and the parameters of one preallocated network are views into a single flat buffer, so
a new blend is one ``(K,) @ (K, P)`` matmul written straight into the network, with no copies.

Our reading, not stated by the authors: this works because every adapted model starts from the same theta
and moves only a short distance, so linear paths in weight space stay inside the region of good networks.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import torch

from metastyle.errors import MetaStyleError
from metastyle.method.nets import TransformerNet

#: Tolerance on ``sum(weights) == 1`` and ``weights >= 0``.
WEIGHT_TOL = 1e-6


class BlendError(MetaStyleError, ValueError):
    """Invalid interpolation weights or incompatible models."""


def as_state_dict(model) -> dict[str, torch.Tensor]:
    """A CPU float state dict from a ``TransformerNet``, a model checkpoint path, or a state dict."""
    if isinstance(model, (str, Path)):
        from metastyle.method.nets import load_model

        model, _ = load_model(model)
    if isinstance(model, torch.nn.Module):
        model = model.state_dict()
    if not isinstance(model, Mapping):
        raise BlendError(f"expected a TransformerNet, a checkpoint path or a state dict, got {type(model).__name__}")
    return {k: v.detach().float().cpu() for k, v in model.items()}


def as_net(model) -> TransformerNet:
    """A ``TransformerNet`` (eval mode, CPU) from a net, a checkpoint path or a state dict."""
    if isinstance(model, TransformerNet):
        return model
    net = TransformerNet()
    net.load_state_dict(as_state_dict(model))
    return net.eval()


def check_weights(weights: Sequence[float], n: int) -> list[float]:
    """Validate convex weights: ``n`` finite numbers, each >= 0, summing to 1 (within ``WEIGHT_TOL``)."""
    w = [float(x) for x in weights]
    if len(w) != n:
        raise BlendError(f"got {len(w)} weights for {n} models")
    if n == 0:
        raise BlendError("nothing to blend: no models given")
    if not all(math.isfinite(x) for x in w):
        raise BlendError(f"weights must be finite numbers, got {w}")
    if min(w) < -WEIGHT_TOL:
        raise BlendError(f"weights must be >= 0 (a convex combination), got {w}")
    if abs(sum(w) - 1.0) > WEIGHT_TOL:
        raise BlendError(f"weights must sum to 1 (a convex combination), got sum {sum(w):.6g} for {w}")
    return w


def blend(state_dicts: Sequence, weights: Sequence[float]) -> dict[str, torch.Tensor]:
    """Convex combination of whole-model weights, ``sum_k weights[k] * state_dicts[k]`` (paper E.5).

    Args:
        state_dicts: Models to blend (state dicts, ``TransformerNet``s or checkpoint paths), same architecture.
        weights: One ``lambda_k >= 0`` per model, summing to 1.

    Returns:
        A new state dict (float32, CPU).

    Example:
        >>> sd = blend([model_a, model_b], [0.25, 0.75])
        >>> net = as_net(sd)
    """
    sds = [as_state_dict(s) for s in state_dicts]
    w = check_weights(weights, len(sds))
    keys = list(sds[0])
    for i, sd in enumerate(sds[1:], 1):
        if list(sd) != keys or any(sd[k].shape != sds[0][k].shape for k in keys):
            raise BlendError(f"model {i} does not have the same parameters as model 0")
    return {k: sum(wk * sd[k] for wk, sd in zip(w, sds)) for k in keys}


def strength(theta_sd, adapted_sd, s: float) -> dict[str, torch.Tensor]:
    """Style strength: ``(1 - s) * theta + s * adapted``, s in [0, 1] (0 = theta's style-neutral output)."""
    s = float(s)
    if not (math.isfinite(s) and -WEIGHT_TOL <= s <= 1 + WEIGHT_TOL):
        raise BlendError(f"strength must lie in [0, 1], got {s}")
    return blend([theta_sd, adapted_sd], [1.0 - s, s])


def flatten(model) -> torch.Tensor:
    """All parameters of a model as one float32 vector, in ``TransformerNet().parameters()`` order."""
    sd = as_state_dict(model)
    ref = TransformerNet().state_dict()
    if list(sd) != list(ref):
        raise BlendError("model is not a TransformerNet state (different parameter names)")
    return torch.cat([sd[k].reshape(-1) for k in ref])


class Blender:
    """Fast repeated blending of fixed models: stacked ``(K, P)`` weights, one preallocated network.

    ``set(coeffs)`` writes ``coeffs @ stack`` into the network's parameters (which are views of one flat
    buffer) in one matmul; ``coeffs`` are convex weights over ``names`` (the models, then ``"theta"`` if
    given). ``render(x)`` stylises with the current blend under ``inference_mode``.
    """

    def __init__(self, models: Mapping[str, object], theta=None):
        if not models:
            raise BlendError("no models to blend")
        self.names = list(models) + (["theta"] if theta is not None else [])
        vectors = [flatten(m) for m in models.values()] + ([flatten(theta)] if theta is not None else [])
        self.stack = torch.stack(vectors)  # (K, P)
        self._stack_t = self.stack.T.contiguous()  # (P, K): a blend is one matrix-vector product
        self.net = TransformerNet().eval().requires_grad_(False)
        self.flat = torch.zeros(self.stack.shape[1])  # (P,) the only parameter storage of self.net
        offset = 0
        for p in self.net.parameters():
            p.data = self.flat[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        self.set([1.0] + [0.0] * (len(self.names) - 1))

    def coefficients(self, weights: Mapping[str, float], s: float = 1.0) -> torch.Tensor:
        """Coefficients over ``names`` for model weights ``weights`` (convex) at style strength ``s``."""
        w = check_weights(list(weights.values()), len(weights))
        if not 0.0 <= s <= 1.0:
            raise BlendError(f"strength must lie in [0, 1], got {s}")
        if s < 1.0 and "theta" not in self.names:
            raise BlendError("a style strength below 1 needs theta")
        coeffs = torch.zeros(len(self.names))
        for name, wk in zip(weights, w):
            if name not in self.names or name == "theta":
                raise BlendError(f"unknown model {name!r}; known: {', '.join(self.names)}")
            coeffs[self.names.index(name)] = wk * s
        if "theta" in self.names:
            coeffs[self.names.index("theta")] += 1.0 - s
        return coeffs

    @torch.no_grad()
    def set(self, coeffs) -> None:
        """Write ``coeffs @ stack`` into the network (one matmul, no allocation)."""
        c = torch.as_tensor(coeffs, dtype=self.stack.dtype)
        if c.shape != (len(self.names),):
            raise BlendError(f"expected {len(self.names)} coefficients, got shape {tuple(c.shape)}")
        torch.mv(self._stack_t, c, out=self.flat)  # (P,) = (P, K) @ (K,), in place: the net's weights

    @torch.inference_mode()
    def render(self, images: torch.Tensor) -> torch.Tensor:
        """Stylise ``images`` ``(B, 3, H, W)`` or ``(3, H, W)`` in [0, 1] with the current blend."""
        from metastyle.method.stylize import stylize

        return stylize(self.net, images)


def resize_max_side(img: torch.Tensor, size: int) -> torch.Tensor:
    """Resize an image ``(3, H, W)`` so its longer side is ``size`` (area/bilinear), keeping the aspect."""
    if img.dim() == 4:
        img = img[0]
    h, w = img.shape[-2:]
    scale = size / max(h, w)
    if size <= 0 or scale == 1:
        return img.float()
    hw = (max(16, round(h * scale)), max(16, round(w * scale)))
    mode = "area" if scale < 1 else "bilinear"
    return torch.nn.functional.interpolate(img[None].float(), size=hw, mode=mode)[0].clamp(0, 1)


def interpolation_strip(model_a, model_b, content: torch.Tensor, *, n: int = 6, size: int = 256) -> dict:
    """Data of the paper's two-style interpolation figure (E.5): ``n`` results, lambda evenly spaced.

    ``lambdas = linspace(0, 1, n)`` is the weight of ``model_b`` (so the first result is pure A and the last
    pure B); the paper shows 6 results between the content and the two styles, spacing presumably even.

    Returns:
        ``{"content": (3, H, W), "lambdas": [n floats], "images": (n, 3, H, W)}``, images in [0, 1].
    """
    if n < 2:
        raise BlendError(f"need at least 2 interpolation steps, got {n}")
    x = resize_max_side(content, size)
    blender = Blender({"a": model_a, "b": model_b})
    lambdas = torch.linspace(0, 1, n).tolist()
    images = []
    for lam in lambdas:
        blender.set(blender.coefficients({"a": 1 - lam, "b": lam}))
        images.append(blender.render(x))
    return {"content": x, "lambdas": lambdas, "images": torch.stack(images)}


def interpolation_figure(model_a, model_b, content: torch.Tensor, *, style_a: torch.Tensor | None = None,
                         style_b: torch.Tensor | None = None, n: int = 6, size: int = 256, names=("A", "B")):
    """The paper-style strip as a matplotlib Figure: content, style A, ``n`` blends, style B.

    Works headless (Agg); save with ``fig.savefig(path)``. Style images are optional (their panels are
    left out when not given).
    """
    import matplotlib.figure

    strip = interpolation_strip(model_a, model_b, content, n=n, size=size)
    panels = [("content", strip["content"])]
    panels += [(f"style {names[0]}", resize_max_side(style_a, size))] if style_a is not None else []
    panels += [(f"λ={lam:.2f}", img) for lam, img in zip(strip["lambdas"], strip["images"])]
    panels += [(f"style {names[1]}", resize_max_side(style_b, size))] if style_b is not None else []
    fig = matplotlib.figure.Figure(figsize=(1.6 * len(panels), 1.9), layout="constrained")
    for ax, (title, img) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        ax.imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    return fig
