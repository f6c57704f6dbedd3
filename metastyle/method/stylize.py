"""Stylisation with a feed-forward model: any image size, batches of files."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable

import torch
from PIL import Image
from torch.nn import functional as F

from metastyle.data.images import load_image, save_image, to_tensor
from metastyle.errors import DataError
from metastyle.method.nets import MIN_SIDE, SIZE_MULTIPLE


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


def output_paths(inputs: Iterable[str | Path], out_dir: str | Path, *, suffix: str = "",
                 overwrite: bool = True) -> list[Path]:
    """``out_dir/<stem><suffix>.png`` per input. Refuses two inputs with one output name, an output that would
    replace an input, and (unless ``overwrite``) an output that already exists: nothing is lost silently."""
    out_dir, inputs = Path(out_dir), [Path(p) for p in inputs]
    sources = {p.resolve(): p for p in inputs}
    taken: dict[Path, Path] = {}
    for path in inputs:
        out = out_dir / f"{path.stem}{suffix}.png"
        if out in taken:
            raise DataError(f"{taken[out]} and {path} would both be written to {out}; stylize them into "
                            f"separate folders")
        if out.resolve() in sources:
            raise DataError(f"output {out} would replace the input image {sources[out.resolve()]}; "
                            f"choose another output folder")
        taken[out] = path
    existing = [o for o in taken if o.exists()]
    if existing and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise DataError(f"output {existing[0]} already exists{more}; pass --overwrite to replace")
    return list(taken)


def _load_sized(path: Path, max_side: int) -> Image.Image:
    """The image, downsized to ``max_side`` if larger; too small for the network is an error naming it."""
    img = load_image(path)
    w, h = img.size
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side))
    if min(img.size) < MIN_SIDE:
        shrunk = f" ({img.width}x{img.height} after --max-side {max_side})" if img.size != (w, h) else ""
        raise DataError(f"{path}: image of {w}x{h} px{shrunk} is smaller than the network's minimum side of "
                        f"{MIN_SIDE} px")
    return img


def check_fits(path: Path, size: tuple[int, int], device: torch.device) -> None:
    """Refuse, before allocating, an image too large to stylise in the device's available memory, naming the
    largest ``--max-side`` that fits (``context.INFER_BYTES_PER_PIXEL``, a lower bound)."""
    from metastyle.infra.runtime import available_memory
    from metastyle.method.context import INFER_BYTES_PER_PIXEL

    w, h = size
    pixels = (w + (-w) % SIZE_MULTIPLE) * (h + (-h) % SIZE_MULTIPLE)
    have = available_memory(device)
    if have is None or pixels * INFER_BYTES_PER_PIXEL <= have:
        return
    side = int(max(w, h) * math.sqrt(have / INFER_BYTES_PER_PIXEL / pixels)) // SIZE_MULTIPLE * SIZE_MULTIPLE
    fix = (f"pass --max-side {side} (the largest that fits)" if side >= MIN_SIDE else
           "free memory or use another device")
    raise DataError(f"{path}: image of {w}x{h} px needs at least {pixels * INFER_BYTES_PER_PIXEL / 2**30:.3g} GiB "
                    f"to stylise, but {device} has {have / 2**30:.3g} GiB available; {fix}")


def stylize_files(net: torch.nn.Module, inputs: Iterable[str | Path], out_dir: str | Path, *,
                  max_side: int = 0, suffix: str = "", overwrite: bool = True,
                  on_written: Callable[[Path], None] | None = None) -> list[Path]:
    """Stylise each input file into ``out_dir/<stem><suffix>.png``; returns the written paths.

    ``max_side`` > 0 downsizes larger images first (keeping the aspect ratio). Name clashes are refused up
    front (``output_paths``); ``on_written(path)`` runs after each file, so a later failure does not hide
    what was already written.
    """
    inputs = [Path(p) for p in inputs]
    written = []
    for path, out in zip(inputs, output_paths(inputs, out_dir, suffix=suffix, overwrite=overwrite)):
        img = _load_sized(path, max_side)
        check_fits(path, img.size, next(net.parameters()).device)
        y = stylize(net, to_tensor(img))
        written.append(save_image(y, out))
        if on_written is not None:
            on_written(out)
    return written
