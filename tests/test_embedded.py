"""Tests of the embedded data source (scikit-image contents, procedural styles) and metastyle.data.sources."""
from __future__ import annotations

import io
import itertools
import urllib.request

import numpy as np
import pytest

from metastyle.data import embedded, sources
from metastyle.data.painterly import FAMILIES


@pytest.fixture(scope="module")
def contents():
    return embedded.content_images()


@pytest.fixture(scope="module")
def styles():
    return embedded.style_images(24, seed=0, size=128)


def test_contents_count_names_and_shape(contents):
    names = [n for n, _ in contents]
    assert len(contents) >= 24
    assert len(set(names)) == len(names)
    for name, img in contents:
        assert img.mode == "RGB", name
        assert min(img.size) >= 128, name


def test_contents_are_deterministic_and_not_blank(contents):
    again = embedded.content_images()
    assert [n for n, _ in again] == [n for n, _ in contents]
    assert np.array_equal(np.asarray(again[-1][1]), np.asarray(contents[-1][1]))
    for name, img in contents:
        assert np.asarray(img, dtype=np.float32).std() > 5, name


def test_contents_need_no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("embedded contents must not download anything")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    assert len(embedded.content_images()) >= 24


def test_styles_names_sizes_and_families(styles):
    assert len(styles) == 24
    for i, (name, img) in enumerate(styles):
        assert name == f"style_{i:03d}_{embedded.style_family(i)}"
        assert img.mode == "RGB" and img.size == (128, 128)
    assert {n.split("_", 2)[2] for n, _ in styles} == set(FAMILIES)
    assert len(FAMILIES) >= 6


def test_styles_deterministic_and_prefix(styles):
    again = embedded.style_images(8, seed=0, size=128)
    for (n1, a), (n2, b) in zip(again, styles):
        assert n1 == n2 and a.tobytes() == b.tobytes()
    other = embedded.style_images(8, seed=1, size=128)
    assert all(a.tobytes() != b.tobytes() for (_, a), (_, b) in zip(other, again))


def test_styles_textured_and_pairwise_different(styles):
    arrays = [np.asarray(img, dtype=np.float32) for _, img in styles]
    for (name, _), a in zip(styles, arrays):
        assert a.reshape(-1, 3).std(0).min() > 4, name
    for (i, a), (j, b) in itertools.combinations(enumerate(arrays), 2):
        assert np.abs(a - b).mean() > 10, (styles[i][0], styles[j][0])


def test_styles_other_sizes_and_bad_arguments():
    (_, small), = embedded.style_images(1, size=32)
    assert small.size == (32, 32)
    assert embedded.style_images(0) == []
    with pytest.raises(ValueError):
        embedded.style_images(2, size=4)


# --- metastyle.data.sources ------------------------------------------------------------------------------

@pytest.fixture()
def mirror(tmp_path):
    """A local folder laid out like the examples repository, and its ``file://`` base URL."""
    root = tmp_path / "mirror"
    for sub, names in (("content", sources.EXAMPLE_CONTENT), ("style", sources.EXAMPLE_STYLE)):
        (root / sub).mkdir(parents=True)
        for name in names:
            (root / sub / name).write_bytes(f"{sub}/{name}".encode())
    return root, root.as_uri()


def test_example_names_match_the_paper():
    assert len(sources.EXAMPLE_CONTENT) == 11 and len(sources.EXAMPLE_STYLE) == 20
    assert sources.EXAMPLES_BASE_URL.startswith("https://raw.githubusercontent.com/naoto0804/pytorch-AdaIN/")


def test_download_examples_from_file_url(mirror, tmp_path):
    _, base = mirror
    dest = sources.download_examples(tmp_path / "examples", base_url=base)
    assert sorted(p.name for p in (dest / "content").iterdir()) == sorted(sources.EXAMPLE_CONTENT)
    assert sorted(p.name for p in (dest / "style").iterdir()) == sorted(sources.EXAMPLE_STYLE)
    assert (dest / "style" / "sketch.png").read_bytes() == b"style/sketch.png"


def test_download_examples_skips_existing(mirror, tmp_path, monkeypatch):
    _, base = mirror
    dest = tmp_path / "examples"
    (dest / "content").mkdir(parents=True)
    (dest / "content" / "lenna.jpg").write_bytes(b"mine")
    fetched = []
    real = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, **kw: fetched.append(url) or real(url, **kw))
    sources.download_examples(dest, base_url=base)
    assert (dest / "content" / "lenna.jpg").read_bytes() == b"mine"
    assert len(fetched) == 30 and not any(u.endswith("/lenna.jpg") for u in fetched)
    fetched.clear()
    sources.download_examples(dest, base_url=base)
    assert fetched == []


def test_download_examples_missing_file_is_one_clear_error(mirror, tmp_path):
    root, base = mirror
    (root / "style" / "trial.jpg").unlink()
    with pytest.raises(RuntimeError, match=r"could not download .*/style/trial\.jpg") as info:
        sources.download_examples(tmp_path / "examples", base_url=base)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "examples" / "style" / "trial.jpg").exists()
    assert not list((tmp_path / "examples").rglob("*.part"))


def test_download_is_atomic_when_interrupted(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell():
                raise ConnectionResetError("connection reset")
            return super().read(4)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, **kw: Broken(b"partial data"))
    with pytest.raises(RuntimeError, match="could not download https://"):
        sources.download_examples(tmp_path / "ex")
    assert [p for p in (tmp_path / "ex").rglob("*") if p.is_file()] == []


def test_describe_recipes():
    assert "images.cocodataset.org" in sources.describe("coco")
    assert "kaggle competitions download -c painter-by-numbers -f test.zip" in sources.describe("wikiart")
    assert "metastyle data examples" in sources.describe("examples")
    assert sources.describe("coco") is sources.COCO_RECIPE
    with pytest.raises(ValueError, match="unknown data source"):
        sources.describe("imagenet")


def test_modules_have_docs_and_exports():
    for mod in (embedded, sources):
        assert mod.__doc__ and mod.__all__
        for name in mod.__all__:
            assert hasattr(mod, name), name
