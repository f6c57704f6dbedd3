"""Where the data come from: the example download and the recipes for the large datasets.

Four sources (see ``data/README.md``):

* ``embedded`` (default): scikit-image's bundled photographs and procedural styles, no download
  (``metastyle.data.embedded``).
* ``examples``: the 11 content photographs and 20 style images of the paper's figures (the classic AdaIN
  test images), fetched by ``download_examples`` from the public naoto0804/pytorch-AdaIN repository.
* ``coco`` and ``wikiart``: MS-COCO train2014 and the Painter by Numbers test set, the paper's training
  data. They are too large to fetch automatically; ``describe`` returns the shell recipe.
"""
from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from metastyle.errors import DataError
from metastyle.infra.claims import make_folder

__all__ = [
    "EXAMPLE_CONTENT", "EXAMPLE_STYLE", "EXAMPLES_BASE_URL", "COCO_RECIPE", "WIKIART_RECIPE",
    "SOURCES", "describe", "download_examples",
]

EXAMPLES_BASE_URL = "https://raw.githubusercontent.com/naoto0804/pytorch-AdaIN/master/input"

EXAMPLE_CONTENT = (
    "avril.jpg", "blonde_girl.jpg", "brad_pitt.jpg", "chicago.jpg", "cornell.jpg", "flowers.jpg",
    "golden_gate.jpg", "lenna.jpg", "modern.jpg", "newyork.jpg", "sailboat.jpg",
)

EXAMPLE_STYLE = (
    "antimonocromatismo.jpg", "asheville.jpg", "brushstrokes.jpg", "contrast_of_forms.jpg",
    "en_campo_gris.jpg", "flower_of_life.jpg", "goeritz.jpg", "impronte_d_artista.jpg", "la_muse.jpg",
    "mondrian.jpg", "mondrian_cropped.jpg", "picasso_seated_nude_hr.jpg", "picasso_self_portrait.jpg",
    "scene_de_rue.jpg", "sketch.png", "the_resevoir_at_poitiers.jpg", "trial.jpg",
    "woman_in_peasant_dress.jpg", "woman_in_peasant_dress_cropped.jpg", "woman_with_hat_matisse.jpg",
)

EMBEDDED_RECIPE = """\
# embedded (default): nothing to download.
# Contents: scikit-image's bundled sample photographs (+ fixed crops), 39 images.
# Styles: procedurally generated painterly images (metastyle.data.embedded.style_images).
metastyle train --data.content embedded --data.style embedded
"""

EXAMPLES_RECIPE = f"""\
# examples: the paper's 11 content photographs and 20 style images (the AdaIN test images),
# from the public repository naoto0804/pytorch-AdaIN (folders input/content and input/style).
metastyle data examples --data-dir data      # -> data/examples/content, data/examples/style
# or, with a local copy holding content/ and style/:
#   --data.data_dir /path/to/folder
# base URL: {EXAMPLES_BASE_URL}
"""

COCO_RECIPE = """\
# coco: MS-COCO train2014 contents (82,783 photographs, ~13 GB download).
mkdir -p data/coco && cd data/coco
curl -L -O http://images.cocodataset.org/zips/train2014.zip
unzip -q train2014.zip          # -> data/coco/train2014/*.jpg
rm train2014.zip
"""

WIKIART_RECIPE = """\
# wikiart: the Painter by Numbers test set (Kaggle, ~23.8k paintings), the paper's "WikiArt test set".
# Needs the kaggle client, an API token in ~/.kaggle/kaggle.json, and the competition rules accepted.
pip install kaggle
mkdir -p data/wikiart && cd data/wikiart
kaggle competitions download -c painter-by-numbers -f test.zip
unzip -q test.zip               # -> data/wikiart/test/*.jpg
rm test.zip
# Some paintings are truncated or larger than PIL's decompression-bomb limit: metastyle's loader skips
# them, with one warning line counting the files skipped (metastyle: warning: skipped N unreadable image(s)
# in ...). To use them, re-encode or downsize them first (e.g. ImageMagick: mogrify -resize 4096x4096\\> *.jpg).
"""

SOURCES = {
    "embedded": EMBEDDED_RECIPE, "examples": EXAMPLES_RECIPE, "coco": COCO_RECIPE, "wikiart": WIKIART_RECIPE,
}


class DownloadError(DataError, RuntimeError):
    """A file of a download could not be fetched (one line; a ``RuntimeError`` too, as before)."""


def describe(source: str) -> str:
    """Returns the recipe text for a data source (``embedded``, ``examples``, ``coco`` or ``wikiart``).

    Raises:
        ValueError: The source is unknown.
    """
    try:
        return SOURCES[source]
    except KeyError:
        raise ValueError(f"unknown data source {source!r}; known: {', '.join(SOURCES)}") from None


def _fetch(url: str, target: Path, timeout: float) -> None:
    """Downloads ``url`` to ``target`` atomically: a temporary file in the same folder, then a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 16):
                out.write(chunk)
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        Path(tmp).unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or reason
        raise DownloadError(f"could not download {url}: {reason} (no network? the files can also be copied into "
                        f"{target.parent})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_examples(dest: Path, *, timeout: float = 30, base_url: str = EXAMPLES_BASE_URL) -> Path:
    """Downloads the paper's example images to ``dest/content`` and ``dest/style``.

    Files already present are skipped; each file is written under a temporary name and renamed when
    complete, so an interrupted run never leaves a partial image behind.

    Args:
        dest: Target folder, e.g. ``data/examples``.
        timeout: Socket timeout per file, in seconds.
        base_url: Folder URL holding ``content/`` and ``style/`` (``file://`` works too).

    Returns:
        ``dest``.

    Raises:
        DownloadError: A file could not be fetched (one line naming its URL), or a file is in the way of a folder.
    """
    dest = Path(dest)
    for sub, names in (("content", EXAMPLE_CONTENT), ("style", EXAMPLE_STYLE)):
        folder = dest / sub
        make_folder(folder, "examples folder")
        for name in names:
            if not (folder / name).is_file():
                _fetch(f"{base_url.rstrip('/')}/{sub}/{name}", folder / name, timeout)
    return dest
