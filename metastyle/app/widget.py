"""Interactive style interpolation in Jupyter: pick 2-4 adapted models, blend them with sliders, redraw live.

Two models: one slider lambda (weight of the second). Three or four: one slider per model, normalised to
sum 1 (barycentric weights; the normalised values are shown under the sliders). A second slider blends
theta <-> the blended model (style strength) when theta is given. Every redraw is one matmul into a
preallocated network (``interpolate.Blender``) plus one forward pass under ``inference_mode``; its wall time
is kept in ``widget.last_redraw_seconds`` (about 0.15-0.2 s at 256 px on 2 CPU cores).

Headless (papermill, plain python) the widget builds and redraws without error; only the display is
missing. For a static figure use ``interpolate.interpolation_figure``.
"""
from __future__ import annotations

import io
import statistics
import time
from typing import Mapping

import ipywidgets as widgets
import numpy as np
import torch
from PIL import Image

from metastyle.method.interpolate import Blender, BlendError, resize_max_side
from metastyle.study.lab.perf import AutoStylizer, compile_note

MIN_MODELS, MAX_MODELS = 2, 4


def to_png(img: torch.Tensor) -> bytes:
    """PNG bytes of an image ``(3, H, W)`` in [0, 1] (fast compression: this runs on every redraw)."""
    arr = (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class InterpolationWidget(widgets.VBox):
    """The widget returned by ``interpolation_widget``; see the module docstring.

    Attributes:
        image: the ``widgets.Image`` redrawn on every change.
        picker: ``SelectMultiple`` of model names (2-4 must be picked).
        sliders: ``{name: FloatSlider}`` of the picked models (one ``"lambda"`` slider for two).
        strength: the theta <-> blend ``FloatSlider`` (disabled when no theta was given).
        last_redraw_seconds: wall time of the latest redraw (blend + forward + PNG encode).
        redraws: number of redraws so far.
    """

    def __init__(self, models: Mapping[str, object], content: torch.Tensor, theta=None, size: int = 256):
        if len(models) < MIN_MODELS:
            raise BlendError(f"need at least {MIN_MODELS} models to interpolate, got {len(models)}")
        self.blender = Blender(models, theta)
        # the fast path where it pays for this size; it reads the blend's in-place weights on every call
        self.blender.net = AutoStylizer(self.blender.net, on_compile=compile_note)
        self.content = resize_max_side(content, size)  # (3, H, W)
        self.model_names = list(models)
        self.last_redraw_seconds = float("nan")
        self.redraws = 0
        self.sliders: dict[str, widgets.FloatSlider] = {}
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{self.content.shape[-1]}px"))
        self.picker = widgets.SelectMultiple(options=self.model_names, value=tuple(self.model_names[:2]),
                                             rows=min(len(models), 6), description="models")
        self.strength = widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="strength",
                                            disabled=theta is None, readout_format=".2f")
        self.weights_label = widgets.Label()
        self.message = widgets.Label()
        self.slider_box = widgets.VBox()
        super().__init__([self.picker, self.slider_box, self.weights_label, self.strength, self.image,
                          self.message])
        self.picker.observe(self._on_pick, names="value")
        self.strength.observe(self._on_change, names="value")
        self._build_sliders(self.picker.value)

    # --------------------------------------------------------------------------------------- controls
    def _build_sliders(self, names) -> None:
        for s in self.sliders.values():
            s.unobserve(self._on_change, names="value")
        if len(names) == 2:
            self.sliders = {"lambda": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05,
                                                          description=f"λ→{names[1]}"[:20], readout_format=".2f")}
        else:
            self.sliders = {n: widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description=n[:20],
                                                   readout_format=".2f") for n in names}
        for s in self.sliders.values():
            # a class for styling and the browser test
            s.add_class("metastyle-lambda" if len(names) == 2 else "metastyle-weight")
            s.observe(self._on_change, names="value")
        self.slider_box.children = tuple(self.sliders.values())
        self.redraw()

    def _on_pick(self, change) -> None:
        names = change["new"]
        if not MIN_MODELS <= len(names) <= MAX_MODELS:
            self.message.value = f"pick {MIN_MODELS} to {MAX_MODELS} models (picked {len(names)})"
            return
        self.message.value = ""
        self._build_sliders(names)

    def _on_change(self, _change) -> None:
        self.redraw()

    def weights(self) -> dict[str, float]:
        """Current convex model weights (the sliders, normalised to sum 1)."""
        names = list(self.picker.value) if MIN_MODELS <= len(self.picker.value) <= MAX_MODELS else []
        if "lambda" in self.sliders:
            lam = self.sliders["lambda"].value
            return {names[0]: 1.0 - lam, names[1]: lam}
        raw = {n: max(0.0, s.value) for n, s in self.sliders.items()}
        total = sum(raw.values())
        return {n: (v / total if total > 0 else 1.0 / len(raw)) for n, v in raw.items()}

    # ----------------------------------------------------------------------------------------- redraw
    def render(self) -> torch.Tensor:
        """The stylised content for the current controls, ``(3, H, W)`` in [0, 1]."""
        s = self.strength.value if not self.strength.disabled else 1.0
        self.blender.set(self.blender.coefficients(self.weights(), s))
        return self.blender.render(self.content)

    def redraw(self) -> float:
        """Blend, stylise, update the image; returns (and stores) the wall time in seconds."""
        t0 = time.perf_counter()
        self.image.value = to_png(self.render())
        self.last_redraw_seconds = time.perf_counter() - t0
        self.redraws += 1
        w = self.weights()
        self.weights_label.value = ("  ".join(f"{n}: {v:.2f}" for n, v in w.items())
                                    + f"   ({self.last_redraw_seconds * 1000:.0f} ms)")
        return self.last_redraw_seconds


