"""Image sets: the sources (embedded, examples, COCO, WikiArt folders), the train / validation / test splits
of contents and styles, ``ImageSet`` (decoded once, batched on demand) and the seeded batch draws of
meta-training (``draw``: a pure function of seed, stream and step)."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from metastyle.data.images import find_images, load_image, resize_crop, resize_square
from metastyle.errors import DataError, DataWarning
from metastyle.infra import files

SOURCES = ("embedded", "examples", "coco", "wikiart")
DEFAULT_EMBEDDED_STYLES = 64


# ----------------------------------------------------------------------------------------------- sources
@dataclasses.dataclass(frozen=True)
class Item:
    """One image of a source: a name, and either a file path or an in-memory picture."""

    name: str
    path: Path | None = None
    image: Image.Image | None = dataclasses.field(default=None, compare=False, repr=False)

    def load(self) -> Image.Image:
        return self.image if self.image is not None else load_image(self.path)


def _header_ok(path: Path) -> bool:
    """Cheap check that ``path`` is an image PIL can identify (a full decode happens in ``ImageSet``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.verify()
        return True
    except Exception:  # noqa: BLE001 - any failure means "skip this file", counted and reported
        return False


def warn_skipped(what: str, names: Sequence[str]) -> None:
    """One warning line naming (up to 5 of) the unreadable images that a dataset skips."""
    if names:
        shown = ", ".join(map(str, names[:5])) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        warnings.warn(f"skipped {len(names)} unreadable image(s) in {what}: {shown}", DataWarning, stacklevel=3)


def _folder_items(root: Path) -> list[Item]:
    """The readable images under ``root``; files PIL cannot identify are skipped with one counted warning."""
    items, names, bad = [], set(), []
    for p in find_images(root):
        if not _header_ok(p):
            bad.append(p.name)
            continue
        name = p.stem if p.stem not in names else str(p.relative_to(root if root.is_dir() else p.parent))
        names.add(name)
        items.append(Item(name, p))
    warn_skipped(str(root), bad)
    if not items:
        raise DataError(f"no readable images under {root} ({len(bad)} unreadable)")
    return items


def source_items(source: str, kind: str, data_dir: str | Path = "data", *, n_styles: int = 0,
                 seed: int = 0) -> list[Item]:
    """The images of ``source`` for ``kind`` ("content" or "style")."""
    data_dir = Path(data_dir)
    if source == "embedded":
        from metastyle.data import embedded

        pics = (embedded.content_images() if kind == "content"
                else embedded.style_images(n_styles or DEFAULT_EMBEDDED_STYLES, seed=seed))
        return [Item(name, None, img) for name, img in pics]
    if source == "examples":
        for root in (data_dir / "examples" / kind, data_dir / kind):
            if root.is_dir():
                return _folder_items(root)
        raise DataError(f"example {kind} images not found under {data_dir}/examples/{kind} or "
                        f"{data_dir}/{kind}; run `metastyle data examples --data-dir {data_dir}`")
    if source in ("coco", "wikiart"):
        root = data_dir / source
        if not root.is_dir():
            raise DataError(f"{source} not found at {root}; see `metastyle data {source}` for the recipe")
        return _folder_items(root)
    return _folder_items(Path(source))


# ------------------------------------------------------------------------------------------------ splits
@dataclasses.dataclass(frozen=True)
class Splits:
    """Content train (D_tr, inner loop) / val (D_val, outer loss) / test; styles train / eval (never seen)."""

    content_train: tuple[Item, ...]
    content_val: tuple[Item, ...]
    content_test: tuple[Item, ...]
    style_train: tuple[Item, ...]
    style_eval: tuple[Item, ...]

    def names(self) -> dict[str, list[str]]:
        return {f.name: [i.name for i in getattr(self, f.name)] for f in dataclasses.fields(self)}

    def write_manifest(self, path: str | Path) -> Path:
        """Write the split as JSON (one list of names per part)."""
        return files.write_json(path, self.names())


def _shuffled(items: Sequence[Item], seed: int) -> list[Item]:
    order = torch.randperm(len(items), generator=torch.Generator().manual_seed(seed)).tolist()
    return [items[i] for i in order]


def make_splits(data_cfg, seed: int = 0) -> Splits:
    """Split contents and styles deterministically by ``seed`` as ``data_cfg`` says."""
    contents = source_items(data_cfg.content, "content", data_cfg.data_dir, seed=seed)
    styles = source_items(data_cfg.style, "style", data_cfg.data_dir, n_styles=data_cfg.n_styles, seed=seed)
    contents = _shuffled(contents, seed)[: data_cfg.max_contents or None]
    if data_cfg.eval_style_names:
        by_name = {s.name: s for s in styles}
        missing = [n for n in data_cfg.eval_style_names if n not in by_name]
        if missing:
            raise DataError(f"evaluation style(s) not found in {data_cfg.style}: {', '.join(missing)}")
        style_eval = [by_name[n] for n in data_cfg.eval_style_names]
        style_train = [s for s in _shuffled(styles, seed + 1) if s.name not in data_cfg.eval_style_names]
    else:
        styles = _shuffled(styles, seed + 1)
        style_eval, style_train = styles[: data_cfg.eval_styles], styles[data_cfg.eval_styles:]
    style_train = style_train[: data_cfg.max_styles or None]
    test, rest = contents[: data_cfg.test_contents], contents[data_cfg.test_contents:]
    if data_cfg.split == "train-val":
        n_val = max(1, round(len(rest) * data_cfg.val_fraction))
        val, train = rest[:n_val], rest[n_val:]
    else:  # official code: inner and outer batches drawn independently from one pool
        val = train = rest
    if not train or not style_train:
        raise DataError(f"not enough images to split: {len(contents)} contents, {len(styles)} styles "
                        f"(need training contents and training styles after holding out evaluation ones)")
    return Splits(tuple(train), tuple(val), tuple(test), tuple(style_train), tuple(style_eval))


# ----------------------------------------------------------------------------------------------- batches
class ImageSet:
    """Items decoded and resized once (cached in memory as uint8 when ``cache``), served as float batches.

    With ``cache`` every item is decoded up front and unreadable ones (corrupt, truncated) are dropped with one
    counted ``DataWarning`` (``.skipped`` lists their names), so indices stay a pure function of the readable
    files. Without ``cache`` an item found unreadable at batch time is replaced by the next readable one.
    """

    def __init__(self, items: Sequence[Item], size: int, transform: Callable = resize_crop, cache: bool = True):
        if not items:
            raise DataError("empty image set")
        self.items, self.size, self.transform, self.cache = list(items), size, transform, cache
        self._cache: dict[int, torch.Tensor] = {}
        self.skipped: list[str] = []
        if cache:
            decoded = []
            for item in self.items:
                try:
                    decoded.append((item, self._decode(item)))
                except DataError:
                    self.skipped.append(item.name)
            if not decoded:
                raise DataError(f"none of the {len(self.items)} images could be read (e.g. {self.skipped[0]})")
            self.items = [item for item, _ in decoded]
            self._cache = {i: x for i, (_, x) in enumerate(decoded)}
            warn_skipped("an image set", self.skipped)

    def __len__(self) -> int:
        return len(self.items)

    def names(self) -> list[str]:
        return [i.name for i in self.items]

    def _decode(self, item: Item) -> torch.Tensor:
        x = torch.from_numpy(np.asarray(self.transform(item.load(), self.size), np.uint8).copy())
        return x.permute(2, 0, 1).contiguous()  # (3, S, S) uint8

    def _get(self, i: int) -> torch.Tensor:
        if i in self._cache:
            return self._cache[i]
        for j in (*range(i, len(self.items)), *range(i)):  # uncached: next readable item
            try:
                return self._decode(self.items[j])
            except DataError:
                if self.items[j].name not in self.skipped:
                    self.skipped.append(self.items[j].name)
                    warn_skipped("an image set", [self.items[j].name])
        raise DataError(f"none of the {len(self.items)} images could be read")

    def batch(self, indices: Sequence[int], device=None) -> torch.Tensor:
        """Float batch ``(len(indices), 3, S, S)`` in [0, 1]."""
        return torch.stack([self._get(int(i)) for i in indices]).to(device).float().div_(255.0)

    def all(self, device=None) -> torch.Tensor:
        return self.batch(range(len(self)), device)


def stream_seed(*key: int) -> int:
    """A 63-bit torch seed from the non-negative integers ``key`` through ``numpy.random.SeedSequence``."""
    if any(int(k) < 0 for k in key):
        raise ValueError(f"seed, stream and step must be >= 0, got {key}")
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(1, dtype=np.uint64)
    return int(state[0]) & (2**63 - 1)


def draw(n: int, k: int, seed: int, stream: int, step: int, *, replace: bool = False) -> list[int]:
    """``k`` indices out of ``n``, a pure function of (seed, stream, step); without replacement when k <= n.

    The generator is seeded from ``numpy.random.SeedSequence((seed, stream, step))``, which hashes the tuple:
    distinct tuples give independent streams (a linear mix such as ``seed*a + stream*b + step`` collides,
    e.g. (stream 1, step b) with (stream 2, step 0)).
    """
    g = torch.Generator().manual_seed(stream_seed(seed, stream, step))
    if replace or k > n:
        return torch.randint(n, (k,), generator=g).tolist()
    return torch.randperm(n, generator=g)[:k].tolist()


#: Image sets up to this size are decoded once up front and kept in memory (embedded, examples); larger ones
#: (COCO: ~83k images, ~16 GB as uint8 at 256 px) are decoded lazily per batch.
CACHE_LIMIT = 4096


def style_set(items: Sequence[Item], size: int) -> ImageSet:
    return ImageSet(items, size, resize_square, cache=len(items) <= CACHE_LIMIT)


def content_set(items: Sequence[Item], size: int) -> ImageSet:
    return ImageSet(items, size, resize_crop, cache=len(items) <= CACHE_LIMIT)
