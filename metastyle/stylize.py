"""Stylisation with a feed-forward model: any image size, batches of files."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch
from torch.nn import functional as F

from .data import load_image, save_image, to_tensor
from .errors import DataError
from .nets import MIN_SIDE, SIZE_MULTIPLE


def _pad_amounts(h: int, w: int) -> tuple[int, int]:
    return (-h) % SIZE_MULTIPLE, (-w) % SIZE_MULTIPLE


@torch.inference_mode()
def stylize(net: torch.nn.Module, images: torch.Tensor, *, max_batch: int = 8) -> torch.Tensor:
    """Stylise ``images`` ``(B, 3, H, W)`` in [0, 1] of any size >= 16 px; returns the same shape.

    Sides that are not multiples of 4 are reflection-padded and the output cropped back.
    """
    if images.dim() == 3:
        return stylize(net, images[None], max_batch=max_batch)[0]
    h, w = images.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise DataError(f"image of {w}x{h} px is smaller than the network's minimum side of {MIN_SIDE} px")
    ph, pw = _pad_amounts(h, w)
    param = next(net.parameters())
    out = []
    for chunk in images.split(max_batch):
        x = chunk.to(param.device, param.dtype)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        out.append(net(x)[..., :h, :w].float().cpu())
    return torch.cat(out)


def stylize_files(net: torch.nn.Module, inputs: Iterable[str | Path], out_dir: str | Path, *,
                  max_side: int = 0, suffix: str = "") -> list[Path]:
    """Stylise each input file into ``out_dir/<stem><suffix>.png``; returns the written paths.

    ``max_side`` > 0 downsizes larger images first (keeping the aspect ratio).
    """
    out_dir = Path(out_dir)
    written = []
    for path in inputs:
        img = load_image(path)
        if max_side and max(img.size) > max_side:
            img.thumbnail((max_side, max_side))
        y = stylize(net, to_tensor(img))
        written.append(save_image(y, out_dir / f"{Path(path).stem}{suffix}.png"))
    return written
