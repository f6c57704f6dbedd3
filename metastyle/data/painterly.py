"""Procedural painterly images: the generators behind ``metastyle.data.embedded.style_images``.

Each family is a function ``(rng, size, palette) -> float32 array (size, size, 3) in [0, 255]``. A palette is
drawn from a harmonious HSV scheme (analogous, complementary, triadic, split-complementary or monochrome),
with one dark and one light colour so that every image has tonal contrast. ``paint(family, rng, size)``
draws the palette, runs the family and adds a paper/canvas grain. Only numpy and OpenCV drawing are used;
an image takes a few milliseconds to a few tens of milliseconds at 256 px.
"""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

__all__ = ["FAMILIES", "palette", "paint"]

_SCHEMES = {
    "analogous": (0.0, 0.07, -0.07, 0.14, -0.14),
    "complementary": (0.0, 0.5, 0.04, 0.54, -0.04),
    "triadic": (0.0, 1 / 3, 2 / 3),
    "split": (0.0, 0.42, 0.58),
    "mono": (0.0,),
}


def palette(rng: np.random.Generator, k: int = 5) -> np.ndarray:
    """Draws ``k`` RGB colours (float32, 0-255) from a random harmonious HSV scheme."""
    offsets = _SCHEMES[list(_SCHEMES)[rng.integers(len(_SCHEMES))]]
    h0 = rng.random()
    cols = []
    for i in range(k):
        h = (h0 + offsets[i % len(offsets)] + rng.normal(0, 0.015)) % 1.0
        v = rng.uniform(*((0.08, 0.35), (0.8, 1.0), (0.3, 1.0))[min(i, 2)])  # one dark, one light
        s = rng.uniform(0.05, 0.35) if i == 1 else rng.uniform(0.3, 0.95)
        cols.append(colorsys.hsv_to_rgb(h, s, v))
    return (np.array(cols, dtype=np.float32) * 255.0)[rng.permutation(k)]


def _noise(rng, size: int, cells: int) -> np.ndarray:
    """Smooth noise in roughly [-1, 1]: a ``cells`` x ``cells`` Gaussian grid, cubically upsampled."""
    grid = rng.standard_normal((max(cells, 2), max(cells, 2))).astype(np.float32)
    return cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC) / 1.5


def _unit(a: np.ndarray) -> np.ndarray:
    """Rescales an array to [0, 1]."""
    return (a - a.min()) / max(float(a.max() - a.min()), 1e-6)


