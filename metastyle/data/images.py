"""Images in, tensors out: discovery, robust loading (EXIF rotation, modes, decompression bombs), the
official resize/crop (contents) and square resize (styles), and atomic PNG/JPEG writes. Images are float
tensors ``(3, H, W)`` or ``(B, 3, H, W)`` in [0, 1]."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from metastyle.errors import DataError
from metastyle.infra.files import atomic_path

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


# ----------------------------------------------------------------------------------------------- loading
def find_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive, sorted); a single image file is returned as itself."""
    root = Path(root).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"no such file or folder: {root}")
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not found:
        raise DataError(f"no images ({', '.join(IMAGE_EXTS)}) found under {root}")
    return found


def _to_8bit(img: Image.Image) -> Image.Image:
    """High-bit-depth single-channel modes (16-bit PNG, 32-bit int/float) scaled to 8 bits, not clipped: [0, 1]
    (float), [0, 255] or [0, 65535] as such; values outside those (negative floats, say) scaled from their own
    minimum to maximum. NaN or infinite pixels are an error (``ValueError``), never black."""
    arr = np.asarray(img, dtype=np.float64)
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise ValueError(f"{bad} of its {arr.size} pixels are NaN or infinite")
    lo, hi = 0.0, (65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0)
    if img.mode == "F" and arr.max() <= 1.0:
        hi = 1.0
    if arr.min() < 0 or arr.max() > hi:
        lo, hi = float(arr.min()), float(arr.max())
    return Image.fromarray(np.clip((arr - lo) / max(hi - lo, 1e-12) * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL image as 8-bit RGB: EXIF rotation applied, alpha composited on white, CMYK/palette converted."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        img = _to_8bit(img)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def load_image(path: str | Path) -> Image.Image:
    """Decode ``path`` fully into an RGB image, or raise ``DataError`` with one line saying why."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such image file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DataError(f"image too large to decode safely: {path} ({err})") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise DataError(f"cannot read image {path}: {err}") from None


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB -> float tensor ``(3, H, W)`` in [0, 1]."""
    arr = np.asarray(img, dtype=np.uint8).copy()
    return torch.from_numpy(arr).permute(2, 0, 1).float().div(255.0)


def to_pil(x: torch.Tensor) -> Image.Image:
    """Float tensor ``(3, H, W)`` or ``(1, 3, H, W)`` in [0, 1] -> PIL RGB."""
    x = x.detach().float().cpu().clamp(0, 1)
    x = x[0] if x.dim() == 4 else x
    return Image.fromarray((x.permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8))


def resize_crop(img: Image.Image, size: int) -> Image.Image:
    """Official content transform: resize the short side to ``size``, then centre-crop a square."""
    w, h = img.size
    scale = size / min(w, h)
    img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def resize_square(img: Image.Image, size: int) -> Image.Image:
    """Official style transform: ``Resize((S, S))``, aspect ratio ignored."""
    return img.resize((size, size), Image.BICUBIC)


def save_image(x: torch.Tensor | Image.Image, path: str | Path) -> Path:
    """Write an image atomically (temporary name, then rename); the folder must exist and be writable."""
    path = Path(path)
    with atomic_path(path) as tmp:
        write_image(x, tmp, like=path)
    return path


def write_image(x: torch.Tensor | Image.Image, tmp: str | Path, *, like: str | Path) -> None:
    """Encode an image into ``tmp`` (a temporary file) in the format ``like``'s suffix names (PNG if none)."""
    img = x if isinstance(x, Image.Image) else to_pil(x)
    img.save(tmp, format=Image.registered_extensions().get(Path(like).suffix.lower(), "PNG"))
