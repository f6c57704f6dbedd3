"""Claim 6's failure-mode stand-ins (metastyle.study.failure_modes): each rule gives both outcomes on crafted
images, a photo and a procedural style at 64 px: a recoloured photo is colour-only transfer, a blurred blob image
has lost the content's edges, saturated patches are odd colours, a warped photo has displaced contours, a
cracked tiling has cracks; a texture-stylised photo shows none of them."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.filters import gaussian
from torch.nn import functional as F

from metastyle.data import embedded
from metastyle.data.images import resize_crop, resize_square, to_tensor
from metastyle.method.context import Objective
from metastyle.method.losses import LossSpec
from metastyle.study import failure_modes as fm

pytestmark = pytest.mark.usefixtures("one_thread")
S = 64


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    blurred = gaussian(x[0].permute(1, 2, 0).numpy(), sigma, channel_axis=-1)
    return torch.from_numpy(blurred).permute(2, 0, 1)[None].float()


@pytest.fixture(scope="module")
def images():
    photos = dict(embedded.content_images()[:4])
    content = to_tensor(resize_crop(photos["astronaut"], S))[None]
    style = to_tensor(resize_square(embedded.style_images(1, seed=0)[0][1], S))[None]
    return content, style


@pytest.fixture(scope="module")
def ctx(random_vgg):
    return Objective(random_vgg, LossSpec())


def recoloured(c):
    return (c * 0.7 + torch.tensor([0.25, 0.05, -0.05]).view(1, 3, 1, 1)).clamp(0, 1)


def textured(c, s):
    """The photo with the style's fine texture (its high frequencies) laid over it: stylised, structure kept."""
    s = F.interpolate(s, size=c.shape[-2:], mode="bilinear", align_corners=False)
    return (c + 1.5 * (s - _blur(s, 2))).clamp(0, 1)


def blobs(c):
    """Blurred photo mixed with smooth random colour blobs, posterised: shapeless colour regions."""
    noise = torch.from_numpy(gaussian(np.random.default_rng(0).random((S, S, 3)), 4, channel_axis=-1))
    noise = (noise - noise.mean()) / noise.std() * 0.2 + 0.5
    return ((0.5 * _blur(c, 4) + 0.5 * noise.permute(2, 0, 1)[None].float()) * 4).round().clamp(0, 4) / 4


def warped(c, amplitude):
    h, w = c.shape[-2:]
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    grid = torch.stack([xx + amplitude * 2 / w * torch.sin(yy * 3.1), yy + amplitude * 2 / h * torch.sin(xx * 2.7)], -1)
    return F.grid_sample(c, grid[None], padding_mode="border", align_corners=True)


def test_colour_only_transfer(images, ctx):
    c, s = images
    assert fm.MODES["colour_only"].shows(fm.colour_only(recoloured(c), c, s, ctx))
    assert not fm.MODES["colour_only"].shows(fm.colour_only(F.interpolate(s, size=(S, S)), c, s, ctx))
    assert not fm.MODES["colour_only"].shows(fm.colour_only(textured(c, s), c, s, ctx))


def test_content_edges_lost(images):
    c, s = images
    mode = fm.MODES["edges_lost"]
    assert mode.shows(fm.edges_kept(blobs(c), c))
    assert not mode.shows(fm.edges_kept(recoloured(c), c)) and not mode.shows(fm.edges_kept(textured(c, s), c))
    assert fm.edges_kept(c, c) == 1.0


def test_odd_colour_patches(images):
    c, s = images
    patched = textured(c, s).clone()
    patched[..., 8:24, 8:24] = torch.tensor([1.0, 0.0, 1.0]).view(1, 3, 1, 1)     # saturated magenta
    patched[..., 40:56, 30:46] = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)    # saturated green
    mode = fm.MODES["odd_colours"]
    assert mode.shows(fm.odd_colours(patched, c, s))
    mixed = 0.5 * c + 0.5 * F.interpolate(s, size=(S, S), mode="bilinear", align_corners=False)
    assert not mode.shows(fm.odd_colours(mixed, c, s)) and fm.odd_colours(c, c, s) == 0.0


def test_contour_warping(images):
    c, s = images
    mode = fm.MODES["contour_warp"]
    assert mode.shows(fm.contour_shift(warped(c, 3.0), c))
    assert not mode.shows(fm.contour_shift(warped(c, 0.5), c))                 # gentle waviness
    assert not mode.shows(fm.contour_shift(textured(c, s), c)) and fm.contour_shift(c, c) == 0.0
    assert fm.contour_shift(F.interpolate(s, size=(S, S)), c) == 0.0            # no edges found: not "warped"


def test_cracks_and_discontinuities(images):
    c, s = _blur(images[0], 1.5), _blur(images[1], 1.5)
    stylised = 0.5 * c + 0.5 * F.interpolate(s, size=(S, S), mode="bilinear", align_corners=False)
    cracked = stylised.clone()
    cracked[..., ::8, :] *= 0.3        # dark seams between 8-px tiles
    cracked[..., :, ::8] *= 0.3
    assert fm.MODES["cracks"].shows(fm.crack_energy(cracked, c, s))
    assert not fm.MODES["cracks"].shows(fm.crack_energy(stylised, c, s))


def test_measure_summary_and_rules(images, ctx):
    c, s = images
    vals = [fm.measure(recoloured(c), c, s, ctx)]
    assert set(vals[0]) == set(fm.MODES) and all(np.isfinite(v) for v in vals[0].values())
    vals.append({**vals[0], "colour_only": 0.0})
    summary = fm.summarise(vals)
    assert summary["colour_only"]["shown"] == 1 and summary["colour_only"]["n"] == 2
    rules = fm.rules()
    assert rules["cracks"]["convincing"] is False and rules["cracks"]["why_not"]
    assert all(r["convincing"] or r["why_not"] for r in rules.values())
    assert rules["colour_only"]["rule"].endswith(f">= {fm.COLOUR_ONLY:g}")
    with pytest.raises(ValueError, match="differ in size"):
        fm.edges_kept(c[..., :32, :32], c)