def interpolation_widget(models: Mapping[str, object], content: torch.Tensor, theta=None,
                         size: int = 256) -> InterpolationWidget:
    """An ipywidgets UI that blends 2-4 adapted models live (paper E.5 interpolation, interactive).

    Args:
        models: ``{name: TransformerNet | checkpoint path | state dict}`` of models adapted from ``theta``.
        content: Content image ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1]; resized to longer side ``size``.
        theta: The meta-learned init (same forms); enables the style-strength slider.
        size: Longer side of the drawn image in pixels.

    Example:
        >>> w = interpolation_widget({"sketch": "a.pt", "mondrian": "b.pt"}, content, theta="theta.pt")
        >>> w  # in a notebook; w.last_redraw_seconds after moving a slider
    """
    return InterpolationWidget(models, content, theta=theta, size=size)


def benchmark_redraw(widget: InterpolationWidget | None = None, *, size: int = 256, repeats: int = 7,
                     seed: int = 0) -> float:
    """Median seconds of one redraw (blend + forward + PNG) after one warm-up.

    Without ``widget`` builds one from two randomly perturbed networks and a ``size`` px random image.
    """
    if widget is None:
        from metastyle.method.nets import TransformerNet

        g = torch.Generator().manual_seed(seed)
        theta = TransformerNet().state_dict()
        models = {k: {n: v + 0.01 * torch.randn(v.shape, generator=g) for n, v in theta.items()} for k in "ab"}
        widget = interpolation_widget(models, torch.rand(3, size, size, generator=g), theta=theta, size=size)
    widget.redraw()
    times = []
    for i in range(repeats):
        if "lambda" in widget.sliders:
            widget.sliders["lambda"].value = (i + 1) / (repeats + 1)  # triggers a redraw
        else:
            widget.redraw()
        times.append(widget.last_redraw_seconds)
    return statistics.median(times)


def main(argv=None) -> int:
    """``python -m metastyle.app.widget --size 256``: print the median redraw time and what it was measured under.

    docs/interactive.md: run it on an idle machine (check the load average it prints) to get the number the
    docs quote; on a shared machine it measures the contention, not the widget.
    """
    import argparse
    import os

    p = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=256, help="longer side of the redrawn image (default 256)")
    p.add_argument("--repeats", type=int, default=15, help="timed redraws after one warm-up (median reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()
    median = benchmark_redraw(size=args.size, repeats=args.repeats)
    print(f"redraw at {args.size} px: median {median * 1000:.0f} ms over {args.repeats} redraws "
          f"(blend + forward + PNG); torch threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
          f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}, cpu count {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())  # set OMP_WAIT_POLICY in the shell: OpenMP reads it when torch loads

