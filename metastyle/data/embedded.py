"""The ``embedded`` data source: contents and styles that need no download.

Contents are the sample photographs that ship inside scikit-image's wheel (``skimage/data/``): astronaut,
chelsea, coffee, rocket, the motorcycle stereo pair, the Hubble deep field, a retina fundus, an
immunohistochemistry slide, and the grayscale camera, moon, coins, brick, grass, gravel, page,
clock_motion and cell images (converted to RGB). They are read straight from the package folder with PIL,
so scikit-image's optional ``pooch`` downloader is never involved. Their licences (mostly CC0 or public
domain) are stated in the docstrings of the matching ``skimage.data`` functions; see also
``skimage/data/README.txt``. To have enough distinct contents for a train/val/test split, fixed square
crops of the larger photographs are added (``astronaut_crop1``, ...): 39 contents in all.

Styles are generated procedurally by ``metastyle.data.painterly``: eight painterly families (oriented brush
strokes along a flow field, stained glass, Mondrian-like grids, pointillist dots, swirls and waves,
craquelure, woodcut hatching, watercolour washes), each with a random harmonious palette, random scales
and orientations, and a canvas grain. Style ``i`` depends only on ``(i, seed, size)``.

These are a stand-in for MS-COCO and WikiArt (see ``data/README.md``), good for tests and small CPU runs,
not for reproducing the paper's numbers.
"""
from __future__ import annotations

from importlib import resources

import numpy as np
from PIL import Image

from metastyle.data.painterly import FAMILIES, paint

__all__ = ["CONTENT_FILES", "CROPS", "content_images", "style_images", "style_family"]

#: Bundled scikit-image sample files used as contents, in order (name -> file in ``skimage/data``).
CONTENT_FILES = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "motorcycle_left": "motorcycle_left.png",
    "motorcycle_right": "motorcycle_right.png",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "retina": "retina.jpg",
    "ihc": "ihc.png",
    "camera": "camera.png",
    "moon": "moon.png",
    "coins": "coins.png",
    "brick": "brick.png",
    "grass": "grass.png",
    "gravel": "gravel.png",
    "page": "page.png",
    "clock_motion": "clock_motion.png",
    "cell": "cell.png",
}

#: Number of extra square crops per content (at the fixed anchors ``_ANCHORS``).
CROPS = {
    "astronaut": 2, "chelsea": 1, "coffee": 2, "rocket": 2, "motorcycle_left": 2,
    "hubble_deep_field": 3, "retina": 3, "ihc": 2, "camera": 2, "moon": 1, "coins": 1,
}

# Relative positions (x, y) of the crops inside the free margin of the image.
_ANCHORS = ((0.25, 0.25), (0.75, 0.75), (0.75, 0.25), (0.25, 0.75))
_CROP_FRACTION = 0.5  # crop side as a fraction of the short side
_MIN_SIDE = 128


def _load(filename: str) -> Image.Image:
    """Reads one bundled scikit-image sample file as an RGB image (no download)."""
    path = resources.files("skimage").joinpath("data", filename)
    if not path.is_file():
        raise FileNotFoundError(f"scikit-image sample {filename!r} is not bundled in this installation ({path})")
    with path.open("rb") as fh:
        img = Image.open(fh)
        img.load()
    return img.convert("RGB")


def _crops(name: str, img: Image.Image, count: int) -> list[tuple[str, Image.Image]]:
    """Fixed square crops of ``img`` at the first ``count`` anchors."""
    w, h = img.size
    side = max(_MIN_SIDE, round(_CROP_FRACTION * min(w, h)))
    out = []
    for k, (fx, fy) in enumerate(_ANCHORS[:count], start=1):
        x, y = round(fx * (w - side)), round(fy * (h - side))
        out.append((f"{name}_crop{k}", img.crop((x, y, x + side, y + side))))
    return out


def content_images() -> list[tuple[str, Image.Image]]:
    """Returns the embedded content photographs and their crops.

    Returns:
        ``(name, image)`` pairs in a fixed order: the 18 whole photographs first, then 21 crops.
        All images are RGB with both sides at least 128 pixels.
    """
    whole = [(name, _load(filename)) for name, filename in CONTENT_FILES.items()]
    crops = [c for name, img in whole for c in _crops(name, img, CROPS.get(name, 0))]
    return whole + crops


def style_family(index: int) -> str:
    """Returns the family of style ``index`` (families cycle, so any 8 consecutive styles cover all)."""
    return list(FAMILIES)[index % len(FAMILIES)]


def style_images(n: int = 64, seed: int = 0, size: int = 256) -> list[tuple[str, Image.Image]]:
    """Generates ``n`` procedural painterly style images.

    Args:
        n: Number of styles.
        seed: Seed of the whole set; image ``i`` is drawn from ``numpy.random.default_rng([seed, i])``,
            so it does not depend on ``n`` (``style_images(8)`` is a prefix of ``style_images(64)``).
        size: Side of the square images in pixels.

    Returns:
        ``(name, image)`` pairs named ``style_{i:03d}_{family}``, RGB, ``size`` x ``size``.
    """
    if n < 0 or size < 8:
        raise ValueError(f"need n >= 0 and size >= 8, got n={n}, size={size}")
    out = []
    for i in range(n):
        family = style_family(i)
        pixels = paint(family, np.random.default_rng([seed, i]), size)
        out.append((f"style_{i:03d}_{family}", Image.fromarray(pixels, "RGB")))
    return out