def _gradient(pal: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Maps ``t`` in [0, 1] through the palette, sorted by brightness, as a piecewise-linear colour map."""
    pal = pal[np.argsort(pal.sum(1))]
    xs = np.linspace(0.0, 1.0, len(pal))
    return np.stack([np.interp(t, xs, pal[:, c]) for c in range(3)], -1).astype(np.float32)


def _jitter(rng, col: np.ndarray, amount: float = 18.0) -> tuple:
    return tuple(float(c) for c in np.clip(col + rng.normal(0, amount, 3), 0, 255))


def _strokes(rng, size, pal):
    """Oriented brush strokes following a smooth flow field, over an underpainting."""
    img = np.ascontiguousarray(_gradient(pal, _unit(_noise(rng, size, rng.integers(2, 5)))))
    angle = _noise(rng, size, rng.integers(2, 6)) * np.pi * rng.uniform(0.5, 1.5) + rng.uniform(0, np.pi)
    scale = size / 256
    length, width = rng.uniform(6, 26) * scale, max(1, int(rng.integers(2, 8) * scale))
    n = int(min(3000, 2.2 * size * size / (length * width)))
    pts = np.empty((n, 5, 2), np.float32)
    pts[:, 0] = rng.uniform(0, size - 1, (n, 2))
    for s in range(1, 5):
        p = np.clip(pts[:, s - 1], 0, size - 1).astype(int)
        a = angle[p[:, 1], p[:, 0]]
        pts[:, s] = pts[:, s - 1] + length / 4 * np.stack([np.cos(a), np.sin(a)], -1)
    cols = pal[rng.integers(len(pal), size=n)] + rng.normal(0, 15, (n, 3))
    for line, col in zip(pts.astype(np.int32), np.clip(cols, 0, 255).tolist()):
        cv2.polylines(img, [line], False, col, width, cv2.LINE_AA)
    return img


def _voronoi(rng, size, n):
    """Voronoi labels and the distance to the nearest seed, for ``n`` random seeds."""
    seeds = np.ones((size, size), np.uint8)
    ys, xs = rng.integers(0, size, n), rng.integers(0, size, n)
    seeds[ys, xs] = 0
    dist, labels = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    edges = (labels != np.roll(labels, 1, 0)) | (labels != np.roll(labels, 1, 1))
    return labels, dist, edges.astype(np.uint8)


def _glass(rng, size, pal):
    """Stained glass: Voronoi cells of palette colours, shaded towards their edges, with dark leading."""
    labels, dist, edges = _voronoi(rng, size, int(rng.integers(25, 140) * (size / 256) ** 2) + 4)
    lut = np.clip(pal[rng.integers(len(pal), size=labels.max() + 1)] + rng.normal(0, 20, (labels.max() + 1, 3)), 0, 255)
    img = lut[labels] * (1.0 - 0.35 * _unit(dist)[..., None])
    k = int(rng.integers(2, 6) * size / 256) + 1
    lead = cv2.dilate(edges, np.ones((k, k), np.uint8)).astype(bool)
    img[lead] = pal[np.argmin(pal.sum(1))] * 0.4
    return img.astype(np.float32)


def _craquelure(rng, size, pal):
    """Aged varnish: a smooth tonal ground crossed by a fine network of dark cracks."""
    ground = _gradient(pal, _unit(_noise(rng, size, rng.integers(2, 5)) + 0.3 * _noise(rng, size, 16)))
    _, dist, edges = _voronoi(rng, size, int(rng.integers(150, 700) * (size / 256) ** 2) + 8)
    cracks = cv2.GaussianBlur(edges.astype(np.float32), (3, 3), 0.7) * rng.uniform(0.5, 0.9)
    relief = 1.0 - 0.15 * np.exp(-dist / 3.0)
    varnish = np.array([1.0, 0.93, 0.75], np.float32) ** rng.uniform(0.0, 1.0)
    return ground * varnish * (relief * (1.0 - cracks))[..., None]


def _mondrian(rng, size, pal):
    """A Mondrian-like grid: recursive rectangle splits, a few filled with colour, thick dark lines."""
    rects = [(0, 0, size, size)]
    for _ in range(rng.integers(5, 16)):
        x, y, w, h = rects.pop(int(np.argmax([r[2] * r[3] * rng.uniform(0.5, 1) for r in rects])))
        f = rng.uniform(0.25, 0.75)
        rects += [(x, y, int(w * f), h), (x + int(w * f), y, w - int(w * f), h)] if w >= h else \
                 [(x, y, w, int(h * f)), (x, y + int(h * f), w, h - int(h * f))]
    light, dark = pal[np.argmax(pal.sum(1))], pal[np.argmin(pal.sum(1))]
    img = np.empty((size, size, 3), np.float32)
    thick = max(1, int(rng.integers(2, 7) * size / 256))
    for x, y, w, h in rects:
        img[y:y + h, x:x + w] = _jitter(rng, light if rng.random() < 0.55 else pal[rng.integers(len(pal))], 6)
        cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), tuple(float(c) for c in dark * 0.5), thick)
    return img


def _dots(rng, size, pal):
    """Pointillism: dense dabs of colour sampled from a smooth underlying scene, on a light ground."""
    scene = _gradient(pal, _unit(_noise(rng, size, rng.integers(2, 6)) + 0.5 * _noise(rng, size, 8)))
    img = np.ascontiguousarray(np.broadcast_to(pal[np.argmax(pal.sum(1))], (size, size, 3)), np.float32)
    r = max(1, int(rng.uniform(1.5, 5.5) * size / 256))
    n = int(min(5000, 1.6 * size * size / (r * r * 3.14)))
    xy = rng.integers(0, size, (n, 2))
    cols = np.clip(scene[xy[:, 1], xy[:, 0]] + rng.normal(0, 25, (n, 3)), 0, 255)
    for (x, y), col in zip(xy.tolist(), cols.tolist()):
        cv2.circle(img, (x, y), r, col, -1, cv2.LINE_AA)
    return img


def _waves(rng, size, pal):
    """Swirls and waves: banded sinusoids of warped (linear or polar) coordinates through the palette."""
    y, x = np.mgrid[-1:1:size * 1j, -1:1:size * 1j].astype(np.float32)
    warp = rng.uniform(1, 4) * _noise(rng, size, rng.integers(2, 5))
    if rng.random() < 0.5:
        cx, cy = rng.uniform(-0.6, 0.6, 2)
        r, th = np.hypot(x - cx, y - cy), np.arctan2(y - cy, x - cx)
        phase = rng.uniform(6, 30) * r + rng.integers(1, 6) * th + warp
    else:
        a = rng.uniform(0, np.pi)
        phase = rng.uniform(8, 40) * (x * np.cos(a) + y * np.sin(a)) + warp * 2
    t = 0.5 + 0.5 * np.sin(phase) * 0.8 + 0.2 * _noise(rng, size, 3)
    bands = rng.integers(3, 9)
    return _gradient(pal, np.clip(np.round(t * bands) / bands * 0.6 + t * 0.4, 0, 1))


def _hatching(rng, size, pal):
    """Woodcut hatching: a tonal field rendered as wobbly parallel (and crossed) ink lines on paper."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    tone = _unit(_noise(rng, size, rng.integers(2, 6)) + 0.5 * _noise(rng, size, 7))
    ink, paper = pal[np.argmin(pal.sum(1))], pal[np.argmax(pal.sum(1))]
    period = rng.uniform(3, 9) * max(size / 256, 0.5)
    dark = np.zeros((size, size), np.float32)
    for layer in range(int(rng.integers(1, 4))):
        a = rng.uniform(0, np.pi)
        u = (x * np.cos(a) + y * np.sin(a)) / period + 1.5 * _noise(rng, size, 4)
        stripe = np.abs((u % 1.0) - 0.5) * 2
        dark = np.maximum(dark, (stripe < (tone - 0.25 * layer) * 0.9).astype(np.float32))
    dark = cv2.GaussianBlur(dark, (3, 3), 0.6)[..., None]
    tint = _gradient(pal, tone) * 0.25 + paper * 0.75
    return tint * (1 - dark) + ink * dark


def _watercolour(rng, size, pal):
    """Watercolour: translucent soft-edged washes, glazed multiplicatively, with darkened rims."""
    img = np.ascontiguousarray(np.broadcast_to(pal[np.argmax(pal.sum(1))], (size, size, 3)), np.float32)
    sigma = max(1.0, 6 * size / 256)
    for _ in range(rng.integers(6, 15)):
        blob = np.zeros((size, size), np.float32)
        c = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.uniform(0.08, 0.35, 2) * size)
        cv2.ellipse(blob, c, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), sigma * 2) + 0.35 * _noise(rng, size, 12)
        alpha = cv2.GaussianBlur((blob > 0.5).astype(np.float32), (0, 0), sigma * 0.5)
        rim = np.clip(alpha - cv2.GaussianBlur(alpha, (0, 0), sigma), 0, 1) * 1.5
        glaze = 1 - (alpha * rng.uniform(0.3, 0.8) + rim)[..., None] * (1 - pal[rng.integers(len(pal))] / 255)
        img *= np.clip(glaze, 0, 1)
    return img


FAMILIES = {
    "strokes": _strokes, "glass": _glass, "mondrian": _mondrian, "dots": _dots,
    "waves": _waves, "craquelure": _craquelure, "hatching": _hatching, "watercolour": _watercolour,
}


def paint(family: str, rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """Paints one image of ``family`` with a fresh palette and a grain; returns uint8 (size, size, 3)."""
    img = FAMILIES[family](rng, size, palette(rng))
    grain = rng.normal(0, rng.uniform(2, 7), (size, size, 1)).astype(np.float32)
    weave = rng.uniform(0, 6) * np.sin(np.arange(size, dtype=np.float32) * rng.uniform(1, 3))
    img = img + grain + (weave[None, :, None] + weave[:, None, None]) / 2
    return np.clip(img, 0, 255).astype(np.uint8)
